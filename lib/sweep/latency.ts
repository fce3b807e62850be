/**
 * Kernel latency for sweep rows: the fastest GEMV kernel for a layer stored
 * in a config, and its median time for that layer's shape (batch 1, one
 * thread), measured once per (shape, kernel) in a run. Small layers stay in
 * cache, so these are cache-resident figures; `deno task bench kernels`
 * gives DRAM-resident ones.
 */
import type { KernelName } from "../kernels/formats.ts";
import { cGemv } from "../kernels/gemv.ts";
import type { NativeLib } from "../kernels/native.ts";
import type { QuantConfig, Quantized, WeightMatrix } from "../quant/types.ts";
import { cUintBGemv, uintBUnsupported } from "../kernels/uint_b.ts";
import { seededGaussian } from "../random.ts";

/**
 * The kernels a config's weights can run on when they have no kernel of their own format (packedKernelFor, below):
 * 5–8-bit codes run as int8 (there is no such kernel yet). Ternary weights
 * run on the 2-bit and the base-3 kernel (1.6 bit: fewer bytes, more decode work); 3-level weights with ≥ 90 % zeros
 * also on the sparse one. The sweep times every candidate and reports the fastest.
 */
export function kernelsFor(c: QuantConfig): { kernel: KernelName; sparsity?: number }[] {
  if (c.method === "ternary_absmean" || c.method === "sign") {
    return [{ kernel: "ternary2" }, { kernel: "ternary_base3" }];
  }
  if (c.method === "sparse_klevel" && c.levels === 3) {
    const dense = [
      { kernel: "ternary2" as const, sparsity: c.sparsity },
      { kernel: "ternary_base3" as const, sparsity: c.sparsity },
    ];
    return c.sparsity! >= 0.9 ? [...dense, { kernel: "sparse_ternary", sparsity: c.sparsity }] : dense;
  }
  return [{ kernel: "int8" }];
}

/** The methods whose codes are uniform (a scale and an offset per group): uint_b's. */
const UNIFORM_METHODS = new Set(["rtn_asym", "rtn_sym", "hqq"]);

/** The kernels over bit-packed codes: uint_b, and klevel5 (5-level symmetric codes in uint_b's 3-bit layout). */
export type PackedKernel = "uint_b" | "klevel5";

/**
 * The packed-code kernel a row's own Quantized runs on, with its bits a code, or null: 2–4-bit uniform codes
 * (uint_b); sparse_klevel's 5 levels in 3 bits (klevel5: ŵ = s·(q − 2), uint_b's scaled form).
 */
export function packedKernelFor(c: QuantConfig, q: Quantized): { kernel: PackedKernel; bits: number } | null {
  if (c.bits !== undefined && UNIFORM_METHODS.has(c.method) && !uintBUnsupported(q, c.bits, c.groupSize)) {
    return { kernel: "uint_b", bits: c.bits };
  }
  if (c.method === "sparse_klevel" && c.levels === 5 && !uintBUnsupported(q, 3, c.groupSize)) {
    return { kernel: "klevel5", bits: 3 };
  }
  return null;
}

export class LatencyTable {
  private cache = new Map<string, number>();
  constructor(private readonly lib: NativeLib, private readonly reps = 25) {}

  /**
   * The kernel of this row's own format and its median µs per GEMV of this layer's shape: uint_b fed the row's
   * own Quantized for 2–4-bit uniform codes; otherwise the fastest candidate of kernelsFor.
   */
  measure(w: WeightMatrix, c: QuantConfig, q?: Quantized): { kernel: KernelName | PackedKernel; gemv_us: number } {
    const own = q ? packedKernelFor(c, q) : null;
    if (q && own) {
      const k = cUintBGemv(this.lib);
      const p = k.prepare(q, w.rows, w.cols, own.bits, c.groupSize);
      return { kernel: own.kernel, gemv_us: this.median((x, y) => k.run(p, x, y, 1, 1), w) };
    }
    let best: { kernel: KernelName; gemv_us: number } | null = null;
    for (const { kernel, sparsity } of kernelsFor(c)) {
      const gemv_us = this.time(w, kernel, sparsity);
      if (!best || gemv_us < best.gemv_us) best = { kernel, gemv_us };
    }
    return best!;
  }

  /** Median µs of one GEMV of this layer's shape with one kernel (cached per shape and kernel). */
  private time(w: WeightMatrix, kernel: KernelName, sparsity: number | undefined): number {
    const key = `${w.rows}x${w.cols}/${kernel}/${sparsity ?? ""}`;
    if (!this.cache.has(key)) {
      const k = cGemv(kernel, this.lib);
      const p = k.prepare(w, sparsity);
      this.cache.set(key, this.median((x, y) => k.run(p, x, y, 1, 1), w));
    }
    return this.cache.get(key)!;
  }

  /** Median µs of `run` on this shape's activations, after a warm-up (JIT, page faults). */
  private median(run: (x: Float32Array, y: Float32Array) => void, w: WeightMatrix): number {
    const x = seededGaussian(w.cols, 1, 1), y = new Float32Array(w.rows);
    for (let i = 0; i < 5; i++) run(x, y);
    const t: number[] = [];
    for (let i = 0; i < this.reps; i++) {
      const t0 = performance.now();
      run(x, y);
      t.push((performance.now() - t0) * 1000);
    }
    t.sort((a, b) => a - b);
    return t[Math.floor(t.length / 2)];
  }
}
