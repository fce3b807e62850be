/**
 * llama.cpp's `gptneox` GGUF layout as GPT-NeoX (HF) names: tensor names,
 * the fused-qkv row order and the hyper-parameters. HF stores
 * query_key_value rows per head as [q_h | k_h | v_h]; llama.cpp views them as
 * [all q | all k | all v] (convert_hf_to_gguf.py's GPTNeoX reorder).
 */
import { InputError } from "../errors.ts";

const LAYER_PARTS: Array<[string, string]> = [
  ["input_layernorm", "attn_norm"],
  ["post_attention_layernorm", "ffn_norm"],
  ["attention.query_key_value", "attn_qkv"],
  ["attention.dense", "attn_output"],
  ["mlp.dense_h_to_4h", "ffn_up"],
  ["mlp.dense_4h_to_h", "ffn_down"],
];
const TOP: Array<[string, string]> = [
  ["gpt_neox.embed_in", "token_embd"],
  ["gpt_neox.final_layer_norm", "output_norm"],
  ["embed_out", "output"],
];

/** HF tensor name → GGUF name, or null for buffers llama.cpp does not read (rotary inv_freq, masks). */
export function hfToGgufName(name: string): string | null {
  const m = name.match(/^gpt_neox\.layers\.(\d+)\.(.+)\.(weight|bias)$/);
  if (m) {
    const part = LAYER_PARTS.find(([hf]) => hf === m[2]);
    return part ? `blk.${m[1]}.${part[1]}.${m[3]}` : null;
  }
  const t = name.match(/^(.+)\.(weight|bias)$/);
  const top = t && TOP.find(([hf]) => hf === t[1]);
  return top ? `${top[1]}.${t![2]}` : null;
}

/** GGUF name → HF name (the inverse of hfToGgufName), or null when not a gptneox tensor. */
export function ggufToHfName(name: string): string | null {
  const m = name.match(/^blk\.(\d+)\.(.+)\.(weight|bias)$/);
  if (m) {
    const part = LAYER_PARTS.find(([, g]) => g === m[2]);
    return part ? `gpt_neox.layers.${m[1]}.${part[0]}.${m[3]}` : null;
  }
  const t = name.match(/^(.+)\.(weight|bias)$/);
  const top = t && TOP.find(([, g]) => g === t[1]);
  return top ? `${top[0]}.${t![2]}` : null;
}

export function isQkv(hfName: string): boolean {
  return /\.attention\.query_key_value\.(weight|bias)$/.test(hfName);
}

/**
 * Row permutation HF → llama.cpp for the fused qkv of `heads` heads:
 * out row (kind·heads + h)·headDim + i takes HF row (h·3 + kind)·headDim + i.
 */
export function qkvRowOrder(heads: number, headDim: number): Int32Array {
  const order = new Int32Array(3 * heads * headDim);
  for (let kind = 0; kind < 3; kind++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < headDim; i++) order[(kind * heads + h) * headDim + i] = (h * 3 + kind) * headDim + i;
    }
  }
  return order;
}

/** Rows of a row-major [rows, cols] array taken in `order` (out row r = in row order[r]). */
export function permuteRows<A extends Float32Array | Int8Array | Uint16Array>(
  a: A,
  cols: number,
  order: Int32Array,
): A {
  const out = new (a.constructor as new (n: number) => A)(a.length);
  for (let r = 0; r < order.length; r++) out.set(a.subarray(order[r] * cols, (order[r] + 1) * cols), r * cols);
  return out;
}

/** The inverse of a permutation. */
export function inverseOrder(order: Int32Array): Int32Array {
  const inv = new Int32Array(order.length);
  order.forEach((src, dst) => (inv[src] = dst));
  return inv;
}

/** A HF-style NeoX config from a gptneox GGUF's metadata (the inverse of neoxGgufMetadata). */
export function neoxConfigFromGguf(md: Record<string, unknown>, where: string): Record<string, unknown> {
  const num = (k: string): number => {
    const v = md[`gptneox.${k}`];
    if (typeof v !== "number") throw new InputError(`${where}: gptneox GGUF lacks numeric '${k}'`);
    return v;
  };
  const hidden = num("embedding_length"), heads = num("attention.head_count");
  const tokens = md["tokenizer.ggml.tokens"];
  const vocab = typeof md["gptneox.vocab_size"] === "number"
    ? md["gptneox.vocab_size"]
    : Array.isArray(tokens)
    ? tokens.length
    : undefined;
  return {
    architectures: ["GPTNeoXForCausalLM"],
    model_type: "gpt_neox",
    hidden_size: hidden,
    num_hidden_layers: num("block_count"),
    num_attention_heads: heads,
    intermediate_size: num("feed_forward_length"),
    rotary_pct: num("rope.dimension_count") / (hidden / heads),
    rotary_emb_base: shortestF32(num("rope.freq_base")),
    max_position_embeddings: num("context_length"),
    vocab_size: vocab,
    use_parallel_residual: md["gptneox.use_parallel_residual"] !== false,
    layer_norm_eps: shortestF32(num("attention.layer_norm_epsilon")),
    hidden_act: "gelu",
  };
}

/** The shortest decimal that rounds to the same f32 (GGUF stores 1e-5 as 9.99999975e-6). */
function shortestF32(v: number): number {
  for (let p = 1; p <= 9; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === Math.fround(v)) return d;
  }
  return v;
}
