/**
 * BitNet b1.58 ternary absmean (Ma et al. 2024, eq. 1–3):
 *   γ = mean|W| over the group,  W̃ = RoundClip(W / (γ + ε), −1, 1),  Ŵ = γ·W̃
 * Symbols are W̃ + 1 ∈ {0, 1, 2}; γ is stored in the scale dtype and the
 * stored value is used for assignment and reconstruction.
 */
import { assertFinite, groupAbsMean, groupLayout, roundHalfAway } from "./groups.ts";
import { storeMeta } from "./meta.ts";
import { validateGrouping } from "./validate.ts";
import { makeQuantized } from "./dequant.ts";
import type { QuantConfig, Quantized, Quantizer, WeightMatrix } from "./types.ts";

export const ABSMEAN_EPS = 1e-8;

export const ternaryAbsmean: Quantizer = {
  id: "ternary_absmean",
  axes: [],
  validate: validateGrouping,
  quantize(w: WeightMatrix, c: QuantConfig): Quantized {
    assertFinite(w);
    const layout = groupLayout(w.rows, w.cols, c.groupSize);
    const { starts, ends, count } = layout;
    const d = w.data;
    const raw = groupAbsMean(d, layout);
    const sm = storeMeta(raw, c.scaleDtype, w.name);
    const symbols = new Uint8Array(d.length);
    for (let g = 0; g < count; g++) {
      const inv = 1 / (sm.stored[g] + ABSMEAN_EPS);
      for (let i = starts[g]; i < ends[g]; i++) {
        const q = roundHalfAway(d[i] * inv);
        symbols[i] = (q < -1 ? -1 : q > 1 ? 1 : q) + 1;
      }
    }
    return makeQuantized(symbols, 3, { scales: sm.stored, metaBits: sm.bits, scaleBytes: sm.bytes }, {
      kind: "scaled",
      center: 1,
      unit: 1,
    }, layout);
  },
};
