/**
 * GEMV / small-GEMM kernels, one contract (DESIGN.md's GemvKernel): prepare the
 * weights once, then run Y[B × rows] = X[B × cols] · Ŵᵀ for B ≤ 16 tokens.
 * `tsGemv` is the plain TypeScript reference every C kernel is tested against:
 * Ŵ (as the format stores it) times the activations as the kernel sees them
 * (int8-quantized for the integer kernels), accumulated in f64.
 */
import { InputError } from "../errors.ts";
import {
  type KernelName,
  MAX_BATCH,
  type PreparedWeights,
  type PrepareOptions,
  prepareWeights,
  quantizeActivations,
  type WeightCodes,
} from "./formats.ts";
import type { NativeLib } from "./native.ts";
import { alignedArray, alignedWeights } from "./aligned.ts";
import { BASE3_PLANE_WEIGHTS } from "./base3_code.ts";

export { MAX_BATCH };

export interface GemvKernel {
  name: KernelName;
  backend: "c" | "ts" | "webgpu";
  /** The format's weights from their codes (formats.ts WeightCodes; lib/sweep/kernel_codes.ts makes them from f32). */
  prepare(codes: WeightCodes, options?: PrepareOptions): PreparedWeights;
  run(p: PreparedWeights, x: Float32Array, y: Float32Array, batch: number, threads?: number): void | Promise<void>;
}

/** A kernel that finishes before `run` returns (C and TS; WebGPU's run is a promise). */
export interface SyncGemvKernel extends GemvKernel {
  backend: "c" | "ts";
  run(p: PreparedWeights, x: Float32Array, y: Float32Array, batch: number, threads?: number): void;
}

/** A kernel whose work finishes when the promise does (WebGPU). */
export interface AsyncGemvKernel extends GemvKernel {
  backend: "webgpu";
  run(p: PreparedWeights, x: Float32Array, y: Float32Array, batch: number, threads?: number): Promise<void>;
}

/** Shape checks shared by every backend and format. */
export function checkGemvArgs(
  p: { rows: number; cols: number },
  x: Float32Array,
  y: Float32Array,
  batch: number,
): void {
  if (!(batch >= 1 && batch <= MAX_BATCH)) throw new InputError(`batch ${batch} outside 1..${MAX_BATCH}`);
  if (x.length !== batch * p.cols) throw new InputError(`x has ${x.length} values, expected ${batch} x ${p.cols}`);
  if (y.length !== batch * p.rows) throw new InputError(`y has ${y.length} values, expected ${batch} x ${p.rows}`);
}

/**
 * The reference product of every format: Ŵ as the format stores it (`dequantized`) times the activations as the
 * kernel sees them — int8-quantized per token for the integer formats — accumulated in f64.
 */
export function referenceGemv(
  p: { rows: number; cols: number; cp: number; dequantized: Float32Array },
  x: Float32Array,
  y: Float32Array,
  batch: number,
  integer: boolean,
): void {
  checkGemvArgs(p, x, y, batch);
  const xs = integer ? quantizeActivations(x, batch, p.cols, p.cp).dequantized : x;
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < p.rows; r++) {
      let s = 0;
      for (let k = 0; k < p.cols; k++) s += p.dequantized[r * p.cols + k] * xs[b * p.cols + k];
      y[b * p.rows + r] = s;
    }
  }
}

/** The TypeScript reference for a kernel format. */
export function tsGemv(name: KernelName): SyncGemvKernel {
  return {
    name,
    backend: "ts",
    prepare: (codes, options) => prepareWeights(name, codes, options),
    run: (p, x, y, batch) => referenceGemv(p, x, y, batch, name !== "fp32"),
  };
}

/** Activation scratch of one C kernel instance, per token count and padded width. */
export type ActivationScratch = (batch: number, cp: number) => { xu: Uint8Array; sx: Float32Array };

