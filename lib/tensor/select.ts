/** Layer selection by glob and classification of weights into layer kinds. */
import { InputError } from "../errors.ts";
import type { TensorInfo } from "./types.ts";

export type LayerKind = "embed" | "attn_qkv" | "attn_out" | "mlp_up" | "mlp_down" | "lm_head" | "other";

/**
 * Glob → RegExp: `*` matches any run of characters — dots too, so
 * `gpt_neox.layers.*.mlp.*` spans every block — `?` one character, and
 * `{a,b}` either alternative (nestable).
 */
export function globToRegExp(glob: string): RegExp {
  let body = "", depth = 0;
  for (const ch of glob) {
    if (ch === "*") body += ".*";
    else if (ch === "?") body += ".";
    else if (ch === "{") (depth++, body += "(?:");
    else if (ch === "}" && depth > 0) (depth--, body += ")");
    else if (ch === "," && depth > 0) body += "|";
    else body += ch.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  if (depth > 0) throw new InputError(`--layers: '${glob}' has an unclosed '{'`);
  return new RegExp(`^${body}$`);
}

/** A --layers value split at its top-level commas (those inside `{a,b}` belong to the glob). */
export function splitGlobs(list: string): string[] {
  const out: string[] = [];
  let cur = "", depth = 0;
  for (const ch of list) {
    if (ch === "," && depth === 0) (out.push(cur), cur = "");
    else {
      if (ch === "{") depth++;
      if (ch === "}" && depth > 0) depth--;
      cur += ch;
    }
  }
  out.push(cur);
  return out.map((g) => g.trim()).filter(Boolean);
}

/**
 * A --layers value as a name filter: names matching any glob (every name when
 * all globs are exclusions), minus those matching a `!glob`.
 */
export function layerFilter(globs: string): (name: string) => boolean {
  const parts = splitGlobs(globs);
  const include = parts.filter((g) => !g.startsWith("!")).map(globToRegExp);
  const exclude = parts.filter((g) => g.startsWith("!")).map((g) => globToRegExp(g.slice(1)));
  return (name) => (!include.length || include.some((r) => r.test(name))) && !exclude.some((r) => r.test(name));
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
  const keep = layerFilter(globs);
  const out = twoD.filter((t) => keep(t.name));
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

const BLOCK_INDEX = /(?:^|\.)(?:layers|h|blk|block|blocks)\.(\d+)\./;
const KIND_ORDER: LayerKind[] = ["embed", "attn_qkv", "attn_out", "mlp_up", "mlp_down", "other", "lm_head"];
const SHORT_TAIL: Partial<Record<LayerKind, string>> = {
  attn_qkv: "qkv",
  attn_out: "attn.out",
  mlp_up: "mlp.up",
  mlp_down: "mlp.down",
};

/**
 * A short label for a weight: `embed`, `lm_head`, or `L<block>.<part>`
 * (`L0.qkv`, `L0.attn.out`, `L0.mlp.up`, `L0.mlp.down`; split projections
 * keep their own name: `L0.q_proj`); other names lose only `.weight`.
 */
export function shortLayerName(name: string): string {
  const kind = layerKind(name);
  if (kind === "embed" || kind === "lm_head") return kind;
  const m = BLOCK_INDEX.exec(name);
  if (!m) return name.replace(/\.weight$/, "");
  const rest = name.slice(m.index + m[0].length).replace(/\.weight$/, "");
  const fused = /query_key_value|attn_qkv|c_attn|qkv_proj/.test(rest) || kind !== "attn_qkv";
  const tail = (fused ? SHORT_TAIL[kind] : undefined) ?? rest.split(".").pop()!;
  return `L${m[1]}.${kind === "mlp_up" && /gate/.test(rest) ? "mlp.gate" : tail}`;
}

/** Model order for weight names: embedding, then block by block (qkv, out, up, down), then the head; numbers compare as numbers. */
export function compareLayers(a: string, b: string): number {
  const key = (n: string) => {
    const k = layerKind(n), m = BLOCK_INDEX.exec(n);
    const block = k === "embed" ? -1 : k === "lm_head" ? Infinity : m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
    return [block, KIND_ORDER.indexOf(k)];
  };
  const [ab, ak] = key(a), [bb, bk] = key(b);
  return ab - bb || ak - bk || NATURAL.compare(a, b);
}

const NATURAL = new Intl.Collator("en", { numeric: true });
