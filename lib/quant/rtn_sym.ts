/**
 * Uniform round-to-nearest, symmetric absmax per group. For b ≥ 2 bits:
 *   qmax = 2^(b−1) − 1,  s = max|w| / qmax,  q = clamp(round(w / s), −qmax, qmax),  Ŵ = s·q
 * (2^b − 1 levels, stored in b bits). For b = 1 the grid is {−s, +s}, s = max|w|.
 */
import { assertFinite, groupLayout, roundHalfAway } from "./groups.ts";
import { storeMeta } from "./meta.ts";
import { validateBitsAndGrouping } from "./validate.ts";
import { makeQuantized } from "./dequant.ts";
import type { QuantConfig, Quantized, Quantizer, WeightMatrix } from "./types.ts";

const ID = "rtn_sym";

export const rtnSym: Quantizer = {
  id: ID,
  axes: ["bits"],
  validate(c: QuantConfig): void {
    validateBitsAndGrouping(ID, c);
  },
  quantize(w: WeightMatrix, c: QuantConfig): Quantized {
    assertFinite(w);
    const layout = groupLayout(w.rows, w.cols, c.groupSize);
    const { starts, ends, count } = layout;
    const d = w.data;
    const oneBit = c.bits === 1;
    const qmax = oneBit ? 1 : 2 ** (c.bits! - 1) - 1;
    const raw = new Float32Array(count);
    for (let g = 0; g < count; g++) {
      let amax = 0;
      for (let i = starts[g]; i < ends[g]; i++) amax = Math.max(amax, Math.abs(d[i]));
      raw[g] = amax / qmax;
    }
    const sm = storeMeta(raw, c.scaleDtype, w.name);
    const symbols = new Uint8Array(d.length);
    if (oneBit) {
      for (let i = 0; i < d.length; i++) symbols[i] = d[i] >= 0 ? 1 : 0; // 0 → −s, 1 → +s
      return makeQuantized(
        symbols,
        2,
        { scales: sm.stored, metaBits: sm.bits, scaleBytes: sm.bytes },
        { kind: "scaled", center: 0.5, unit: 2 },
        layout,
      );
    }
    for (let g = 0; g < count; g++) {
      const s = sm.stored[g];
      if (!(s > 0)) {
        symbols.fill(qmax, starts[g], ends[g]);
        continue;
      }
      const inv = 1 / s;
      for (let i = starts[g]; i < ends[g]; i++) {
        const q = roundHalfAway(d[i] * inv);
        symbols[i] = (q < -qmax ? -qmax : q > qmax ? qmax : q) + qmax;
      }
    }
    return makeQuantized(symbols, 2 * qmax + 1, { scales: sm.stored, metaBits: sm.bits, scaleBytes: sm.bytes }, {
      kind: "scaled",
      center: qmax,
      unit: 1,
    }, layout);
  },
};
