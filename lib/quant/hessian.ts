/**
 * Second-order statistics of a linear layer's inputs for calibrated
 * quantization (GPTQ/OPTQ, Frantar et al. 2022): H = XᵀX over the calibration
 * tokens, in f64, damped by λ = 1 % of mean diag(H), and the upper Cholesky
 * factor U of H⁻¹ (H⁻¹ = UᵀU) that GPTQ's column updates use.
 */
import { InputError } from "../errors.ts";

/** H = XᵀX for X [tokens × cols] (row-major), f64, symmetric [cols × cols]. */
export function hessianFromInputs(x: Float32Array, cols: number): Float64Array {
  const tokens = x.length / cols;
  if (!Number.isInteger(tokens)) throw new InputError(`calibration inputs: ${x.length} values are not rows of ${cols}`);
  const h = new Float64Array(cols * cols);
  for (let t = 0; t < tokens; t++) {
    const o = t * cols;
    for (let i = 0; i < cols; i++) {
      const xi = x[o + i];
      if (xi === 0) continue;
      const hi = i * cols;
      for (let j = i; j < cols; j++) h[hi + j] += xi * x[o + j];
    }
  }
  for (let i = 0; i < cols; i++) for (let j = 0; j < i; j++) h[i * cols + j] = h[j * cols + i];
  return h;
}

/** In-place lower Cholesky of a symmetric positive-definite [n × n] matrix (A = LLᵀ; the upper part is zeroed). */
export function choleskyLower(a: Float64Array, n: number): Float64Array {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0)) throw new InputError(`Hessian is not positive definite (pivot ${j}: ${d}); more calibration data?`);
    const ljj = Math.sqrt(d);
    a[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / ljj;
    }
    for (let k = j + 1; k < n; k++) a[j * n + k] = 0;
  }
  return a;
}

/** A⁻¹ from its lower Cholesky factor L (A = LLᵀ): A⁻¹ = L⁻ᵀL⁻¹. */
export function inverseFromCholesky(l: Float64Array, n: number): Float64Array {
  const linv = new Float64Array(n * n); // L⁻¹, lower triangular, by forward substitution per column
  for (let c = 0; c < n; c++) {
    linv[c * n + c] = 1 / l[c * n + c];
    for (let i = c + 1; i < n; i++) {
      let s = 0;
      for (let k = c; k < i; k++) s -= l[i * n + k] * linv[k * n + c];
      linv[i * n + c] = s / l[i * n + i];
    }
  }
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += linv[k * n + i] * linv[k * n + j];
      inv[i * n + j] = s;
      inv[j * n + i] = s;
    }
  }
  return inv;
}

/**
 * GPTQ's preparation of H, as a copy: columns that never saw input (H_ii = 0)
 * get H_ii = 1, then λ·I is added with λ = `damp` × mean diag(H).
 */
export function dampedHessian(hessian: Float64Array, n: number, damp = 0.01): Float64Array {
  const h = Float64Array.from(hessian);
  let mean = 0;
  for (let i = 0; i < n; i++) {
    if (h[i * n + i] === 0) h[i * n + i] = 1;
    mean += h[i * n + i];
  }
  const lambda = (damp * mean) / n;
  for (let i = 0; i < n; i++) h[i * n + i] += lambda;
  return h;
}

/**
 * U, the upper Cholesky factor of H⁻¹ for the damped H (dampedHessian: a
 * dead column's weights are then free to absorb error); row i holds the
 * coefficients GPTQ spreads column i's error with.
 */
export function gptqInverseFactor(hessian: Float64Array, n: number, damp = 0.01): Float64Array {
  const h = dampedHessian(hessian, n, damp);
  const inv = inverseFromCholesky(choleskyLower(h, n), n);
  const l = choleskyLower(inv, n); // H⁻¹ = L Lᵀ, so U = Lᵀ
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) u[i * n + j] = l[j * n + i];
  return u;
}
