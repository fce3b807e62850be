/** allocate: the KL objective, reusing a sensitivity file, and the bpb/KL measure it rests on. */
import { strict as assert } from "node:assert";
import { assertOneLine, runTask } from "./fixtures/cli.ts";
import { heldoutBpb, heldoutBpbAndKl, windowLogProbs } from "../lib/model/bpb.ts";
import { loadNeox, NeoxForward } from "../lib/model/neox.ts";
import { tsOps } from "../lib/model/ops.ts";
import { getQuantizer } from "../lib/quant/mod.ts";
import { parseConfigId } from "../lib/quant/config_id.ts";

Deno.test("heldoutBpbAndKl: bpb equals heldoutBpb's, KL is 0 against itself and > 0 once a layer is quantized", async () => {
  const { config, weights } = await loadNeox("models/neox-tiny");
  const text = (await Deno.readFile("models/neox-tiny/val.txt")).subarray(0, 700);
  const model = new NeoxForward(config, weights, tsOps);
  const ref = windowLogProbs(model, text);
  const self = heldoutBpbAndKl(model, text, ref);
  const plain = heldoutBpb(model, text).bpb; // log-probs are kept as f32: agreement to ~1e-6
  assert.ok(Math.abs(self.bpb - plain) < 1e-5, `${self.bpb} vs ${plain}`);
  assert.ok(Math.abs(self.kl) < 1e-6, `KL(p‖p) = ${self.kl}`);
  const name = "gpt_neox.layers.2.mlp.dense_4h_to_h.weight";
  const w = { name, rows: 256, cols: 1024, data: weights.get(name)! };
  model.setWeight(name, getQuantizer("sign").quantize(w, parseConfigId("sign.g64.f16")).dequantize());
  const q = heldoutBpbAndKl(model, text, ref);
  assert.ok(q.kl > 1e-3, `KL ${q.kl}`);
});

Deno.test("allocate --objective delta_bpb, then --sensitivity reuses the measurements for kl_bits (the default)", async () => {
  const dir = await Deno.makeTempDir();
  const common = ["--budgets", "3", "--sens-bytes", "600", "--eval-bytes", "600"];
  const a = await runTask(
    "allocate",
    ...common,
    ...["--menu", "hqq.b2.g64.f16,hqq.b4.g64.f16", "--objective", "delta_bpb", "--out", `${dir}/a`],
  );
  assert.equal(a.code, 0, a.stderr);
  const line = JSON.parse(await Deno.readTextFile(`${dir}/a/allocate.jsonl`));
  assert.equal(line.objective, "delta_bpb");
  assert.ok(line.bits_per_param <= 3);
  const sens = JSON.parse(await Deno.readTextFile(`${dir}/a/sensitivity.json`));
  assert.ok(sens.entries.every((e: { kl_bits: number }) => e.kl_bits >= -1e-12), "KL is never negative");
  const b = await runTask("allocate", ...common, "--sensitivity", `${dir}/a/sensitivity.json`, "--out", `${dir}/b`);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/b/allocate.jsonl`)).objective, "kl_bits");
  assertOneLine(await runTask("allocate", "--objective", "mse"), /--objective: 'mse' is not one of/, "objective");
  await Deno.writeTextFile(`${dir}/bad.json`, "{}");
  assertOneLine(
    await runTask("allocate", "--sensitivity", `${dir}/bad.json`, "--out", `${dir}/c`),
    /not an allocate sensitivity.json/,
    "bad sensitivity",
  );
});
