/**
 * Kernel latency for sweep rows: which GEMV kernel would run a layer stored
 * in a config, and its median time for that layer's shape (batch 1, one
 * thread), measured once per (shape, kernel) in a run. Small layers stay in
 * cache, so these are cache-resident figures; `deno task bench kernels`
 * gives DRAM-resident ones.
 */
import type { KernelName } from "../kernels/formats.ts";
import { cGemv } from "../kernels/gemv.ts";
import type { NativeLib } from "../kernels/native.ts";
import type { QuantConfig, WeightMatrix } from "../quant/types.ts";
import { seededGaussian } from "../random.ts";

/** The kernel a config's weights run on (there are no 2–7-bit kernels yet: those run as int8). */
export function kernelFor(c: QuantConfig): { kernel: KernelName; sparsity?: number } {
  if (c.method === "ternary_absmean" || c.method === "sign") return { kernel: "ternary2" };
  if (c.method === "sparse_klevel" && c.levels === 3) {
    return c.sparsity! >= 0.9
      ? { kernel: "sparse_ternary", sparsity: c.sparsity }
      : { kernel: "ternary2", sparsity: c.sparsity };
  }
  return { kernel: "int8" };
}

export class LatencyTable {
  private cache = new Map<string, number>();
  constructor(private readonly lib: NativeLib, private readonly reps = 25) {}

  /** Median µs of one GEMV of this layer's shape with the config's kernel. */
  measure(w: WeightMatrix, c: QuantConfig): { kernel: KernelName; gemv_us: number } {
    const { kernel, sparsity } = kernelFor(c);
    const key = `${w.rows}x${w.cols}/${kernel}/${sparsity ?? ""}`;
    if (!this.cache.has(key)) {
      const k = cGemv(kernel, this.lib);
      const p = k.prepare(w, sparsity);
      const x = seededGaussian(w.cols, 1, 1), y = new Float32Array(w.rows);
      for (let i = 0; i < 5; i++) k.run(p, x, y, 1, 1); // warm-up (JIT, page faults)
      const t: number[] = [];
      for (let i = 0; i < this.reps; i++) {
        const t0 = performance.now();
        k.run(p, x, y, 1, 1);
        t.push((performance.now() - t0) * 1000);
      }
      t.sort((a, b) => a - b);
      this.cache.set(key, t[Math.floor(t.length / 2)]);
    }
    return { kernel, gemv_us: this.cache.get(key)! };
  }
}
