/**
 * GPTQ/OPTQ (Frantar et al. 2022, Algorithm 1) over any base method's grid:
 * columns (input channels) are quantized left to right; each column's error
 * e = (w − ŵ) / U_ii is spread over the columns not yet quantized through the
 * row i of U, the upper Cholesky factor of (H + λI)⁻¹ — within a block of
 * columns at once, to the rest lazily after the block. A group's grid (scale,
 * zero, ternary γ) is fitted when the sweep reaches the group, from the
 * error-updated weights, as GPTQ does; `row` and `tensor` groups are fitted
 * before the sweep. For sparse_klevel the zero mask is chosen first with the
 * same second-order information (SparseGPT's saliency w² / U_ii², the exact
 * ⌊p·n⌉ smallest of the tensor), and masked weights are quantized to 0 with
 * their error fed forward like any other.
 * The result is stored exactly like the base method's (same symbols, scales, reconstruction).
 */
import { InputError } from "../errors.ts";
import { makeQuantized } from "./dequant.ts";
import { assertFinite, groupLayout } from "./groups.ts";
import { groupGrid, type GroupParams } from "./gptq_grids.ts";
import { gptqInverseFactor } from "./hessian.ts";
import { storeMeta } from "./meta.ts";
import { smallestMagnitudeMask } from "./sparse_klevel.ts";
import type { QuantConfig, Quantized, WeightMatrix } from "./types.ts";

export const GPTQ_BLOCK = 128;

/** U per Hessian: a layer's factor is the same for every config tried on it (sweeps, allocate's menu). */
const factors = new WeakMap<Float64Array, Float64Array>();
function inverseFactor(h: Float64Array, n: number): Float64Array {
  let u = factors.get(h);
  if (!u) factors.set(h, u = gptqInverseFactor(h, n));
  return u;
}

export function gptqQuantize(w: WeightMatrix, c: QuantConfig, hessian: Float64Array): Quantized {
  assertFinite(w);
  const { rows, cols } = w;
  if (hessian.length !== cols * cols) {
    throw new InputError(`${w.name}: Hessian is ${hessian.length} values, expected ${cols}×${cols}`);
  }
  const grid = groupGrid(c, w.name);
  const layout = groupLayout(rows, cols, c.groupSize);
  const u = inverseFactor(hessian, cols);
  const W = Float64Array.from(w.data);
  const sparse = c.method === "sparse_klevel";
  const forced: Uint8Array | null = sparse ? new Uint8Array(W.length) : null;
  const g = c.groupSize === "row" || c.groupSize === "tensor" ? cols : c.groupSize;
  const perRow = Math.ceil(cols / g);
  const params: GroupParams[] = new Array(layout.count);
  // A sparse mask is chosen block by block from the updated weights, so blocks are one group there.
  const block = sparse || g > GPTQ_BLOCK ? g : g * Math.floor(GPTQ_BLOCK / g);
  if (sparse) chooseMask(W, u, rows, cols, 0, Math.min(cols, block), c.sparsity!, forced!);
  if (c.groupSize === "tensor") params[0] = grid.fit(W, W.length, forced);
  const symbols = new Uint8Array(W.length);
  const err = new Float64Array(rows * block);
  const scratch = new Float64Array(g);
  for (let b0 = 0; b0 < cols; b0 += block) {
    const b1 = Math.min(cols, b0 + block);
    if (sparse && b0 > 0) chooseMask(W, u, rows, cols, b0, b1, c.sparsity!, forced!);
    for (let i = b0; i < b1; i++) {
      const d = u[i * cols + i];
      for (let r = 0; r < rows; r++) {
        const o = r * cols;
        let p: GroupParams;
        if (c.groupSize === "tensor") p = params[0];
        else {
          const gi = r * perRow + Math.floor(i / g);
          if (i % g === 0) {
            const n = Math.min(g, cols - i);
            for (let k = 0; k < n; k++) scratch[k] = W[o + i + k];
            params[gi] = grid.fit(scratch, n, forced ? forced.subarray(o + i, o + i + n) : null);
          }
          p = params[gi];
        }
        const x = W[o + i];
        const sym = grid.assign(x, p, forced ? forced[o + i] === 1 : false);
        symbols[o + i] = sym;
        const e = (x - grid.value(sym, p)) / d;
        err[r * block + (i - b0)] = e;
        for (let j = i + 1; j < b1; j++) W[o + j] -= e * u[i * cols + j];
      }
    }
    for (let r = 0; r < rows; r++) { // the lazy update of the columns after the block
      const o = r * cols;
      for (let k = 0; k < b1 - b0; k++) {
        const e = err[r * block + k], ui = (b0 + k) * cols;
        if (e !== 0) { for (let j = b1; j < cols; j++) W[o + j] -= e * u[ui + j]; }
      }
    }
  }
  const scales = storeMeta(Float32Array.from(params, (p) => p.scale), c.scaleDtype, w.name);
  const zeros = grid.hasZeros ? storeMeta(Float32Array.from(params, (p) => p.zero!), c.scaleDtype, w.name) : null;
  return makeQuantized(
    symbols,
    grid.levels,
    {
      scales: scales.stored,
      metaBits: scales.bits + (zeros?.bits ?? 0),
      scaleBytes: scales.bytes,
      ...(zeros ? { zeros: zeros.stored, zeroBytes: zeros.bytes } : {}),
    },
    grid.reconstruction,
    layout,
  );
}

/**
 * SparseGPT's mask for columns [b0, b1): the smallest saliencies w² / U_jj²
 * of the current (error-updated) weights, as many as make the zeros through
 * column b1 total ⌊p · rows · b1⌉ — so the tensor ends with exactly ⌊p·n⌉.
 */
function chooseMask(
  W: Float64Array,
  u: Float64Array,
  rows: number,
  cols: number,
  b0: number,
  b1: number,
  p: number,
  forced: Uint8Array,
): void {
  const width = b1 - b0, saliency = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    for (let j = b0; j < b1; j++) saliency[r * width + (j - b0)] = Math.abs(W[r * cols + j]) / u[j * cols + j];
  }
  const zeros = Math.round(p * rows * b1) - Math.round(p * rows * b0);
  const mask = smallestMagnitudeMask(saliency, zeros);
  for (let r = 0; r < rows; r++) forced.set(mask.subarray(r * width, (r + 1) * width), r * cols + b0);
}
