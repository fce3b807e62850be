/**
 * GPT-NeoX (Pythia) forward pass over weights from the tensor readers, with
 * HF parameter names and layouts: fused qkv interleaved per head
 * ([q_h | k_h | v_h] per head), rotary on the first rotary_pct of each head
 * (non-interleaved, rotate_half), causal attention, parallel residual
 * x + attn(ln1(x)) + mlp(ln2(x)), exact GELU, final LayerNorm, unembedding.
 * Matmuls go through DenseOps (C kernels on the hot path).
 */
import { InputError } from "../errors.ts";
import { type ModelSource, openModel } from "../tensor/model.ts";
import { quantizeActivations } from "../kernels/formats.ts";
import { type DenseOps, transpose } from "./ops.ts";

export interface NeoxConfig {
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  rotary_pct: number;
  rotary_emb_base: number;
  max_position_embeddings: number;
  vocab_size: number;
  use_parallel_residual: boolean;
  layer_norm_eps: number;
  hidden_act: string;
}

/** How linear layers see their inputs: as computed (fp32) or quantized per token to int8. */
export type ActivationMode = "fp32" | "int8";
export const ACTIVATION_MODES: readonly ActivationMode[] = ["fp32", "int8"];

/** The --activations flag's value, checked (default fp32). */
export function parseActivations(v: string | undefined): ActivationMode {
  if (v === undefined) return "fp32";
  if (!ACTIVATION_MODES.includes(v as ActivationMode)) {
    throw new InputError(`--activations: '${v}' is not one of ${ACTIVATION_MODES.join(", ")}`);
  }
  return v as ActivationMode;
}

/** Every weight the forward pass reads, by HF name, as f32. */
export type Weights = Map<string, Float32Array>;

/** The numeric hyper-parameters a GPT-NeoX config must give. */
const NUMERIC_KEYS = [
  "hidden_size",
  "num_hidden_layers",
  "num_attention_heads",
  "intermediate_size",
  "rotary_pct",
  "rotary_emb_base",
  "max_position_embeddings",
  "vocab_size",
  "layer_norm_eps",
] as const;

/** Whether two configs describe the same architecture (every NeoxConfig field equal). */
export function sameNeoxArchitecture(a: NeoxConfig, b: NeoxConfig): boolean {
  return [...NUMERIC_KEYS, "use_parallel_residual", "hidden_act"].every((k) =>
    a[k as keyof NeoxConfig] === b[k as keyof NeoxConfig]
  );
}

export function parseNeoxConfig(raw: Record<string, unknown>, where: string): NeoxConfig {
  if (!Object.keys(raw).length) {
    throw new InputError(
      `${where}: no model config (config.json) — a GPT-NeoX forward pass needs one: give the folder that holds ` +
        "config.json and the .safetensors as --model",
    );
  }
  for (const k of NUMERIC_KEYS) {
    if (typeof raw[k] !== "number") {
      throw new InputError(`${where}: config.json lacks numeric '${k}' (a GPT-NeoX config is needed)`);
    }
  }
  const act = String(raw.hidden_act ?? "gelu");
  if (act !== "gelu") throw new InputError(`${where}: hidden_act '${act}' is not supported (gelu)`);
  return {
    ...(raw as unknown as NeoxConfig),
    use_parallel_residual: raw.use_parallel_residual !== false,
    hidden_act: act,
  };
}

/** Every tensor of a model source, read as f32, by name. */
export async function readAllWeights(src: ModelSource): Promise<Weights> {
  const weights: Weights = new Map();
  for (const t of src.tensors) weights.set(t.name, (await src.read(t.name)).data);
  return weights;
}

/** Load config + all weights of a NeoX model folder. */
export async function loadNeox(path: string): Promise<{ config: NeoxConfig; weights: Weights }> {
  const src = await openModel(path);
  return { config: parseNeoxConfig(src.config, path), weights: await readAllWeights(src) };
}

/** The tensors a stage of the forward pass reads: as stored (`w`), and 2-D linears transposed to [in, out] (`t`). */
export interface StageWeights {
  w(name: string): Float32Array;
  t(name: string): Float32Array;
}

/** The six weight+bias pairs of block `l`, by HF name suffix. */
const BLOCK_PARTS = [
  "input_layernorm",
  "post_attention_layernorm",
  "attention.query_key_value",
  "attention.dense",
  "mlp.dense_h_to_4h",
  "mlp.dense_4h_to_h",
] as const;

/** Every tensor block `l` reads, by HF name. */
export function blockTensorNames(l: number): string[] {
  return BLOCK_PARTS.flatMap((s) => [`gpt_neox.layers.${l}.${s}.weight`, `gpt_neox.layers.${l}.${s}.bias`]);
}

/** The tensors the final stage reads (final LayerNorm, unembedding). */
export const HEAD_TENSOR_NAMES = [
  "gpt_neox.final_layer_norm.weight",
  "gpt_neox.final_layer_norm.bias",
  "embed_out.weight",
];

