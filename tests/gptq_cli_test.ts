/** +gptq, +had, +lr<r> end to end: config ids, pack + unpack reproduce the Ŵ measured in-process, eval --plan = eval --subbit. */
import { strict as assert } from "node:assert";
import { lastJson, runTask } from "./fixtures/cli.ts";
import { calibrationFor } from "../lib/model/calibration.ts";
import { readAllWeights } from "../lib/model/neox.ts";
import { quantizeWeight } from "../lib/quant/transforms.ts";
import { configId, parseConfigId } from "../lib/quant/config_id.ts";
import { readSafetensorsHeader, readTensorData } from "../lib/tensor/safetensors.ts";
import { openModel } from "../lib/tensor/model.ts";

Deno.test("config ids: +gptq round-trips; unknown, unimplemented and out-of-order transforms are refused", () => {
  for (const id of ["ternary_absmean.g64.f16+gptq", "sparse_klevel.l3.s0.9.g64.f16+gptq", "hqq.b2.grow.bf16+gptq"]) {
    assert.equal(configId(parseConfigId(id)), id);
  }
  assert.deepEqual(parseConfigId("hqq.b2.g64.f16+gptq").transforms, ["gptq"]);
  assert.throws(() => parseConfigId("hqq.b2.g64.f16+magic"), /unknown transform '\+magic'/);
  assert.throws(() => parseConfigId("hqq.b2.g64.f16+gptq+awq"), /in the order/);
  assert.throws(() => parseConfigId("hqq.b2.g64.f16+gptq+gptq"), /in the order/);
  assert.throws(() => parseConfigId("hqq.b2.g64.q8g128+gptq"), /f16 or bf16/);
});

const PLAN = {
  layers: {
    "gpt_neox.layers.0.mlp.dense_4h_to_h.weight": "hqq.b2.g64.f16+gptq",
    "gpt_neox.layers.1.attention.query_key_value.weight": "ternary_absmean.g64.f16+gptq",
    "gpt_neox.layers.2.mlp.dense_h_to_4h.weight": "sparse_klevel.l3.s0.9.g64.f16+gptq",
    "gpt_neox.layers.3.attention.dense.weight": "hqq.b2.g64.f16+had+gptq+lr4",
    "gpt_neox.layers.4.attention.query_key_value.weight": "ternary_absmean.g64.f16+had+gptq",
    "gpt_neox.layers.5.mlp.dense_4h_to_h.weight": "rtn_asym.b3.g64.f16+gptq+lr2i8",
    "gpt_neox.embed_in.weight": "rtn_sym.b3.g64.f16+had+lr2", // no matmul input: H = I
    "gpt_neox.layers.0.mlp.dense_h_to_4h.weight": "rtn_asym.b2.g64.f16+awq+had+gptq",
  },
};

Deno.test("pack --plan with +gptq, +had, +lr: unpack gives exactly the Ŵ quantizeWeight measures; eval --plan = eval --subbit", async () => {
  const dir = await Deno.makeTempDir();
  const plan = `${dir}/plan.json`;
  await Deno.writeTextFile(plan, JSON.stringify(PLAN));
  const file = `${dir}/m.subbit`;
  const p = await runTask("pack", "--plan", plan, "--out", file, "--quiet");
  assert.equal(p.code, 0, p.stderr);
  const u = await runTask("unpack", file, "--out", `${dir}/w.safetensors`);
  assert.equal(u.code, 0, u.stderr);
  const src = await openModel("models/neox-tiny");
  const weights = await readAllWeights(src);
  const calib = await calibrationFor(src, weights);
  const header = await readSafetensorsHeader(`${dir}/w.safetensors`);
  for (const [name, id] of Object.entries(PLAN.layers)) {
    const info = src.tensors.find((t) => t.name === name)!;
    const w = { name, rows: info.shape[0], cols: info.shape[1], data: weights.get(name)! };
    const expected = quantizeWeight(w, parseConfigId(id), calib).dequantize();
    const got = (await readTensorData(header.tensors.find((t) => t.name === name)!)).data;
    assert.deepEqual(got, expected, `${name}: unpacked Ŵ`);
  }
  const a = await runTask("eval", "--plan", plan, "--bytes", "3000", "--json");
  const b = await runTask("eval", "--subbit", file, "--bytes", "3000", "--json");
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(lastJson(a).bpb, lastJson(b).bpb);
});

Deno.test("+gptq without calibration text, or with fp8 scales, exits 2 with one line", async () => {
  const dir = await Deno.makeTempDir();
  const r = await runTask("eval", "--config", "hqq.b2.g64.f16+gptq", "--calib", `${dir}/none.txt`, "--bytes", "600");
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /cannot read calibration text/);
  const f = await runTask("eval", "--config", "hqq.b2.g64.fp8_e4m3+gptq", "--bytes", "600");
  assert.equal(f.code, 2, f.stderr);
  assert.match(f.stderr, /\+gptq stores scales as f16 or bf16/);
  assert.equal(f.stderr.trim().split("\n").length, 1);
});
