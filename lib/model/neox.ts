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

export class NeoxForward {
  private readonly cos: Float32Array;
  private readonly sin: Float32Array;
  private readonly headSize: number;
  private readonly rot: number;
  /** 2-D weights transposed to [in, out] for the GEMM, by name. */
  private readonly wt = new Map<string, Float32Array>();
  private readonly linearShapes = new Map<string, [number, number]>();
  private readonly weights: Weights;

  /**
   * `activations: "int8"` quantizes every linear layer's input per token
   * (absmax/127, round half away from zero: the integer kernels'
   * quantizeActivations) before its matmul — the W×A8 model; capture still
   * sees the fp32 inputs.
   */
  constructor(
    readonly config: NeoxConfig,
    weights: Weights,
    private readonly ops: DenseOps,
    readonly activations: ActivationMode = "fp32",
  ) {
    this.weights = new Map(weights);
    const c = config;
    this.headSize = c.hidden_size / c.num_attention_heads;
    this.rot = Math.floor(this.headSize * c.rotary_pct);
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
    for (const n of this.requiredNames()) if (!weights.has(n)) throw new InputError(`model lacks tensor ${n}`);
    const d = c.hidden_size, ff = c.intermediate_size;
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const p = `gpt_neox.layers.${i}`;
      this.linearShapes.set(`${p}.attention.query_key_value.weight`, [3 * d, d]);
      this.linearShapes.set(`${p}.attention.dense.weight`, [d, d]);
      this.linearShapes.set(`${p}.mlp.dense_h_to_4h.weight`, [ff, d]);
      this.linearShapes.set(`${p}.mlp.dense_4h_to_h.weight`, [d, ff]);
    }
    this.linearShapes.set("embed_out.weight", [c.vocab_size, d]);
    for (const n of this.linearShapes.keys()) this.setWeight(n, weights.get(n)!);
  }

  /** Replace one weight (e.g. by its quantized Ŵ) without rebuilding the others. */
  setWeight(name: string, data: Float32Array): void {
    const old = this.weights.get(name);
    if (!old || old.length !== data.length) {
      throw new InputError(`tensor ${name}: cannot replace (unknown or wrong size)`);
    }
    this.weights.set(name, data);
    const shape = this.linearShapes.get(name);
    if (shape) this.wt.set(name, transpose(data, shape[0], shape[1]));
  }

  requiredNames(): string[] {
    const names = [
      "gpt_neox.embed_in.weight",
      "gpt_neox.final_layer_norm.weight",
      "gpt_neox.final_layer_norm.bias",
      "embed_out.weight",
    ];
    for (let i = 0; i < this.config.num_hidden_layers; i++) {
      const p = `gpt_neox.layers.${i}`;
      for (
        const s of [
          "input_layernorm",
          "post_attention_layernorm",
          "attention.query_key_value",
          "attention.dense",
          "mlp.dense_h_to_4h",
          "mlp.dense_4h_to_h",
        ]
      ) {
        names.push(`${p}.${s}.weight`, `${p}.${s}.bias`);
      }
    }
    return names;
  }

  private w(name: string): Float32Array {
    return this.weights.get(name)!;
  }

  private t(name: string): Float32Array {
    return this.wt.get(name)!;
  }

  /**
   * Logits [T × vocab] for a token sequence (T ≤ max_position_embeddings).
   * `capture(name, x)` receives the input [T × in] of every linear layer, by weight name.
   */
  forward(tokens: ArrayLike<number>, capture?: (weight: string, x: Float32Array) => void): Float32Array {
    const c = this.config, ops = this.ops;
    const T = tokens.length, d = c.hidden_size, H = c.num_attention_heads, ff = c.intermediate_size;
    if (T > c.max_position_embeddings) {
      throw new InputError(`sequence of ${T} tokens exceeds the context ${c.max_position_embeddings}`);
    }
    /** A linear layer's input: captured as computed, then as the matmul sees it. */
    const input = (weight: string, v: Float32Array, cols: number): Float32Array => {
      capture?.(weight, v);
      return this.activations === "int8" ? quantizeActivations(v, T, cols, cols).dequantized : v;
    };
    const emb = this.w("gpt_neox.embed_in.weight");
    const x = new Float32Array(T * d);
    for (let t = 0; t < T; t++) {
      const tok = tokens[t];
      if (!(tok >= 0 && tok < c.vocab_size)) {
        throw new InputError(`token ${tok} at position ${t} is outside the vocabulary`);
      }
      x.set(emb.subarray(tok * d, tok * d + d), t * d);
    }
    const h = new Float32Array(T * d), qkv = new Float32Array(T * 3 * d), att = new Float32Array(T * d);
    const attnOut = new Float32Array(T * d), up = new Float32Array(T * ff), down = new Float32Array(T * d);
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const p = `gpt_neox.layers.${l}`;
      ops.layernorm(
        x,
        this.w(`${p}.input_layernorm.weight`),
        this.w(`${p}.input_layernorm.bias`),
        h,
        T,
        d,
        c.layer_norm_eps,
      );
      ops.gemm(
        input(`${p}.attention.query_key_value.weight`, h, d),
        this.t(`${p}.attention.query_key_value.weight`),
        this.w(`${p}.attention.query_key_value.bias`),
        qkv,
        T,
        3 * d,
        d,
      );
      ops.attention(qkv, att, this.cos, this.sin, T, d, H, this.rot);
      const attIn = input(`${p}.attention.dense.weight`, att, d);
      ops.gemm(attIn, this.t(`${p}.attention.dense.weight`), this.w(`${p}.attention.dense.bias`), attnOut, T, d, d);
      if (c.use_parallel_residual) {
        ops.layernorm(
          x,
          this.w(`${p}.post_attention_layernorm.weight`),
          this.w(`${p}.post_attention_layernorm.bias`),
          h,
          T,
          d,
          c.layer_norm_eps,
        );
      } else {
        for (let i = 0; i < x.length; i++) x[i] += attnOut[i];
        ops.layernorm(
          x,
          this.w(`${p}.post_attention_layernorm.weight`),
          this.w(`${p}.post_attention_layernorm.bias`),
          h,
          T,
          d,
          c.layer_norm_eps,
        );
      }
      const upIn = input(`${p}.mlp.dense_h_to_4h.weight`, h, d);
      ops.gemm(upIn, this.t(`${p}.mlp.dense_h_to_4h.weight`), this.w(`${p}.mlp.dense_h_to_4h.bias`), up, T, ff, d);
      ops.gelu(up);
      const downIn = input(`${p}.mlp.dense_4h_to_h.weight`, up, ff);
      ops.gemm(downIn, this.t(`${p}.mlp.dense_4h_to_h.weight`), this.w(`${p}.mlp.dense_4h_to_h.bias`), down, T, d, ff);
      if (c.use_parallel_residual) { for (let i = 0; i < x.length; i++) x[i] += attnOut[i] + down[i]; }
      else for (let i = 0; i < x.length; i++) x[i] += down[i];
    }
    ops.layernorm(
      x,
      this.w("gpt_neox.final_layer_norm.weight"),
      this.w("gpt_neox.final_layer_norm.bias"),
      h,
      T,
      d,
      c.layer_norm_eps,
    );
    const logits = new Float32Array(T * c.vocab_size);
    ops.gemm(input("embed_out.weight", h, d), this.t("embed_out.weight"), null, logits, T, c.vocab_size, d);
    return logits;
  }
}
