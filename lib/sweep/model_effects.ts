/**
 * What a quantized layer does to the model, for sweep rows: the output error on
 * calibration activations (out_rel_error) and, with --eval, the change in
 * held-out bits per byte when only that layer is quantized (delta_bpb).
 * Needs a GPT-NeoX model (the forward pass); other models get nulls.
 */
import { ensureNative } from "../kernels/native.ts";
import { heldoutBpb } from "../model/bpb.ts";
import { Calibration } from "../model/calibration.ts";
import { type ActivationMode, NeoxForward, parseNeoxConfig, readAllWeights, type Weights } from "../model/neox.ts";
import { nativeOps, tsOps } from "../model/ops.ts";
import type { ModelSource } from "../tensor/model.ts";

export class ModelEffects {
  private baseBpb = NaN;
  private constructor(
    private readonly model: NeoxForward,
    private readonly weights: Weights,
    private readonly calib: Calibration | null,
    private readonly evalText: Uint8Array | null,
  ) {
    if (evalText) this.baseBpb = heldoutBpb(model, evalText).bpb;
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
    const weights = await readAllWeights(src);
    const lib = await ensureNative();
    const ops = lib ? nativeOps(lib) : tsOps;
    // calibration inputs are the fp32 model's; Δbpb is measured with the requested activations
    const fp32 = new NeoxForward(config, weights, ops);
    const calib = opts.calibText ? Calibration.capture(fp32, opts.calibText, ops) : null;
    const model = opts.activations === "int8" ? new NeoxForward(config, weights, ops, "int8") : fp32;
    return new ModelEffects(model, weights, calib, opts.evalText ?? null);
  }

  /** The calibration inputs' Hessians, for calibrated transforms (+gptq); null without calibration text. */
  get hessians(): Calibration | null {
    return this.calib;
  }

  outRelError(layer: string, wq: Float32Array, rows: number, cols: number): number | null {
    const w = this.weights.get(layer);
    return this.calib && w ? this.calib.outRelError(layer, w, wq, rows, cols) : null;
  }

  /** bpb(model with only `layer` replaced by Ŵ) − bpb(model) on the eval slice. */
  deltaBpb(layer: string, wq: Float32Array): number | null {
    const w = this.weights.get(layer);
    if (!this.evalText || !w) return null;
    this.model.setWeight(layer, wq);
    try {
      return heldoutBpb(this.model, this.evalText).bpb - this.baseBpb;
    } finally {
      this.model.setWeight(layer, w);
    }
  }
}