/** The [rows, cols] of every linear layer's weight, by HF name. */
export function linearShapes(c: NeoxConfig): Map<string, [number, number]> {
  const shapes = new Map<string, [number, number]>();
  const d = c.hidden_size, ff = c.intermediate_size;
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `gpt_neox.layers.${i}`;
    shapes.set(`${p}.attention.query_key_value.weight`, [3 * d, d]);
    shapes.set(`${p}.attention.dense.weight`, [d, d]);
    shapes.set(`${p}.mlp.dense_h_to_4h.weight`, [ff, d]);
    shapes.set(`${p}.mlp.dense_4h_to_h.weight`, [d, ff]);
  }
  shapes.set("embed_out.weight", [c.vocab_size, d]);
  return shapes;
}

/**
 * Where a tensor enters the forward pass: −1 the embedding, 0…L−1 its block,
 * L the head; null for a tensor the pass does not read.
 */
export function forwardStage(name: string, c: NeoxConfig): number | null {
  if (name === "gpt_neox.embed_in.weight") return -1;
  if (HEAD_TENSOR_NAMES.includes(name)) return c.num_hidden_layers;
  const m = /^gpt_neox\.layers\.(\d+)\./.exec(name);
  if (!m || Number(m[1]) >= c.num_hidden_layers) return null;
  return blockTensorNames(Number(m[1])).includes(name) ? Number(m[1]) : null;
}

/**
 * The forward pass cut into stages — embed, one block at a time, head — so a
 * caller can hold one block's weights at a time (streaming from disk) or all
 * of them (NeoxForward). Every stage runs the same ops in the same order either
 * way, so the results are bit-identical.
 */
export class NeoxStages {
  private readonly cos: Float32Array;
  private readonly sin: Float32Array;
  private readonly rot: number;

  /**
   * `activations: "int8"` quantizes every linear layer's input per token
   * (absmax/127, round half away from zero: the integer kernels'
   * quantizeActivations) before its matmul — the W×A8 model; capture still
   * sees the fp32 inputs.
   */
  constructor(readonly config: NeoxConfig, private readonly ops: DenseOps, readonly activations: ActivationMode) {
    const c = config;
    const headSize = c.hidden_size / c.num_attention_heads;
    this.rot = Math.floor(headSize * c.rotary_pct);
    // inv_freq_i = base^(−2i/rot); emb = [freqs, freqs] (HF GPTNeoXRotaryEmbedding)
    const T = c.max_position_embeddings, half = this.rot / 2;
    this.cos = new Float32Array(T * this.rot);
    this.sin = new Float32Array(T * this.rot);
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < half; i++) {
        const invFreq = Math.fround(1 / c.rotary_emb_base ** ((2 * i) / this.rot));
        const ang = Math.fround(t * invFreq);
        for (const j of [i, i + half]) {
          this.cos[t * this.rot + j] = Math.cos(ang);
          this.sin[t * this.rot + j] = Math.sin(ang);
        }
      }
    }
  }

  /** A linear layer's input: captured as computed, then as the matmul sees it. */
  private input(
    weight: string,
    v: Float32Array,
    T: number,
    cols: number,
    capture?: (weight: string, x: Float32Array) => void,
  ): Float32Array {
    capture?.(weight, v);
    return this.activations === "int8" ? quantizeActivations(v, T, cols, cols).dequantized : v;
  }

  /** The residual stream [T × d] a token sequence starts as (rows of the embedding `emb`). */
  embed(tokens: ArrayLike<number>, emb: Float32Array): Float32Array {
    const c = this.config, T = tokens.length, d = c.hidden_size;
    if (T > c.max_position_embeddings) {
      throw new InputError(`sequence of ${T} tokens exceeds the context ${c.max_position_embeddings}`);
    }
    const x = new Float32Array(T * d);
    for (let t = 0; t < T; t++) {
      const tok = tokens[t];
      if (!(tok >= 0 && tok < c.vocab_size)) {
        throw new InputError(`token ${tok} at position ${t} is outside the vocabulary`);
      }
      x.set(emb.subarray(tok * d, tok * d + d), t * d);
    }
    return x;
  }

  /** Block `l` on the residual stream x [T × d], in place. */
  block(l: number, x: Float32Array, ws: StageWeights, capture?: (weight: string, x: Float32Array) => void): void {
    const c = this.config, ops = this.ops, d = c.hidden_size, ff = c.intermediate_size;
    const T = x.length / d, H = c.num_attention_heads, eps = c.layer_norm_eps;
    const h = new Float32Array(T * d), qkv = new Float32Array(T * 3 * d), att = new Float32Array(T * d);
    const attnOut = new Float32Array(T * d), up = new Float32Array(T * ff), down = new Float32Array(T * d);
    const p = `gpt_neox.layers.${l}`, w = (n: string) => ws.w(`${p}.${n}`), t = (n: string) => ws.t(`${p}.${n}`);
    const input = (n: string, v: Float32Array, cols: number) => this.input(`${p}.${n}`, v, T, cols, capture);
    ops.layernorm(x, w("input_layernorm.weight"), w("input_layernorm.bias"), h, T, d, eps);
    const qkvW = "attention.query_key_value.weight";
    ops.gemm(input(qkvW, h, d), t(qkvW), w("attention.query_key_value.bias"), qkv, T, 3 * d, d);
    ops.attention(qkv, att, this.cos, this.sin, T, d, H, this.rot);
    const denseW = "attention.dense.weight";
    ops.gemm(input(denseW, att, d), t(denseW), w("attention.dense.bias"), attnOut, T, d, d);
    if (!c.use_parallel_residual) { for (let i = 0; i < x.length; i++) x[i] += attnOut[i]; }
    ops.layernorm(x, w("post_attention_layernorm.weight"), w("post_attention_layernorm.bias"), h, T, d, eps);
    const upW = "mlp.dense_h_to_4h.weight", downW = "mlp.dense_4h_to_h.weight";
    ops.gemm(input(upW, h, d), t(upW), w("mlp.dense_h_to_4h.bias"), up, T, ff, d);
    ops.gelu(up);
    ops.gemm(input(downW, up, ff), t(downW), w("mlp.dense_4h_to_h.bias"), down, T, d, ff);
    if (c.use_parallel_residual) { for (let i = 0; i < x.length; i++) x[i] += attnOut[i] + down[i]; }
    else for (let i = 0; i < x.length; i++) x[i] += down[i];
  }

  /** The unembedding's input: the final LayerNorm of x [T × d]. */
  headInput(x: Float32Array, ws: Pick<StageWeights, "w">): Float32Array {
    const c = this.config, d = c.hidden_size, h = new Float32Array(x.length);
    const w = (n: string) => ws.w(`gpt_neox.final_layer_norm.${n}`);
    this.ops.layernorm(x, w("weight"), w("bias"), h, x.length / d, d, c.layer_norm_eps);
    return h;
  }

  /** Logits [T × vocab] from the unembedding's input h (headInput) and embed_out transposed. */
  logits(h: Float32Array, embedOutT: Float32Array, capture?: (weight: string, x: Float32Array) => void): Float32Array {
    const c = this.config, d = c.hidden_size, T = h.length / d;
    const out = new Float32Array(T * c.vocab_size);
    this.ops.gemm(this.input("embed_out.weight", h, T, d, capture), embedOutT, null, out, T, c.vocab_size, d);
    return out;
  }
}

