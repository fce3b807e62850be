/**
 * The codes a kernel format runs, quantized from f32 weights — for benchmarks, tests and demos that start from
 * weights (the sweep times each row's own Quantized instead: latency.ts). The kernels never quantize (formats.ts).
 */
import type { KernelName, WeightCodes } from "../kernels/formats.ts";
import { quantizeWeight } from "../quant/transforms.ts";
import type { QuantConfig, WeightMatrix } from "../quant/types.ts";

/**
 * The config a kernel's codes come from: int8 rtn_sym.b8.g64; the ternary formats ternary_absmean with one scale a
 * row, or sparse_klevel l3 at `sparsity` zeros.
 */
export function kernelConfig(kernel: KernelName, sparsity?: number): QuantConfig | null {
  if (kernel === "fp32") return null;
  if (kernel === "int8") return { method: "rtn_sym", bits: 8, groupSize: 64, scaleDtype: "f16" };
  return sparsity === undefined
    ? { method: "ternary_absmean", groupSize: "row", scaleDtype: "f16" }
    : { method: "sparse_klevel", levels: 3, sparsity, groupSize: "row", scaleDtype: "f16" };
}

/** `w` as the codes `kernel` is prepared from (see kernelConfig). */
export function kernelCodes(kernel: KernelName, w: WeightMatrix, sparsity?: number): WeightCodes {
  const c = kernelConfig(kernel, sparsity);
  if (!c) return { kind: "f32", rows: w.rows, cols: w.cols, data: w.data };
  return { kind: "quant", rows: w.rows, cols: w.cols, q: quantizeWeight(w, c), groupSize: c.groupSize };
}
