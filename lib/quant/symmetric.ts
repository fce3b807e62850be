/**
 * Shared shape of the scale-only methods (rtn_sym, sign, ternary_absmean,
 * sparse_klevel): symbols index a symmetric integer grid centred at `center`,
 * one stored scale per group, Ŵ = s_g · unit · (symbol − center).
 * Two-level {−s, +s} grids use center ½ and unit 2.
 */
import type { GroupLayout } from "./groups.ts";
import type { Quantized } from "./types.ts";

export function symmetricQuantized(
  symbols: Uint8Array,
  levels: number,
  center: number,
  scales: Float32Array,
  metaBits: number,
  layout: GroupLayout,
  unit = 1,
): Quantized {
  return {
    symbols,
    levels,
    meta: { scales, metaBits },
    dequantize(): Float32Array {
      const out = new Float32Array(symbols.length);
      const { starts, ends, count } = layout;
      for (let g = 0; g < count; g++) {
        const s = scales[g] * unit;
        for (let i = starts[g]; i < ends[g]; i++) out[i] = s * (symbols[i] - center);
      }
      return out;
    },
  };
}
