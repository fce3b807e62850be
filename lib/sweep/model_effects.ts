/**
 * What a quantized layer does to the model, for sweep rows: the output error on
 * calibration activations (out_rel_error) and, with --eval, the change in
 * held-out bits per byte when only that layer is quantized (delta_bpb).
 * Needs a GPT-NeoX model (the forward pass); other models get nulls.
 *
 * Streamed, so memory follows the largest tensor rather than the model: the
 * sweep visits layers in forward order and `prepare(layer)` advances two
 * residual streams (calibration text through the fp32 model, eval text through
 * the model with the requested activations) block by block, reading one block
 * of weights at a time. Δbpb of a layer in block b runs only blocks b… from the
 * cached stream at b's input, reading the later blocks from disk again; its
 * prefix is the same computation as a full forward pass, so the value is
 * bit-identical to one.
 */
import { ensureNative } from "../kernels/native.ts";
import { addWindowBits, bpbWindows } from "../model/bpb.ts";
import { Calibration, calibrationWindows, collectInto, concatInputs } from "../model/calibration.ts";
import {
  type ActivationMode,
  blockTensorNames,
  forwardStage,
  HEAD_TENSOR_NAMES,
  linearShapes,
  type NeoxConfig,
  NeoxStages,
  parseNeoxConfig,
} from "../model/neox.ts";
import { readStage, StageTensors } from "../model/neox_stream.ts";
import { type DenseOps, nativeOps, tsOps } from "../model/ops.ts";
import type { HessianSource } from "../quant/transforms.ts";
import { InputError } from "../errors.ts";
import type { ModelSource } from "../tensor/model.ts";

const EMBED = "gpt_neox.embed_in.weight";
const EMBED_OUT = "embed_out.weight";
const FINAL_NORM = HEAD_TENSOR_NAMES.filter((n) => n !== EMBED_OUT);

export class ModelEffects {
  private readonly shapes: Map<string, [number, number]>;
  /** The stage the streams stand at: −1 before block 0 (nothing read yet: −2). */
  private stage = -2;
  /** The current stage's weights (a block, or the head). */
  private current: StageTensors | null = null;
  /** The final LayerNorm (small, kept), and embed_out transposed — kept only while stages before the head need it. */
  private norm: StageTensors | null = null;
  private embedOutT: Float32Array | null = null;
  /** Calibration residual streams at the input of stage + 1, and the current stage's captured inputs. */
  private calibStates: Float32Array[] = [];
  private calib: Calibration | null = null;
  /** Eval residual streams at the input of the current stage. */
  private evalStates: Float32Array[] = [];
  private baseBpb = NaN;

  private constructor(
    private readonly src: ModelSource,
    private readonly config: NeoxConfig,
    private readonly ops: DenseOps,
    private readonly fp32: NeoxStages,
    private readonly evalModel: NeoxStages,
    private readonly calibText: Uint8Array | null,
    private readonly evalText: Uint8Array | null,
  ) {
    this.shapes = linearShapes(config);
  }

  /** null when the model is not GPT-NeoX or nothing was asked for. */
  static async create(
    src: ModelSource,
    opts: { calibText?: Uint8Array; evalText?: Uint8Array; activations?: ActivationMode },
  ): Promise<ModelEffects | null> {
    if (!opts.calibText && !opts.evalText) return null;
    let config;
    try {
      config = parseNeoxConfig(src.config, src.path);
    } catch {
      return null;
    }
    const have = new Set(src.tensors.map((t) => t.name));
    const needed = [EMBED, ...HEAD_TENSOR_NAMES];
    for (let l = 0; l < config.num_hidden_layers; l++) needed.push(...blockTensorNames(l));
    for (const n of needed) if (!have.has(n)) throw new InputError(`${src.path}: model lacks tensor ${n}`);
    const lib = await ensureNative();
    const ops = lib ? nativeOps(lib) : tsOps;
    // calibration inputs are the fp32 model's; Δbpb is measured with the requested activations
    const fp32 = new NeoxStages(config, ops, "fp32");
    const evalModel = opts.activations === "int8" ? new NeoxStages(config, ops, "int8") : fp32;
    const fx = new ModelEffects(src, config, ops, fp32, evalModel, opts.calibText ?? null, opts.evalText ?? null);
    if (fx.evalText) fx.baseBpb = await fx.suffixBpb(-1, null, null);
    return fx;
  }

  /** The forward position of a layer, for visiting layers in order (null: not read by the forward pass). */
  stageOf(layer: string): number | null {
    return forwardStage(layer, this.config);
  }

  /** Advance the streams to the stage that reads `layer` (restarting from the embedding if it lies behind). */
  async prepare(layer: string): Promise<void> {
    const target = this.stageOf(layer);
    if (target === null || target === this.stage) return;
    if (target < this.stage) this.stage = -2;
    if (this.stage === -2) await this.start();
    const L = this.config.num_hidden_layers;
    while (this.stage < target) {
      const next = this.stage + 1;
      // the eval stream moves past the stage it stood at; the calibration stream (one ahead) past `next`
      if (this.stage >= 0 && this.current) {
        for (const x of this.evalStates) this.evalModel.block(this.stage, x, this.current);
      }
      if (next === L) this.embedOutT = null; // only rows of the head itself remain: each brings its own
      this.current = next < L ? await readStage(this.src, blockTensorNames(next), this.shapes) : await this.finalNorm();
      if (this.calibText) this.captureStage(next);
      this.stage = next;
    }
  }

