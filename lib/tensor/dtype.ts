/** Scalar dtype conversions (IEEE binary16, bfloat16, fp8 e4m3) to and from f32. */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits → number. */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** number → binary16 bits, round to nearest even, overflow to ±Inf. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // underflows to ±0
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rem = mant & ((1 << shift) - 1);
    let r = mant >>> shift;
    if (rem > half || (rem === half && (r & 1))) r++;
    return sign | r; // may round up into the smallest normal: still correct bits
  }
  let r = mant >>> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1))) {
    r++;
    if (r === 0x400) {
      r = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | r;
}

/** bfloat16 bits → number (the top half of an f32). */
export function bf16BitsToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

/** number → bfloat16 bits, round to nearest even. */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff)) return (b >>> 16) | 0x40;
  const r = b + 0x7fff + ((b >>> 16) & 1);
  return (r >>> 16) & 0xffff;
}

/** fp8 e4m3 (OCP "FN": bias 7, no Inf, max 448, NaN = 0x7f) bits → number. */
export function e4m3BitsToF32(v: number): number {
  const sign = v & 0x80 ? -1 : 1;
  const exp = (v >> 3) & 0xf;
  const frac = v & 7;
  if (exp === 15 && frac === 7) return NaN;
  if (exp === 0) return sign * frac * 2 ** -9;
  return sign * (1 + frac / 8) * 2 ** (exp - 7);
}

/** number → fp8 e4m3 bits, round to nearest even, saturating at ±448. */
export function f32ToE4m3Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7f;
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.abs(x);
  if (a >= 448) return sign | 0x7e;
  // Enumerate is cheap (127 magnitudes) but this is on the metadata path only;
  // use exact arithmetic: find exponent, then round the 3-bit mantissa.
  let e = Math.floor(Math.log2(a));
  if (!Number.isFinite(e) || e < -6) e = -6; // subnormal range shares 2^-6 scale
  if (2 ** e > a && e > -6) e--; // guard log2 rounding
  if (2 ** (e + 1) <= a) e++;
  const step = 2 ** (e - 3);
  let q = a / step; // in [8,16) for normals, [0,8) for subnormals
  const fl = Math.floor(q);
  const rem = q - fl;
  q = rem > 0.5 || (rem === 0.5 && (fl & 1)) ? fl + 1 : fl;
  if (q >= 16) {
    q = 8;
    e++;
  }
  if (q < 8) return sign | q; // subnormal (e === -6)
  const bits = ((e + 7) << 3) | (q - 8);
  return sign | Math.min(bits, 0x7e);
}

/** Round x to the nearest value representable as binary16. */
export function roundToF16(x: number): number {
  return f16BitsToF32(f32ToF16Bits(x));
}
/** Round x to the nearest value representable as bfloat16. */
export function roundToBf16(x: number): number {
  return bf16BitsToF32(f32ToBf16Bits(x));
}
/** Round x to the nearest value representable as fp8 e4m3 (saturating). */
export function roundToE4m3(x: number): number {
  return e4m3BitsToF32(f32ToE4m3Bits(x));
}
