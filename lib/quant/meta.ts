/**
 * How per-group scales and zeros are stored, and what that costs in bits.
 * Values are rounded to the storage format before weights are assigned, so
 * errors reflect what a decoder would actually see.
 */
import { InputError } from "../errors.ts";
import {
  bf16BitsToF32,
  e4m3BitsToF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToE4m3Bits,
  f32ToF16Bits,
  roundToF16,
} from "../tensor/dtype.ts";
import type { ScaleDtype } from "./types.ts";

export const SCALE_DTYPES: readonly ScaleDtype[] = ["f16", "bf16", "fp8_e4m3", "q8g128"];
/** q8g128: 8-bit codes in groups of 128, each group with an f16 scale and f16 min. */
export const Q8_GROUP = 128;

export function validateScaleDtype(d: string): asserts d is ScaleDtype {
  if (!SCALE_DTYPES.includes(d as ScaleDtype)) {
    throw new InputError(`unknown scale dtype '${d}' (one of ${SCALE_DTYPES.join(", ")})`);
  }
}

export interface StoredMeta {
  /** The values as a decoder sees them (rounded to the storage format). */
  stored: Float32Array;
  /** Exact stored size in bits (= bytes.length × 8). */
  bits: number;
  /**
   * The serialised form, little endian: f16/bf16 2 bytes a value; fp8_e4m3 an
   * f32 tensor factor then 1 byte a value; q8g128 per group of 128 an f16 min,
   * an f16 step, then 1 byte a value.
   */
  bytes: Uint8Array;
}

/**
 * Round metadata values to their stored form. `what` names the tensor in
 * errors (a value the format cannot hold, e.g. a scale above f16's 65504, is
 * an InputError).
 */
export function storeMeta(values: Float32Array, dtype: ScaleDtype, what: string): StoredMeta {
  const n = values.length;
  const bytes = new Uint8Array(metaByteLength(n, dtype));
  const dv = new DataView(bytes.buffer);
  switch (dtype) {
    case "f16":
    case "bf16":
      for (let i = 0; i < n; i++) {
        dv.setUint16(2 * i, dtype === "f16" ? f32ToF16Bits(values[i]) : f32ToBf16Bits(values[i]), true);
      }
      break;
    case "fp8_e4m3": {
      // e4m3 spans only 2^-9..448, so (as fp8 deployments do) one f32 factor per
      // tensor maps max|v| to 448: stored = f · e4m3(v / f), f = max|v| / 448.
      let amax = 0;
      for (let i = 0; i < n; i++) amax = Math.max(amax, Math.abs(values[i]));
      const f = Math.fround(amax / 448);
      dv.setFloat32(0, f, true);
      for (let i = 0; i < n; i++) bytes[4 + i] = f > 0 ? f32ToE4m3Bits(values[i] / f) : 0;
      break;
    }
    case "q8g128": {
      // Asymmetric 8-bit: code = round((v − min) / s), s = (max − min) / 255, min and s in f16.
      let p = 0;
      for (let a = 0; a < n; a += Q8_GROUP) {
        const b = Math.min(n, a + Q8_GROUP);
        let mn = Infinity, mx = -Infinity;
        for (let i = a; i < b; i++) {
          mn = Math.min(mn, values[i]);
          mx = Math.max(mx, values[i]);
        }
        const m = roundToF16(mn), s = roundToF16((mx - m) / 255);
        dv.setUint16(p, f32ToF16Bits(m), true);
        dv.setUint16(p + 2, f32ToF16Bits(s), true);
        p += 4;
        for (let i = a; i < b; i++) {
          bytes[p++] = s > 0 ? Math.min(255, Math.max(0, Math.round((values[i] - m) / s))) : 0;
        }
      }
      break;
    }
  }
  const stored = metaFromBytes(bytes, n, dtype, what);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(stored[i])) {
      throw new InputError(
        `tensor ${what}: metadata value ${values[i]} does not fit ${dtype} (try --scale-dtypes bf16)`,
      );
    }
  }
  return { stored, bits: 8 * bytes.length, bytes };
}

/** Parse serialised metadata (StoredMeta.bytes) back into the `n` stored values, bit-identical. */
export function metaFromBytes(bytes: Uint8Array, n: number, dtype: ScaleDtype, what: string): Float32Array {
  const want = metaByteLength(n, dtype);
  if (bytes.length !== want) {
    throw new InputError(`${what}: metadata is ${bytes.length} bytes, expected ${want} for ${n} ${dtype} values`);
  }
  const out = new Float32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "f16":
      for (let i = 0; i < n; i++) out[i] = f16BitsToF32(dv.getUint16(2 * i, true));
      return out;
    case "bf16":
      for (let i = 0; i < n; i++) out[i] = bf16BitsToF32(dv.getUint16(2 * i, true));
      return out;
    case "fp8_e4m3": {
      const f = dv.getFloat32(0, true);
      for (let i = 0; i < n; i++) out[i] = f > 0 ? f * e4m3BitsToF32(bytes[4 + i]) : 0;
      return out;
    }
    case "q8g128": {
      let p = 0;
      for (let a = 0; a < n; a += Q8_GROUP) {
        const m = f16BitsToF32(dv.getUint16(p, true)), s = f16BitsToF32(dv.getUint16(p + 2, true));
        p += 4;
        for (let i = a; i < Math.min(n, a + Q8_GROUP); i++) out[i] = m + bytes[p++] * s;
      }
      return out;
    }
  }
}

/** Serialised size in bytes of n metadata values. */
export function metaByteLength(n: number, dtype: ScaleDtype): number {
  return dtype === "f16" || dtype === "bf16" ? 2 * n : dtype === "fp8_e4m3" ? 4 + n : n + 4 * Math.ceil(n / Q8_GROUP);
}
