/**
 * How symbols map back to weights. Every quantizer reports one of three
 * reconstruction forms, so a decoder (the .subbit reader) can rebuild Ŵ from
 * symbols + stored metadata alone:
 *   scaled     Ŵ = s_g · unit · (symbol − center)        (rtn_sym, sign, ternary, sparse)
 *   min_plus   Ŵ = zero_g + symbol · s_g                 (rtn_asym: zero = group min)
 *   zero_point Ŵ = (symbol − zero_g) · s_g               (hqq)
 */
import type { GroupLayout } from "./groups.ts";
import type { Quantized, QuantMeta } from "./types.ts";

export type Reconstruction =
  | { kind: "scaled"; center: number; unit: number }
  | { kind: "min_plus" }
  | { kind: "zero_point" };

export function dequantizeSymbols(
  symbols: Uint8Array,
  meta: Pick<QuantMeta, "scales" | "zeros">,
  rec: Reconstruction,
  layout: GroupLayout,
): Float32Array {
  const out = new Float32Array(symbols.length);
  const { starts, ends, count } = layout;
  const S = meta.scales, Z = meta.zeros;
  for (let g = 0; g < count; g++) {
    const a = starts[g], b = ends[g];
    if (rec.kind === "scaled") {
      const s = S[g] * rec.unit, c = rec.center;
      for (let i = a; i < b; i++) out[i] = s * (symbols[i] - c);
    } else if (rec.kind === "min_plus") {
      const s = S[g] > 0 ? S[g] : 0, m = Z![g];
      for (let i = a; i < b; i++) out[i] = m + symbols[i] * s;
    } else {
      const s = S[g], z = Z![g];
      for (let i = a; i < b; i++) out[i] = (symbols[i] - z) * s;
    }
  }
  return out;
}

/** Assemble a Quantized whose dequantize() goes through dequantizeSymbols. */
export function makeQuantized(
  symbols: Uint8Array,
  levels: number,
  meta: QuantMeta,
  reconstruction: Reconstruction,
  layout: GroupLayout,
): Quantized {
  return {
    symbols,
    levels,
    meta,
    reconstruction,
    dequantize: () => dequantizeSymbols(symbols, meta, reconstruction, layout),
  };
}
