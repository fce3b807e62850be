import { strict as assert } from "node:assert";
import { InputError } from "../errors.ts";
import { globToRegExp, layerKind, selectLayers } from "./select.ts";
import type { TensorInfo } from "./types.ts";

const info = (name: string, shape: number[]): TensorInfo => ({
  name,
  shape,
  dtype: "F32",
  offset: 0,
  byteLength: 0,
  file: "x",
});

Deno.test("layer kinds: GPT-NeoX, Llama (HF) and llama.cpp names", () => {
  const cases: [string, string][] = [
    ["gpt_neox.embed_in.weight", "embed"],
    ["gpt_neox.layers.0.attention.query_key_value.weight", "attn_qkv"],
    ["gpt_neox.layers.0.attention.dense.weight", "attn_out"],
    ["gpt_neox.layers.5.mlp.dense_h_to_4h.weight", "mlp_up"],
    ["gpt_neox.layers.5.mlp.dense_4h_to_h.weight", "mlp_down"],
    ["embed_out.weight", "lm_head"],
    ["model.embed_tokens.weight", "embed"],
    ["model.layers.3.self_attn.q_proj.weight", "attn_qkv"],
    ["model.layers.3.self_attn.o_proj.weight", "attn_out"],
    ["model.layers.3.mlp.gate_proj.weight", "mlp_up"],
    ["model.layers.3.mlp.up_proj.weight", "mlp_up"],
    ["model.layers.3.mlp.down_proj.weight", "mlp_down"],
    ["lm_head.weight", "lm_head"],
    ["token_embd.weight", "embed"],
    ["blk.0.attn_v.weight", "attn_qkv"],
    ["blk.0.attn_output.weight", "attn_out"],
    ["blk.0.ffn_down.weight", "mlp_down"],
    ["output.weight", "lm_head"],
    ["gpt_neox.layers.0.input_layernorm.weight", "other"],
  ];
  for (const [name, kind] of cases) assert.equal(layerKind(name), kind, name);
});

Deno.test("layer globs: * spans dots, comma lists, 2-D only, no match is an error", () => {
  assert.ok(globToRegExp("gpt_neox.layers.*.mlp.*").test("gpt_neox.layers.10.mlp.dense_h_to_4h.weight"));
  assert.ok(!globToRegExp("gpt_neox.layers.*.mlp.*").test("gpt_neoxXlayers.1.mlp.w"));
  const ts = [info("a.mlp.w", [2, 2]), info("a.mlp.b", [2]), info("a.attn.w", [2, 2]), info("emb", [4, 2])];
  assert.deepEqual(selectLayers(ts).map((t) => t.name), ["a.mlp.w", "a.attn.w", "emb"]);
  assert.deepEqual(selectLayers(ts, "*.mlp.*").map((t) => t.name), ["a.mlp.w"]);
  assert.deepEqual(selectLayers(ts, "*.mlp.*, emb").map((t) => t.name), ["a.mlp.w", "emb"]);
  assert.throws(() => selectLayers(ts, "nothing.*"), InputError);
});
