/**
 * Calibration activations: each linear layer's inputs captured on a slice of
 * training text, and the output error a quantized weight causes on them,
 *   out_rel_error = ‖X·Wᵀ − X·Ŵᵀ‖F / ‖X·Wᵀ‖F.
 */
import { hessianFromInputs } from "../quant/hessian.ts";
import type { HessianSource } from "../quant/transforms.ts";
import { type DenseOps, transpose } from "./ops.ts";
import type { NeoxForward } from "./neox.ts";

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
