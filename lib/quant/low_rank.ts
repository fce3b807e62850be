/**
 * The `lr<r>` transform: a rank-r correction L·R of the residual E = W − Ŵ,
 * fitted to the output error on the calibration inputs,
 *   min ‖(E − L·R)·Xᵀ‖²_F = tr((E − LR)·H·(E − LR)ᵀ),  H = XᵀX (damped as GPTQ's).
 * With H = C·Cᵀ the optimum is the truncated SVD of M = E·C (LoRC / EoRA's
 * input-whitened residual): L·R = U_r·U_rᵀ·E, with U_r the top r left singular
 * vectors of M, i.e. the top eigenvectors of M·Mᵀ = E·H·Eᵀ (no Cholesky
 * needed). Given any L, the best R is the least-squares R = (LᵀL)⁻¹·Lᵀ·E for
 * every H, so L is rounded to its storage format first and R refitted to the
 * rounded L before it is rounded itself.
 * Stored (little endian), after the base method's scales and zeros:
 *   f16: L [rows × r] then R [r × cols], 2 bytes a value;
 *   i8:  L's row scales (rows × f16), L's codes (rows × r int8), R's row scales
 *        (r × f16), R's codes (r × cols int8); a value = code · scale, scale = absmax/127.
 */
import { InputError } from "../errors.ts";
import { f16BitsToF32, f32ToF16Bits } from "../tensor/dtype.ts";
import { topEigenvectors } from "./eigen.ts";
import { choleskyLower, dampedHessian } from "./hessian.ts";

export type LowRankDtype = "f16" | "i8";

export interface LowRank {
  rank: number;
  dtype: LowRankDtype;
  /** The factors as stored. */
  bytes: Uint8Array;
}

export function lowRankByteLength(rows: number, cols: number, rank: number, dtype: LowRankDtype): number {
  return dtype === "f16" ? 2 * rank * (rows + cols) : rank * (rows + cols) + 2 * (rows + rank);
}

/** A [n × k] matrix rounded to the storage format: its bytes and the values a decoder sees. */
function storeFactor(
  m: Float64Array,
  n: number,
  k: number,
  dtype: LowRankDtype,
): { bytes: Uint8Array; stored: Float64Array } {
  const stored = new Float64Array(n * k);
  if (dtype === "f16") {
    const bytes = new Uint8Array(2 * n * k);
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < n * k; i++) {
      const b = f32ToF16Bits(m[i]);
      dv.setUint16(2 * i, b, true);
      stored[i] = f16BitsToF32(b);
    }
    return { bytes, stored };
  }
  const bytes = new Uint8Array(2 * n + n * k);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < n; i++) {
    let amax = 0;
    for (let j = 0; j < k; j++) amax = Math.max(amax, Math.abs(m[i * k + j]));
    const sb = f32ToF16Bits(amax / 127);
    const s = f16BitsToF32(sb);
    dv.setUint16(2 * i, sb, true);
    for (let j = 0; j < k; j++) {
      const code = s > 0 ? Math.max(-127, Math.min(127, Math.round(m[i * k + j] / s))) : 0;
      dv.setInt8(2 * n + i * k + j, code);
      stored[i * k + j] = code * s;
    }
  }
  return { bytes, stored };
}

function readFactor(
  bytes: Uint8Array,
  offset: number,
  n: number,
  k: number,
  dtype: LowRankDtype,
): { values: Float64Array; end: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Float64Array(n * k);
  if (dtype === "f16") {
    for (let i = 0; i < n * k; i++) values[i] = f16BitsToF32(dv.getUint16(offset + 2 * i, true));
    return { values, end: offset + 2 * n * k };
  }
  for (let i = 0; i < n; i++) {
    const s = f16BitsToF32(dv.getUint16(offset + 2 * i, true));
    for (let j = 0; j < k; j++) values[i * k + j] = dv.getInt8(offset + 2 * n + i * k + j) * s;
  }
  return { values, end: offset + 2 * n + n * k };
}

/** The stored factors L [rows × r] and R [r × cols] as a decoder sees them. */
export function decodeLowRank(
  lr: LowRank,
  rows: number,
  cols: number,
  what: string,
): { l: Float64Array; r: Float64Array } {
  const want = lowRankByteLength(rows, cols, lr.rank, lr.dtype);
  if (lr.bytes.length !== want) {
    throw new InputError(
      `${what}: low-rank factors are ${lr.bytes.length} bytes, rank ${lr.rank} ${lr.dtype} needs ${want}`,
    );
  }
  const l = readFactor(lr.bytes, 0, rows, lr.rank, lr.dtype);
  const r = readFactor(lr.bytes, l.end, lr.rank, cols, lr.dtype);
  return { l: l.values, r: r.values };
}

