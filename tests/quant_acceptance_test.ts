/** The quantizer acceptance criteria, measured on the embedded reference model. */
import { strict as assert } from "node:assert";
import { entropyPerSymbol } from "../lib/metrics/entropy.ts";
import { errorMetrics } from "../lib/metrics/error.ts";
import { getQuantizer } from "../lib/quant/mod.ts";
import type { QuantConfig, WeightMatrix } from "../lib/quant/types.ts";
import { parseConfigId } from "../lib/sweep/grid.ts";
import { openModel } from "../lib/tensor/model.ts";
import { selectLayers } from "../lib/tensor/select.ts";

const src = await openModel("models/neox-tiny");
const layers: WeightMatrix[] = [];
for (const t of selectLayers(src.tensors)) {
  layers.push({ name: t.name, rows: t.shape[0], cols: t.shape[1], data: (await src.read(t.name)).data });
}
const relError = (w: WeightMatrix, c: QuantConfig) =>
  errorMetrics(w.data, getQuantizer(c.method).quantize(w, c).dequantize()).relError;

Deno.test("reference model: HQQ's rel_error ≤ RTN's on ≥ 90% of layers at 2 and 3 bits (group 64)", () => {
  for (const bits of [2, 3]) {
    const wins = layers.filter((w) =>
      relError(w, parseConfigId(`hqq.b${bits}.g64.f16`)) <= relError(w, parseConfigId(`rtn_asym.b${bits}.g64.f16`))
    ).length;
    assert.ok(wins >= 0.9 * layers.length, `${bits} bits: HQQ wins on ${wins}/${layers.length}`);
  }
});

Deno.test("reference model: forced sparsity hits its zero fraction within ±0.5%; ternary@90% ≈ 5/90/5 with H ≈ 0.569", () => {
  for (
    const id of ["sparse_klevel.l3.s0.9.g64.f16", "sparse_klevel.l5.s0.8.g64.f16", "sparse_klevel.l3.s0.5.g128.f16"]
  ) {
    const c = parseConfigId(id);
    const m = (c.levels! - 1) / 2;
    const total = new Float64Array(c.levels!);
    let n = 0;
    for (const w of layers) {
      const q = getQuantizer("sparse_klevel").quantize(w, c);
      const zeros = q.symbols.reduce((a, s) => a + (s === m ? 1 : 0), 0);
      assert.ok(
        Math.abs(zeros / q.symbols.length - c.sparsity!) <= 0.005,
        `${id} ${w.name}: ${zeros / q.symbols.length}`,
      );
      for (const s of q.symbols) total[s]++;
      n += q.symbols.length;
    }
    if (id === "sparse_klevel.l3.s0.9.g64.f16") {
      const p = Array.from(total, (x) => x / n);
      assert.ok(Math.abs(p[0] - 0.05) < 0.005 && Math.abs(p[2] - 0.05) < 0.005, `split ${p}`);
      assert.ok(Math.abs(entropyPerSymbol(total) - 0.569) <= 0.03, `entropy ${entropyPerSymbol(total)}`);
    }
  }
});