/**
 * Activation scratch kept by a kernel instance (not by each layer's weights): a decode loop allocates nothing, and the
 * buffer the activations are quantized into is still in the cache when the next layer runs. One per layer's weights
 * left it to be evicted between tokens: 1.4–1.7 µs of DRAM misses a call (Zen 5, 4096², 40 layers' copies).
 */
export function activationScratch(): ActivationScratch {
  const kept = new Map<number, { xu: Uint8Array; sx: Float32Array }>();
  return (batch, cp) => {
    const key = batch * 1e9 + cp;
    let a = kept.get(key);
    if (!a) kept.set(key, a = { xu: alignedArray(Uint8Array, batch * cp), sx: new Float32Array(batch) });
    return a;
  };
}

/** The C kernel for a format (kernels/c/gemv.c, gemv_base3.c, gemv_sparse.c via FFI). */
export function cGemv(name: KernelName, lib: NativeLib): SyncGemvKernel {
  const scratchFor = activationScratch();
  return {
    name,
    backend: "c",
    // 64-byte-aligned arrays: a misaligned vector load straddles two cache lines (see aligned.ts)
    prepare: (codes, options) => alignedWeights(prepareWeights(name, codes, options)),
    run(p, x, y, batch, threads = 1) {
      checkGemvArgs(p, x, y, batch);
      if (p.kernel !== name) throw new InputError(`${name}: given weights prepared for ${p.kernel}`);
      const rows = BigInt(p.rows);
      if (p.kernel === "fp32") return lib.sb_gemv_f32(p.f32, x, y, rows, BigInt(p.cols), batch, threads);
      const a = scratchFor(batch, p.cp);
      const cp = BigInt(p.cp);
      lib.sb_quantize_acts(x, batch, BigInt(p.cols), cp, a.xu, a.sx);
      switch (p.kernel) {
        case "coded_ternary": {
          const bad = new BigInt64Array(1);
          const rc = lib.sb_gemv_coded_ternary(
            p.coded,
            p.chunkOff,
            p.chunkFreq,
            BigInt(p.chunkRows),
            p.scale,
            a.xu,
            a.sx,
            y,
            rows,
            BigInt(p.cols),
            cp,
            batch,
            threads,
            bad,
          );
          if (rc !== 0) {
            const at = p.chunkOff[Number(bad[0])];
            throw new InputError(
              `coded_ternary: ${rc === -1 ? "truncated" : "corrupt"} stream in chunk ${bad[0]} (byte offset ${at})`,
            );
          }
          return;
        }
        case "sparse_ternary": {
          // the transposed activations of 2–16 tokens (cp × 16 floats), kept like the scratch above
          const sparse = p as typeof p & { transposed?: Float32Array };
          if (batch > 1) sparse.transposed ??= alignedArray(Float32Array, p.cp * MAX_BATCH);
          const xt = batch > 1 ? sparse.transposed! : null;
          // the two layouts' kernels take the same arguments but the layout's two arrays
          const [fn, perRow, entries] = p.layout === "columns"
            ? [lib.sb_gemv_sparse_columns, p.rowPlus, p.columns] as const
            : [lib.sb_gemv_sparse, p.counts, p.positions] as const;
          return fn(p.rowOff, perRow, entries, p.scale, p.wsum, a.xu, a.sx, xt, y, rows, cp, batch, threads);
        }
        case "int8":
          return lib.sb_gemv_int8(p.blocks, p.rowBias, a.xu, a.sx, y, rows, cp, batch, threads);
        case "ternary2":
          return lib.sb_gemv_ternary2(p.packed, p.scale, p.wsum, a.xu, a.sx, y, rows, cp, batch, threads);
        case "ternary_base3":
          return lib.sb_gemv_base3(
            p.packed,
            p.scale,
            p.wsum,
            BASE3_PLANE_WEIGHTS,
            a.xu,
            a.sx,
            y,
            rows,
            cp,
            BigInt(p.bytesPerRow),
            batch,
            threads,
          );
      }
    },
  };
}
