/** Layer selection by glob and classification of weights into layer kinds. */
import { InputError } from "../errors.ts";
import type { TensorInfo } from "./types.ts";

export type LayerKind = "embed" | "attn_qkv" | "attn_out" | "mlp_up" | "mlp_down" | "lm_head" | "other";

/** Glob → RegExp: `*` matches any run of characters (dots too), `?` one character. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`);
}

/**
 * The 2-D weights a sweep quantizes: every 2-D tensor, filtered by a comma
 * list of globs when given. Fails when the globs match nothing.
 */
export function selectLayers(tensors: TensorInfo[], globs?: string): TensorInfo[] {
  const twoD = tensors.filter((t) => t.shape.length === 2);
  if (!twoD.length) {
    const sample = tensors.slice(0, 3).map((t) => `${t.name} [${t.shape.join(", ")}]`).join(", ");
    throw new InputError(
      `the model has no 2-D weight to quantize (${tensors.length} tensors${sample ? `: ${sample}` : ""})`,
    );
  }
  if (!globs) return twoD;
  const res = globs.split(",").map((g) => g.trim()).filter(Boolean).map(globToRegExp);
  const out = twoD.filter((t) => res.some((r) => r.test(t.name)));
  if (!out.length) {
    const sample = twoD.slice(0, 3).map((t) => t.name).join(", ");
    throw new InputError(`--layers '${globs}' matches no 2-D weight (names look like: ${sample})`);
  }
  return out;
}

const KIND_PATTERNS: [LayerKind, RegExp][] = [
  ["embed", /(embed_in|embed_tokens|wte|tok_embeddings|token_embd)(\.weight)?$/],
  ["lm_head", /(^|\.)(embed_out|lm_head|output)\.weight$/],
  [
    "attn_qkv",
    /(query_key_value|q_proj|k_proj|v_proj|qkv_proj|c_attn|attn_q|attn_k|attn_v|attn_qkv|wq|wk|wv)\.weight$/,
  ],
  ["attn_out", /(attention\.dense|o_proj|out_proj|attn_output|attn\.c_proj|wo)\.weight$/],
  ["mlp_up", /(dense_h_to_4h|up_proj|gate_proj|ffn_up|ffn_gate|fc1|w1|w3|c_fc)\.weight$/],
  ["mlp_down", /(dense_4h_to_h|down_proj|ffn_down|fc2|w2|mlp\.c_proj)\.weight$/],
];

/** Classify a weight name (GPT-NeoX, Llama/HF and llama.cpp GGUF names). */
export function layerKind(name: string): LayerKind {
  for (const [kind, re] of KIND_PATTERNS) if (re.test(name)) return kind;
  return "other";
}
