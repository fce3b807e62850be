import { strict as assert } from "node:assert";
import { errorMeasure, heatmapChart, levelHistogramChart, levelValue } from "./specs.ts";

const row = (layer: string, config: string, extra: Record<string, unknown> = {}) => ({
  layer,
  layer_kind: "mlp_up",
  config_id: config,
  method: config.split(".")[0],
  bits_per_param: 1.5,
  params: 64,
  rel_error: 0.3,
  out_rel_error: null,
  delta_bpb: null,
  ...extra,
});

Deno.test("heatmap: coloured by the error measure (Δbpb when measured), bits in the label, short names in model order", () => {
  const names = ["gpt_neox.layers.10.mlp.dense_h_to_4h.weight", "gpt_neox.layers.2.attention.dense.weight"];
  const plain = heatmapChart(names.map((n) => row(n, "ternary_absmean.g64.f16")));
  // deno-lint-ignore no-explicit-any
  const spec = (c: ReturnType<typeof heatmapChart>) => c.spec as any;
  assert.equal(spec(plain).layer[0].encoding.color.field, "rel_error");
  assert.equal(spec(plain).layer[1].encoding.text.field, "bits_label");
  assert.deepEqual(spec(plain).encoding.y.sort, ["L2.attn.out", "L10.mlp.up"]);
  const withDelta = names.map((n, i) => row(n, "ternary_absmean.g64.f16", { delta_bpb: 0.01 * i }));
  assert.equal(errorMeasure(withDelta), "delta_bpb");
  assert.equal(spec(heatmapChart(withDelta)).layer[0].encoding.color.field, "delta_bpb");
  assert.ok(spec(heatmapChart(withDelta)).data.values.every((v: { layer: string }) => /^L\d+\./.test(v.layer)));
});

Deno.test("level histogram: sign's levels sit at ±1 × scale, ternary's at −1, 0, +1", () => {
  assert.deepEqual([0, 1].map((i) => levelValue(i, 2)), [-1, 1]);
  assert.deepEqual([0, 1, 2].map((i) => levelValue(i, 3)), [-1, 0, 1]);
  assert.deepEqual([0, 4].map((i) => levelValue(i, 5)), [-2, 2]);
  const chart = levelHistogramChart([
    row("a", "sign.g64.f16", { level_hist: [30, 34] }),
    row("a", "ternary_absmean.g64.f16", { level_hist: [10, 44, 10] }),
  ])!;
  // deno-lint-ignore no-explicit-any
  const values = (chart.spec as any).data.values as { config_id: string; level: number }[];
  assert.deepEqual(values.filter((v) => v.config_id === "sign.g64.f16").map((v) => v.level), [-1, 1]);
  assert.deepEqual(values.filter((v) => v.config_id.startsWith("ternary")).map((v) => v.level), [-1, 0, 1]);
});
