/**
 * Uniform round-to-nearest, asymmetric min-max per group:
 *   s = (max − min) / (2^b − 1),  q = clamp(round((w − min) / s), 0, 2^b − 1),  ŵ = min + q·s
 * with s and min stored in the scale dtype (assignment uses the stored values).
 */
import { assertFinite, groupLayout } from "./groups.ts";
import { makeQuantized } from "./dequant.ts";
import { storeMeta } from "./meta.ts";
import { validateBitsAndGrouping } from "./validate.ts";
import type { QuantConfig, Quantized, Quantizer, WeightMatrix } from "./types.ts";

const ID = "rtn_asym";

export const rtnAsym: Quantizer = {
  id: ID,
  axes: ["bits"],
  validate(c: QuantConfig): void {
    validateBitsAndGrouping(ID, c);
  },
  quantize(w: WeightMatrix, c: QuantConfig): Quantized {
    assertFinite(w);
    const levels = 2 ** c.bits!;
    const layout = groupLayout(w.rows, w.cols, c.groupSize);
    const { starts, ends, count } = layout;
    const d = w.data;
    const rawScale = new Float32Array(count);
    const rawMin = new Float32Array(count);
    for (let g = 0; g < count; g++) {
      let mn = Infinity, mx = -Infinity;
      for (let i = starts[g]; i < ends[g]; i++) {
        const v = d[i];
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      rawMin[g] = mn;
      rawScale[g] = (mx - mn) / (levels - 1);
    }
    const scales = storeMeta(rawScale, c.scaleDtype, w.name);
    const zeros = storeMeta(rawMin, c.scaleDtype, w.name);
    const symbols = new Uint8Array(d.length);
    for (let g = 0; g < count; g++) {
      const s = scales.stored[g], m = zeros.stored[g];
      if (!(s > 0)) continue; // constant group (or scale underflow): every symbol 0, ŵ = min
      const inv = 1 / s;
      for (let i = starts[g]; i < ends[g]; i++) {
        const q = Math.round((d[i] - m) * inv);
        symbols[i] = q < 0 ? 0 : q >= levels ? levels - 1 : q;
      }
    }
    const meta = {
      scales: scales.stored,
      zeros: zeros.stored,
      metaBits: scales.bits + zeros.bits,
      scaleBytes: scales.bytes,
      zeroBytes: zeros.bytes,
    };
    return makeQuantized(symbols, levels, meta, { kind: "min_plus" }, layout);
  },
};
