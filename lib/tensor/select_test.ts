import { strict as assert } from "node:assert";
import { InputError } from "../errors.ts";
import {
  compareLayers,
  globToRegExp,
  layerFilter,
  layerKind,
  selectLayers,
  shortLayerName,
  splitGlobs,
} from "./select.ts";
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

Deno.test("--layers globs: {a,b} alternatives, !glob exclusions, commas inside braces", () => {
  const names = [
    "gpt_neox.layers.0.attention.query_key_value.weight",
    "gpt_neox.layers.0.mlp.dense_h_to_4h.weight",
    "gpt_neox.layers.1.mlp.dense_4h_to_h.weight",
    "gpt_neox.layers.10.mlp.dense_4h_to_h.weight",
    "embed_out.weight",
  ];
  const pick = (g: string) => names.filter(layerFilter(g));
  assert.deepEqual(splitGlobs("a.{b,c}.*,!d,e"), ["a.{b,c}.*", "!d", "e"]);
  assert.deepEqual(pick("gpt_neox.layers.{0,1}.mlp.*"), names.slice(1, 3));
  assert.deepEqual(pick("gpt_neox.layers.*,!*.layers.1{,0}.*"), names.slice(0, 2));
  assert.deepEqual(pick("!embed_out.weight"), names.slice(0, 4));
  assert.deepEqual(pick("*.{query_key_value,dense_4h_to_h}.weight,embed_*"), [names[0], names[2], names[3], names[4]]);
  assert.throws(() => globToRegExp("a.{b,c"), /unclosed/);
  const tensors = names.map((name) => ({ name, shape: [4, 4] })) as unknown as Parameters<typeof selectLayers>[0];
  assert.throws(() => selectLayers(tensors, "!*"), /matches no 2-D weight/);
});

Deno.test("shortLayerName and compareLayers: short labels in model order, numbers as numbers", () => {
  const p = "gpt_neox.layers";
  assert.equal(shortLayerName(`${p}.0.attention.query_key_value.weight`), "L0.qkv");
  assert.equal(shortLayerName(`${p}.0.attention.dense.weight`), "L0.attn.out");
  assert.equal(shortLayerName(`${p}.12.mlp.dense_h_to_4h.weight`), "L12.mlp.up");
  assert.equal(shortLayerName(`${p}.3.mlp.dense_4h_to_h.weight`), "L3.mlp.down");
  assert.equal(shortLayerName("model.layers.2.self_attn.q_proj.weight"), "L2.q_proj");
  assert.equal(shortLayerName("model.layers.2.mlp.gate_proj.weight"), "L2.mlp.gate");
  assert.equal(shortLayerName("gpt_neox.embed_in.weight"), "embed");
  assert.equal(shortLayerName("embed_out.weight"), "lm_head");
  const names = [
    "embed_out.weight",
    `${p}.10.attention.dense.weight`,
    `${p}.2.mlp.dense_4h_to_h.weight`,
    `${p}.2.attention.query_key_value.weight`,
    "gpt_neox.embed_in.weight",
    `${p}.2.mlp.dense_h_to_4h.weight`,
  ];
  assert.deepEqual([...names].sort(compareLayers).map(shortLayerName), [
    "embed",
    "L2.qkv",
    "L2.mlp.up",
    "L2.mlp.down",
    "L10.attn.out",
    "lm_head",
  ]);
});
