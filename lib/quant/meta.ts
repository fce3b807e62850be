/**
 * How per-group scales and zeros are stored, and what that costs in bits.
 * Values are rounded to the storage format before weights are assigned, so
 * errors reflect what a decoder would actually see.
 */
import { InputError } from "../errors.ts";
import { roundToBf16, roundToE4m3, roundToF16 } from "../tensor/dtype.ts";
import type { ScaleDtype } from "./types.ts";

export const SCALE_DTYPES: readonly ScaleDtype[] = ["f16", "bf16", "fp8_e4m3", "q8g128"];
/** q8g128: 8-bit codes in groups of 128, each group with an f16 scale and f16 min. */
export const Q8_GROUP = 128;
/** fp8_e4m3 carries one f32 factor per tensor (32 bits) besides its 8-bit codes. */

export function validateScaleDtype(d: string): asserts d is ScaleDtype {
  if (!SCALE_DTYPES.includes(d as ScaleDtype)) {
    throw new InputError(`unknown scale dtype '${d}' (one of ${SCALE_DTYPES.join(", ")})`);
  }
}

/**
 * Round metadata values to their stored form; returns the stored values and
 * their exact size in bits. `what` names the tensor in errors (a value the
 * format cannot hold, e.g. a scale above f16's 65504, is an InputError).
 */
export function storeMeta(
  values: Float32Array,
  dtype: ScaleDtype,
  what: string,
): { stored: Float32Array; bits: number } {
  const out = storeRounded(values, dtype);
  for (let i = 0; i < out.stored.length; i++) {
    if (!Number.isFinite(out.stored[i])) {
      throw new InputError(
        `tensor ${what}: metadata value ${values[i]} does not fit ${dtype} (try --scale-dtypes bf16)`,
      );
    }
  }
  return out;
}

function storeRounded(values: Float32Array, dtype: ScaleDtype): { stored: Float32Array; bits: number } {
  const n = values.length;
  const stored = new Float32Array(n);
  switch (dtype) {
    case "f16":
      for (let i = 0; i < n; i++) stored[i] = roundToF16(values[i]);
      return { stored, bits: 16 * n };
    case "bf16":
      for (let i = 0; i < n; i++) stored[i] = roundToBf16(values[i]);
      return { stored, bits: 16 * n };
    case "fp8_e4m3": {
      // e4m3 spans only 2^-9..448, so (as fp8 deployments do) one f32 factor per
      // tensor maps max|v| to 448: stored = f · e4m3(v / f), f = max|v| / 448.
      let amax = 0;
      for (let i = 0; i < n; i++) amax = Math.max(amax, Math.abs(values[i]));
      const f = Math.fround(amax / 448);
      for (let i = 0; i < n; i++) stored[i] = f > 0 ? f * roundToE4m3(values[i] / f) : 0;
      return { stored, bits: 8 * n + 32 };
    }
    case "q8g128": {
      // Asymmetric 8-bit: code = round((v - min) / s), s = (max - min) / 255, s and min in f16.
      const groups = Math.ceil(n / Q8_GROUP);
      for (let g = 0; g < groups; g++) {
        const a = g * Q8_GROUP, b = Math.min(n, a + Q8_GROUP);
        let mn = Infinity, mx = -Infinity;
        for (let i = a; i < b; i++) {
          if (values[i] < mn) mn = values[i];
          if (values[i] > mx) mx = values[i];
        }
        const m = roundToF16(mn);
        const s = roundToF16((mx - m) / 255);
        for (let i = a; i < b; i++) {
          const code = s > 0 ? Math.min(255, Math.max(0, Math.round((values[i] - m) / s))) : 0;
          stored[i] = m + code * s;
        }
      }
      return { stored, bits: 8 * n + 32 * groups };
    }
  }
}