/** The whole model in memory: every weight, 2-D linears kept transposed for the GEMM. */
export class NeoxForward implements StageWeights {
  /** 2-D weights transposed to [in, out] for the GEMM, by name. */
  private readonly wt = new Map<string, Float32Array>();
  private readonly shapes: Map<string, [number, number]>;
  private readonly weights: Weights;
  readonly stages: NeoxStages;

  /** `activations` as NeoxStages takes it. */
  constructor(
    readonly config: NeoxConfig,
    weights: Weights,
    ops: DenseOps,
    readonly activations: ActivationMode = "fp32",
  ) {
    this.weights = new Map(weights);
    this.stages = new NeoxStages(config, ops, activations);
    for (const n of this.requiredNames()) if (!weights.has(n)) throw new InputError(`model lacks tensor ${n}`);
    this.shapes = linearShapes(config);
    for (const n of this.shapes.keys()) this.setWeight(n, weights.get(n)!);
  }

  /** Replace one weight (e.g. by its quantized Ŵ) without rebuilding the others. */
  setWeight(name: string, data: Float32Array): void {
    const old = this.weights.get(name);
    if (!old || old.length !== data.length) {
      throw new InputError(`tensor ${name}: cannot replace (unknown or wrong size)`);
    }
    this.weights.set(name, data);
    const shape = this.shapes.get(name);
    if (shape) this.wt.set(name, transpose(data, shape[0], shape[1]));
  }

  requiredNames(): string[] {
    const names = ["gpt_neox.embed_in.weight", ...HEAD_TENSOR_NAMES];
    for (let i = 0; i < this.config.num_hidden_layers; i++) names.push(...blockTensorNames(i));
    return names;
  }

  w(name: string): Float32Array {
    return this.weights.get(name)!;
  }

  t(name: string): Float32Array {
    return this.wt.get(name)!;
  }

  /**
   * Logits [T × vocab] for a token sequence (T ≤ max_position_embeddings).
   * `capture(name, x)` receives the input [T × in] of every linear layer, by weight name.
   */
  forward(tokens: ArrayLike<number>, capture?: (weight: string, x: Float32Array) => void): Float32Array {
    const s = this.stages;
    const x = s.embed(tokens, this.w("gpt_neox.embed_in.weight"));
    for (let l = 0; l < this.config.num_hidden_layers; l++) s.block(l, x, this, capture);
    return s.logits(s.headInput(x, this), this.t("embed_out.weight"), capture);
  }
}
