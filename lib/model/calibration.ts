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
import { type DenseOps, nativeOps, transposeInto, tsOps } from "./ops.ts";
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

  /** From captured inputs [Σ tokens × in], by weight name. */
  static fromInputs(inputs: Map<string, Float32Array>, ops: DenseOps): Calibration {
    return new Calibration(inputs, ops);
  }

  /** Run the model over `text` in context-sized windows and keep every linear layer's inputs. */
  static capture(model: NeoxForward, text: Uint8Array, ops: DenseOps): Calibration {
    const parts = new Map<string, Float32Array[]>();
    for (const w of calibrationWindows(text, model.config.max_position_embeddings)) {
      model.forward(w, collectInto(parts));
    }
    return new Calibration(concatInputs(parts), ops);
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
    // a block of output rows at a time, into buffers reused across blocks, so the temporaries stay small next to W
    const block = Math.max(1, Math.min(rows, Math.floor(OUT_ERROR_BLOCK / Math.max(cols, T))));
    const diff = new Float32Array(block * cols),
      wT = new Float32Array(block * cols),
      dT = new Float32Array(block * cols);
    const y = new Float32Array(T * block), e = new Float32Array(T * block);
    let ee = 0, yy = 0;
    for (let r0 = 0; r0 < rows; r0 += block) {
      const n = Math.min(block, rows - r0), wb = w.subarray(r0 * cols, (r0 + n) * cols), m = n * cols;
      for (let i = 0; i < m; i++) diff[i] = wb[i] - wq[r0 * cols + i];
      transposeInto(wb, n, cols, wT);
      transposeInto(diff.subarray(0, m), n, cols, dT);
      this.ops.gemm(x, wT.subarray(0, m), null, y, T, n, cols);
      this.ops.gemm(x, dT.subarray(0, m), null, e, T, n, cols); // X(W−Ŵ)ᵀ, linear in W
      for (let i = 0; i < T * n; i++) {
        ee += e[i] * e[i];
        yy += y[i] * y[i];
      }
    }
    return yy > 0 ? Math.sqrt(ee / yy) : ee > 0 ? Infinity : 0;
  }
}

/** Elements per temporary of outRelError's row blocks (4 Mi floats = 16 MiB). */
const OUT_ERROR_BLOCK = 1 << 22;

/** The windows calibration runs over: `text` cut every `ctx` bytes (a last window of 1 byte is dropped). */
export function calibrationWindows(text: Uint8Array, ctx: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let s = 0; s + 1 < text.length; s += ctx) out.push(text.subarray(s, Math.min(s + ctx, text.length)));
  return out;
}

/** A capture callback that appends a copy of each input to `parts[weight]`. */
export function collectInto(parts: Map<string, Float32Array[]>): (weight: string, x: Float32Array) => void {
  return (name, x) => {
    if (!parts.has(name)) parts.set(name, []);
    parts.get(name)!.push(x.slice());
  };
}

/** Each weight's captured parts joined in order: [Σ tokens × in]. */
export function concatInputs(parts: Map<string, Float32Array[]>): Map<string, Float32Array> {
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
  return inputs;
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