  /** The calibration inputs' Hessians of the current stage, for calibrated transforms; null without calibration text. */
  get hessians(): HessianSource | null {
    if (!this.calibText) return null;
    const guard = (weight: string) => {
      const s = this.stageOf(weight);
      if (s !== null && s !== this.stage) throw new Error(`calibration asked for ${weight} at stage ${this.stage}`);
      return this.calib;
    };
    return {
      hessian: (weight, cols) => guard(weight)?.hessian(weight, cols) ?? null,
      meanAbs: (weight, cols) => guard(weight)?.meanAbs(weight, cols) ?? null,
    };
  }

  outRelError(layer: string, w: Float32Array, wq: Float32Array, rows: number, cols: number): number | null {
    if (!this.calib || this.stageOf(layer) !== this.stage) return null;
    return this.calib.outRelError(layer, w, wq, rows, cols);
  }

  /** bpb(model with only `layer` replaced by Ŵ) − bpb(model) on the eval slice; the layer's stage must be prepared. */
  async deltaBpb(layer: string, wq: Float32Array): Promise<number | null> {
    const s = this.stageOf(layer);
    if (!this.evalText || s === null) return null;
    if (s !== this.stage) throw new Error(`Δbpb asked for ${layer} at stage ${this.stage}`);
    return await this.suffixBpb(s, layer, wq) - this.baseBpb;
  }

  private async finalNorm(): Promise<StageTensors> {
    return this.norm ??= await readStage(this.src, FINAL_NORM, this.shapes);
  }

  /** embed_out transposed: cached before the head stage, read afresh (not kept) at it. */
  private async embedOut(): Promise<Float32Array> {
    if (this.embedOutT) return this.embedOutT;
    const t = (await readStage(this.src, [EMBED_OUT], this.shapes)).t(EMBED_OUT);
    if (this.stage < this.config.num_hidden_layers) this.embedOutT = t;
    return t;
  }

  /** Embed both texts (the embedding is read, used and dropped). */
  private async start(): Promise<void> {
    const emb = (await this.src.read(EMBED)).data;
    const ctx = this.config.max_position_embeddings;
    this.calibStates = this.calibText
      ? calibrationWindows(this.calibText, ctx).map((w) => this.fp32.embed(w, emb))
      : [];
    this.evalStates = this.evalText
      ? bpbWindows(this.evalText, ctx).map((w) => this.evalModel.embed(w.subarray(0, w.length - 1), emb))
      : [];
    this.stage = -1;
    this.current = null;
    this.calib = null;
  }

  /** Run the calibration streams through stage `s`, keeping its linear layers' inputs. */
  private captureStage(s: number): void {
    const parts = new Map<string, Float32Array[]>(), capture = collectInto(parts);
    if (s < this.config.num_hidden_layers) {
      for (const x of this.calibStates) this.fp32.block(s, x, this.current!, capture);
    } else for (const x of this.calibStates) capture(EMBED_OUT, this.fp32.headInput(x, this.current!));
    this.calib = Calibration.fromInputs(concatInputs(parts), this.ops);
  }

  /**
   * Held-out bpb with `layer` (of stage `s`) replaced by `wq` — from the eval
   * streams at s's input; s = −1 with no layer is the unquantized model.
   */
  private async suffixBpb(s: number, layer: string | null, wq: Float32Array | null): Promise<number> {
    const L = this.config.num_hidden_layers, m = this.evalModel, ctx = this.config.max_position_embeddings;
    const windows = bpbWindows(this.evalText!, ctx);
    let xs: Float32Array[];
    if (s === -1) {
      const emb = layer === EMBED && wq ? wq : (await this.src.read(EMBED)).data;
      xs = windows.map((w) => m.embed(w.subarray(0, w.length - 1), emb));
    } else xs = this.evalStates.map((x) => x.slice());
    for (let l = Math.max(s, 0); l < L; l++) {
      let ws = l === s ? this.current! : await readStage(this.src, blockTensorNames(l), this.shapes);
      if (l === s && layer && wq) ws = ws.with(layer, wq);
      for (const x of xs) m.block(l, x, ws);
    }
    let norm = await this.finalNorm(), out: Float32Array;
    if (s === L && layer === EMBED_OUT && wq) out = StageTensors.from(new Map([[layer, wq]]), this.shapes).t(layer);
    else {
      if (s === L && layer && wq) norm = norm.with(layer, wq);
      out = await this.embedOut();
    }
    const vocab = this.config.vocab_size;
    let bits = 0, predicted = 0;
    windows.forEach((w, i) => {
      bits = addWindowBits(bits, m.logits(m.headInput(xs[i], norm), out), w, vocab);
      predicted += w.length - 1;
    });
    return bits / predicted;
  }
}