/** out += L·R (each entry summed in f64, then rounded once to f32). */
export function addLowRank(out: Float32Array, lr: LowRank, rows: number, cols: number, what: string): void {
  const { l, r } = decodeLowRank(lr, rows, cols, what);
  const k = lr.rank;
  const acc = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    acc.fill(0);
    for (let t = 0; t < k; t++) {
      const lit = l[i * k + t];
      if (lit === 0) continue;
      const ro = t * cols;
      for (let j = 0; j < cols; j++) acc[j] += lit * r[ro + j];
    }
    const o = i * cols;
    for (let j = 0; j < cols; j++) out[o + j] = out[o + j] + acc[j];
  }
}

/**
 * Fit the rank-`rank` correction of W − Ŵ under the inputs' Hessian (null =
 * identity, i.e. the plain truncated SVD of the residual), rounded to `dtype`.
 */
export function fitLowRank(
  w: Float32Array,
  wq: Float32Array,
  rows: number,
  cols: number,
  hessian: Float64Array | null,
  rank: number,
  dtype: LowRankDtype,
  name: string,
): LowRank {
  if (!Number.isInteger(rank) || rank < 1 || rank > Math.min(rows, cols)) {
    throw new InputError(`${name}: +lr${rank} needs a rank from 1 to min(rows, cols) = ${Math.min(rows, cols)}`);
  }
  const e = new Float64Array(rows * cols);
  for (let i = 0; i < e.length; i++) e[i] = w[i] - wq[i];
  const eh = hessian ? multiplyByHessian(e, rows, cols, dampedHessian(hessian, cols)) : e;
  const k = new Float64Array(rows * rows); // K = E·H·Eᵀ [rows × rows]
  for (let i = 0; i < rows; i++) {
    for (let j = i; j < rows; j++) {
      let s = 0;
      const a = i * cols, b = j * cols;
      for (let c = 0; c < cols; c++) s += eh[a + c] * e[b + c];
      k[i * rows + j] = k[j * rows + i] = s;
    }
  }
  const u = topEigenvectors(k, rows, rank);
  const l = storeFactor(u, rows, rank, dtype);
  const r = storeFactor(leastSquaresRight(l.stored, e, rows, cols, rank), rank, cols, dtype);
  const bytes = new Uint8Array(l.bytes.length + r.bytes.length);
  bytes.set(l.bytes);
  bytes.set(r.bytes, l.bytes.length);
  return { rank, dtype, bytes };
}

/** E·H for E [rows × cols], H [cols × cols]. */
function multiplyByHessian(e: Float64Array, rows: number, cols: number, h: Float64Array): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    for (let c = 0; c < cols; c++) {
      const eic = e[o + c];
      if (eic === 0) continue;
      const ho = c * cols;
      for (let j = 0; j < cols; j++) out[o + j] += eic * h[ho + j];
    }
  }
  return out;
}

/** R = (LᵀL)⁻¹·Lᵀ·E [r × cols], with a tiny ridge so a rank-deficient L (a zero residual) stays solvable. */
function leastSquaresRight(l: Float64Array, e: Float64Array, rows: number, cols: number, r: number): Float64Array {
  const g = new Float64Array(r * r);
  let trace = 0;
  for (let a = 0; a < r; a++) {
    for (let b = a; b < r; b++) {
      let s = 0;
      for (let i = 0; i < rows; i++) s += l[i * r + a] * l[i * r + b];
      g[a * r + b] = g[b * r + a] = s;
    }
    trace += g[a * r + a];
  }
  for (let a = 0; a < r; a++) g[a * r + a] += 1e-12 * (trace / r) + 1e-300;
  const lt = new Float64Array(r * cols); // Lᵀ·E
  for (let i = 0; i < rows; i++) {
    for (let a = 0; a < r; a++) {
      const lia = l[i * r + a];
      if (lia === 0) continue;
      for (let j = 0; j < cols; j++) lt[a * cols + j] += lia * e[i * cols + j];
    }
  }
  const c = choleskyLower(g, r); // G = C·Cᵀ: solve C·Y = LᵀE, then Cᵀ·R = Y, column by column of E
  const out = new Float64Array(r * cols);
  const y = new Float64Array(r);
  for (let j = 0; j < cols; j++) {
    for (let a = 0; a < r; a++) {
      let s = lt[a * cols + j];
      for (let b = 0; b < a; b++) s -= c[a * r + b] * y[b];
      y[a] = s / c[a * r + a];
    }
    for (let a = r - 1; a >= 0; a--) {
      let s = y[a];
      for (let b = a + 1; b < r; b++) s -= c[b * r + a] * out[b * cols + j];
      out[a * cols + j] = s / c[a * r + a];
    }
  }
  return out;
}
