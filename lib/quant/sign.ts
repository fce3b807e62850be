/**
 * Binary sign with a per-group scale: Ŵ = s·sign(W), s = mean|W| over the
 * group (the least-squares optimal scale for a fixed sign pattern). sign(0) = +1.
 */
import { assertFinite, groupAbsMean, groupLayout } from "./groups.ts";
import { storeMeta } from "./meta.ts";
import { validateGrouping } from "./validate.ts";
import { makeQuantized } from "./dequant.ts";
import type { QuantConfig, Quantized, Quantizer, WeightMatrix } from "./types.ts";

export const sign: Quantizer = {
  id: "sign",
  axes: [],
  validate: validateGrouping,
  quantize(w: WeightMatrix, c: QuantConfig): Quantized {
    assertFinite(w);
    const layout = groupLayout(w.rows, w.cols, c.groupSize);
    const d = w.data;
    const raw = groupAbsMean(d, layout);
    const sm = storeMeta(raw, c.scaleDtype, w.name);
    const symbols = new Uint8Array(d.length);
    for (let i = 0; i < d.length; i++) symbols[i] = d[i] >= 0 ? 1 : 0;
    return makeQuantized(
      symbols,
      2,
      { scales: sm.stored, metaBits: sm.bits, scaleBytes: sm.bytes },
      { kind: "scaled", center: 0.5, unit: 2 },
      layout,
    );
  },
};
