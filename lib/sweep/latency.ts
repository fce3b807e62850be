/**
 * Kernel latency for sweep rows: a row's own codes — the Quantized it
 * measured — on the kernel of its own format, and the median time of one GEMV
 * of that layer's shape (batch 1, one thread). Small layers stay in cache, so
 * these are cache-resident figures; `deno task bench kernels` gives
 * DRAM-resident ones. A config no kernel stores gets no timing (null).
 */
import type { KernelName, WeightCodes } from "../kernels/formats.ts";
import { cGemv } from "../kernels/gemv.ts";
import type { NativeLib } from "../kernels/native.ts";
import type { QuantConfig, Quantized, WeightMatrix } from "../quant/types.ts";
import { seededGaussian } from "../random.ts";
import { median } from "../metrics/quantile.ts";
import { cUintBGemv, uintBUnsupported } from "../kernels/uint_b.ts";

/** The methods whose codes are uniform (a scale and an offset per group): uint_b's. */
const UNIFORM_METHODS = new Set(["rtn_asym", "rtn_sym", "hqq"]);

/** The kernels over bit-packed codes: uint_b, and klevel5 (5-level symmetric codes in uint_b's 3-bit layout). */
export type PackedKernel = "uint_b" | "klevel5";

/** Ternary-like codes: 3 levels (ternary_absmean, sparse_klevel l3) or sign's 2. */
function ternaryLike(c: QuantConfig): boolean {
  return c.method === "ternary_absmean" || c.method === "sign" || (c.method === "sparse_klevel" && c.levels === 3);
}

/**
 * The packed-code kernel a row's own Quantized runs on, with its bits a code, or null: 2–4- and 8-bit uniform codes
 * (uint_b; rtn_sym.b8.g64 is int8's); sparse_klevel's 5 levels in 3 bits (klevel5: ŵ = s·(q − 2), uint_b's scaled form); ternary-like codes
 * with a scale per group of columns or per tensor, and sign's ±1 (uint_b, 2 bits: the ternary kernels hold 3-level
 * codes with one scale a row).
 */
export function packedKernelFor(c: QuantConfig, q: Quantized): { kernel: PackedKernel; bits: number } | null {
  const int8Own = c.method === "rtn_sym" && c.bits === 8 && c.groupSize === 64; // int8's own format (kernelsFor)
  if (c.bits !== undefined && UNIFORM_METHODS.has(c.method) && !int8Own && !uintBUnsupported(q, c.bits, c.groupSize)) {
    return { kernel: "uint_b", bits: c.bits };
  }
  if (c.method === "sparse_klevel" && c.levels === 5 && !uintBUnsupported(q, 3, c.groupSize)) {
    return { kernel: "klevel5", bits: 3 };
  }
  if (ternaryLike(c) && (c.groupSize !== "row" || c.method === "sign") && !uintBUnsupported(q, 2, c.groupSize)) {
    return { kernel: "uint_b", bits: 2 };
  }
  return null;
}

/**
 * The kernels that store a config's codes as they are (formats.ts WeightCodes), fastest reported: 3-level codes
 * with one scale a row on the 2-bit and the base-3 kernel (1.6 bit: fewer bytes, more decode work), also the sparse
 * one at ≥ 90 % zeros; rtn_sym.b8.g64 on int8. [] for the rest (packedKernelFor's, or none).
 */
export function kernelsFor(c: QuantConfig): KernelName[] {
  const threeLevel = c.method === "ternary_absmean" || (c.method === "sparse_klevel" && c.levels === 3);
  if (threeLevel && c.groupSize === "row") {
    return (c.sparsity ?? 0) >= 0.9 ? ["ternary2", "ternary_base3", "sparse_ternary"] : ["ternary2", "ternary_base3"];
  }
  if (c.method === "rtn_sym" && c.bits === 8 && c.groupSize === 64) return ["int8"];
  return [];
}

export type RowKernel = KernelName | PackedKernel;

/** A kernel prepared from a row's own codes, ready to run Y = X·Ŵᵀ on `batch` tokens. */
export interface PreparedRowKernel {
  kernel: RowKernel;
  run(x: Float32Array, y: Float32Array, batch: number, threads?: number): void;
}

/**
 * Every kernel that stores this row's own Quantized as it is, each prepared from it (the packed-code kernel, or the
 * ternary/int8 formats kernelsFor names); [] where none does (5–7-bit codes, groups of 8 or 16, stored transforms).
 */
export function rowKernels(lib: NativeLib, w: WeightMatrix, c: QuantConfig, q: Quantized): PreparedRowKernel[] {
  const packed = packedKernelFor(c, q);
  if (packed) {
    const k = cUintBGemv(lib), p = k.prepare(q, w.rows, w.cols, packed.bits, c.groupSize);
    return [{ kernel: packed.kernel, run: (x, y, batch, threads = 1) => k.run(p, x, y, batch, threads) }];
  }
  if (q.post) return []; // a rotation or correction beside the codes: no kernel computes that Ŵ
  const codes: WeightCodes = { kind: "quant", rows: w.rows, cols: w.cols, q, groupSize: c.groupSize };
  return kernelsFor(c).map((kernel) => {
    const k = cGemv(kernel, lib), p = k.prepare(codes);
    return { kernel, run: (x, y, batch, threads = 1) => k.run(p, x, y, batch, threads) };
  });
}

export class LatencyTable {
  constructor(private readonly lib: NativeLib, private readonly reps = 25) {}

  /**
   * The kernel of this row's own format and its median µs per GEMV of this layer's shape, fed the row's own
   * Quantized (the fastest where several store it); null where no kernel stores the config.
   */
  measure(w: WeightMatrix, c: QuantConfig, q: Quantized): { kernel: RowKernel; gemv_us: number } | null {
    let best: { kernel: RowKernel; gemv_us: number } | null = null;
    for (const k of rowKernels(this.lib, w, c, q)) {
      const gemv_us = this.medianUs((x, y) => k.run(x, y, 1, 1), w);
      if (!best || gemv_us < best.gemv_us) best = { kernel: k.kernel, gemv_us };
    }
    return best;
  }

  /** Median µs of `run` on this shape's activations, after a warm-up (JIT, page faults). */
  private medianUs(run: (x: Float32Array, y: Float32Array) => void, w: WeightMatrix): number {
    const x = seededGaussian(w.cols, 1, 1), y = new Float32Array(w.rows);
    for (let i = 0; i < 5; i++) run(x, y);
    const t: number[] = [];
    for (let i = 0; i < this.reps; i++) {
      const t0 = performance.now();
      run(x, y);
      t.push((performance.now() - t0) * 1000);
    }
    return median(t);
  }
}
