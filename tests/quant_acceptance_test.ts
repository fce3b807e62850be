/** The quantizer acceptance criteria, measured on the embedded reference model. */
import { strict as assert } from "node:assert";
import { entropyPerSymbol } from "../lib/metrics/entropy.ts";
import { errorMetrics } from "../lib/metrics/error.ts";
import { getQuantizer } from "../lib/quant/mod.ts";
import type { QuantConfig, WeightMatrix } from "../lib/quant/types.ts";
import { parseConfigId } from "../lib/quant/config_id.ts";
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

Deno.test("reference model: +gptq's out_rel_error < its base config's on ≥ 90% of layers at 2 and 3 bits (group 64)", async () => {
  const { calibrationFor } = await import("../lib/model/calibration.ts");
  const { readAllWeights } = await import("../lib/model/neox.ts");
  const { quantizeWeight } = await import("../lib/quant/transforms.ts");
  const calib = await calibrationFor(src, await readAllWeights(src));
  const fed = layers.filter((w) => calib.has(w.name));
  assert.equal(fed.length, layers.length - 1, "every 2-D weight but the input embedding has calibration inputs");
  for (const id of ["hqq.b2.g64.f16", "hqq.b3.g64.f16", "rtn_asym.b2.g64.f16", "rtn_asym.b3.g64.f16"]) {
    const base = parseConfigId(id), gptq = parseConfigId(`${id}+gptq`);
    const out = (w: WeightMatrix, c: QuantConfig) =>
      calib.outRelError(w.name, w.data, quantizeWeight(w, c, calib).dequantize(), w.rows, w.cols)!;
    const ratios = fed.map((w) => out(w, gptq) / out(w, base));
    const wins = ratios.filter((r) => r < 1).length;
    console.log(
      `${id}: +gptq lower on ${wins}/${fed.length} layers, median ratio ${
        ratios.sort()[ratios.length >> 1].toFixed(3)
      }`,
    );
    assert.ok(wins >= 0.9 * fed.length, `${id}: +gptq wins on ${wins}/${fed.length}`);
  }
});
