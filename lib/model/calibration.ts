/**
 * Calibration activations: each linear layer's inputs captured on a slice of
 * training text, and the output error a quantized weight causes on them,
 *   out_rel_error = ‖X·Wᵀ − X·Ŵᵀ‖F / ‖X·Wᵀ‖F.
 */
import { hessianFromInputs } from "../quant/hessian.ts";
import { type HessianSource, needsCalibration } from "../quant/transforms.ts";
import type { QuantConfig } from "../quant/types.ts";
import { InputError } from "../errors.ts";
import { ensureNative } from "../kernels/native.ts";
import type { ModelSource } from "../tensor/model.ts";
import { type DenseOps, nativeOps, transpose, tsOps } from "./ops.ts";
import { NeoxForward, parseNeoxConfig, type Weights } from "./neox.ts";

/** Does any config of a plan need calibration inputs? */
export function planNeedsCalibration(plan: Map<string, QuantConfig>): boolean {
  return [...plan.values()].some(needsCalibration);
}

export class Calibration implements HessianSource {
  private readonly hessians = new Map<string, Float64Array>();
  private constructor(private readonly inputs: Map<string, Float32Array>, private readonly ops: DenseOps) {}

  /**
   * H = XᵀX of a weight's captured inputs (f64, cached), for GPTQ: the
   * inputs of the fp32 model, every layer's from the same pass (not
   * re-captured after quantizing the layers before it).
   */
  hessian(weight: string, cols: number): Float64Array | null {
    const x = this.inputs.get(weight);
    if (!x) return null;
    let h = this.hessians.get(weight);
    if (!h) this.hessians.set(weight, h = hessianFromInputs(x, cols));
    return h;
  }

  /** Run the model over `text` in context-sized windows and keep every linear layer's inputs. */
  static capture(model: NeoxForward, text: Uint8Array, ops: DenseOps): Calibration {
    const ctx = model.config.max_position_embeddings;
    const parts = new Map<string, Float32Array[]>();
    for (let s = 0; s + 1 < text.length; s += ctx) {
      model.forward(text.subarray(s, Math.min(s + ctx, text.length)), (name, x) => {
        if (!parts.has(name)) parts.set(name, []);
        parts.get(name)!.push(x.slice());
      });
    }
    const inputs = new Map<string, Float32Array>();
    for (const [name, xs] of parts) {
      const x = new Float32Array(xs.reduce((a, p) => a + p.length, 0));
      let o = 0;
      for (const part of xs) {
        x.set(part, o);
        o += part.length;
      }
      inputs.set(name, x); // [Σ tokens × in]
    }
    return new Calibration(inputs, ops);
  }

  /** mean |x_j| of a weight's captured inputs, per input channel (f64), for `awq`. */
  meanAbs(weight: string, cols: number): Float64Array | null {
    const x = this.inputs.get(weight);
    if (!x) return null;
    const m = new Float64Array(cols), tokens = x.length / cols;
    for (let t = 0; t < tokens; t++) for (let j = 0; j < cols; j++) m[j] += Math.abs(x[t * cols + j]);
    for (let j = 0; j < cols; j++) m[j] /= tokens;
    return m;
  }

  has(weight: string): boolean {
    return this.inputs.has(weight);
  }

  /** ‖X·Wᵀ − X·Ŵᵀ‖F / ‖X·Wᵀ‖F for a weight [rows × cols], or null when no inputs were captured for it. */
  outRelError(weight: string, w: Float32Array, wq: Float32Array, rows: number, cols: number): number | null {
    const x = this.inputs.get(weight);
    if (!x) return null;
    const T = x.length / cols;
    const diff = new Float32Array(w.length);
    for (let i = 0; i < w.length; i++) diff[i] = w[i] - wq[i];
    const y = new Float32Array(T * rows), e = new Float32Array(T * rows);
    this.ops.gemm(x, transpose(w, rows, cols), null, y, T, rows, cols);
    this.ops.gemm(x, transpose(diff, rows, cols), null, e, T, rows, cols); // X(W−Ŵ)ᵀ, linear in W
    let ee = 0, yy = 0;
    for (let i = 0; i < y.length; i++) {
      ee += e[i] * e[i];
      yy += y[i] * y[i];
    }
    return yy > 0 ? Math.sqrt(ee / yy) : ee > 0 ? Infinity : 0;
  }
}

/** The sweep's default calibration slice, shared by every task so a row's Ŵ and a packed file's agree. */
export const DEFAULT_CALIB_BYTES = 4096;

/**
 * Calibration inputs for calibrated transforms: the first `bytes` of
 * `calibPath` (default <model>/calib.txt, training text) through the fp32
 * GPT-NeoX model, on the C kernels when they build.
 */
export async function calibrationFor(
  src: ModelSource,
  weights: Weights,
  opts: { calibPath?: string; bytes?: number } = {},
): Promise<Calibration> {
  const path = opts.calibPath ?? `${src.path}/calib.txt`;
  let text: Uint8Array;
  try {
    text = (await Deno.readFile(path)).subarray(0, opts.bytes ?? DEFAULT_CALIB_BYTES);
  } catch {
    throw new InputError(`${path}: cannot read calibration text for +gptq (give --calib FILE)`);
  }
  if (text.length < 2) throw new InputError(`${path}: calibration text is shorter than 2 bytes`);
  const config = parseNeoxConfig(src.config, src.path);
  const lib = await ensureNative();
  const ops = lib ? nativeOps(lib) : tsOps;
  return Calibration.capture(new NeoxForward(config, weights, ops), text, ops);
}
