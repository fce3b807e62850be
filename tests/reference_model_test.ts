/** The shipped reference model: HF GPT-NeoX names/layouts, read by our reader, and in step with its PyTorch reference. */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { openModel } from "../lib/tensor/model.ts";

const DIR = "models/neox-tiny";

Deno.test("reference model: reference_logits.json was computed from the shipped weights (sha256)", async () => {
  const ref = JSON.parse(await Deno.readTextFile(`${DIR}/reference_logits.json`));
  const sha = createHash("sha256").update(await Deno.readFile(`${DIR}/model.safetensors`)).digest("hex");
  assert.equal(
    ref.model_sha256,
    sha,
    "model.safetensors and reference_logits.json drifted apart: rerun tasks/reference_eval.py",
  );
  assert.equal(ref.logits.length, 8);
  assert.ok(ref.logits.every((row: number[]) => row.length === 256));
  assert.ok(ref.bpb > 0 && ref.bpb <= 2.1, `held-out bpb ${ref.bpb}`);
});

Deno.test("reference model: config keys and every tensor named and shaped as HF GPT-NeoX", async () => {
  const cfg = JSON.parse(await Deno.readTextFile(`${DIR}/config.json`));
  for (
    const k of [
      "hidden_size",
      "num_hidden_layers",
      "num_attention_heads",
      "intermediate_size",
      "rotary_pct",
      "rotary_emb_base",
      "max_position_embeddings",
      "vocab_size",
      "use_parallel_residual",
      "layer_norm_eps",
      "hidden_act",
    ]
  ) {
    assert.ok(k in cfg, `config.json lacks ${k}`);
  }
  const d = cfg.hidden_size, ff = cfg.intermediate_size, v = cfg.vocab_size;
  const want: Record<string, number[]> = {
    "gpt_neox.embed_in.weight": [v, d],
    "gpt_neox.final_layer_norm.weight": [d],
    "gpt_neox.final_layer_norm.bias": [d],
    "embed_out.weight": [v, d],
  };
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `gpt_neox.layers.${i}`;
    Object.assign(want, {
      [`${p}.input_layernorm.weight`]: [d],
      [`${p}.input_layernorm.bias`]: [d],
      [`${p}.post_attention_layernorm.weight`]: [d],
      [`${p}.post_attention_layernorm.bias`]: [d],
      [`${p}.attention.query_key_value.weight`]: [3 * d, d],
      [`${p}.attention.query_key_value.bias`]: [3 * d],
      [`${p}.attention.dense.weight`]: [d, d],
      [`${p}.attention.dense.bias`]: [d],
      [`${p}.mlp.dense_h_to_4h.weight`]: [ff, d],
      [`${p}.mlp.dense_h_to_4h.bias`]: [ff],
      [`${p}.mlp.dense_4h_to_h.weight`]: [d, ff],
      [`${p}.mlp.dense_4h_to_h.bias`]: [d],
    });
  }
  const m = await openModel(DIR);
  assert.deepEqual(Object.fromEntries(m.tensors.map((t) => [t.name, t.shape])), want);
});

Deno.test("reference model: our reader reproduces the per-tensor std that PyTorch wrote into the model card", async () => {
  const card = await Deno.readTextFile(`${DIR}/README.md`);
  const rows = [...card.matchAll(/^\| `([^`]+)` \| \[[^\]]*\] \| ([0-9.e+-]+) \|/gm)];
  const m = await openModel(DIR);
  assert.equal(rows.length, m.tensors.length);
  for (const [, name, stdText] of rows) {
    const { data } = await m.read(name);
    let s = 0, ss = 0;
    for (const x of data) s += x;
    const mean = s / data.length;
    for (const x of data) ss += (x - mean) ** 2;
    const std = Math.sqrt(ss / (data.length - 1)); // torch.std is unbiased
    const want = Number(stdText);
    assert.ok(Math.abs(std - want) <= Math.abs(want) * 1e-3, `${name}: std ${std} vs card ${want}`);
  }
});
