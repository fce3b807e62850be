/**
 * Symmetric eigenproblems in f64 for the low-rank correction: Jacobi's
 * method for small matrices (also the brute-force reference in tests), and
 * the top eigenvectors of a larger one by subspace iteration with a
 * Rayleigh–Ritz step (Golub & Van Loan, §8.2.4 and §8.5).
 */
import { mulberry32 } from "../random.ts";

/** All eigenpairs of a symmetric [n × n] matrix, eigenvalues descending; vectors as columns of `vectors` [n × n]. */
export function jacobiEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0, total = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        total += m[i * n + j] ** 2;
        if (i !== j) off += m[i * n + j] ** 2;
      }
    }
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (apq === 0) continue;
        // rotation angle that zeroes m[p][q]: tan 2θ = 2·a_pq / (a_qq − a_pp)
        const theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p], mkq = m[k * n + q];
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k], mqk = m[q * n + k];
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => m[y * n + y] - m[x * n + x]);
  const values = new Float64Array(n), vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = m[src * n + src];
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src];
  });
  return { values, vectors };
}

/** Orthonormalise the k columns of q [n × k] in place (modified Gram–Schmidt, twice for stability). */
function orthonormalize(q: Float64Array, n: number, k: number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < k; j++) {
      for (let i = 0; i < j; i++) {
        let d = 0;
        for (let r = 0; r < n; r++) d += q[r * k + i] * q[r * k + j];
        for (let r = 0; r < n; r++) q[r * k + j] -= d * q[r * k + i];
      }
      let norm = 0;
      for (let r = 0; r < n; r++) norm += q[r * k + j] ** 2;
      norm = Math.sqrt(norm);
      for (let r = 0; r < n; r++) q[r * k + j] = norm > 0 ? q[r * k + j] / norm : 0;
    }
  }
}

/** y [n × k] = A [n × n] · x [n × k]. */
function mulNK(a: Float64Array, x: Float64Array, n: number, k: number): Float64Array {
  const y = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const yo = i * k;
    for (let l = 0; l < n; l++) {
      const ail = a[i * n + l];
      if (ail === 0) continue;
      const xo = l * k;
      for (let j = 0; j < k; j++) y[yo + j] += ail * x[xo + j];
    }
  }
  return y;
}

/**
 * The r eigenvectors of a symmetric positive semi-definite A [n × n] with the
 * largest eigenvalues, as columns of [n × r]: subspace iteration on r + 8
 * seeded random vectors, then Rayleigh–Ritz. Small n goes to Jacobi directly.
 */
export function topEigenvectors(a: Float64Array, n: number, r: number, seed = 1, iterations = 60): Float64Array {
  const k = Math.min(n, r + 8);
  let basis: Float64Array;
  let ritz: { values: Float64Array; vectors: Float64Array };
  if (n <= 48) {
    basis = new Float64Array(n * n);
    for (let i = 0; i < n; i++) basis[i * n + i] = 1;
    ritz = jacobiEigen(a, n);
  } else {
    const rand = mulberry32(seed);
    let q: Float64Array = new Float64Array(n * k);
    for (let i = 0; i < q.length; i++) q[i] = rand() - 0.5;
    orthonormalize(q, n, k);
    for (let it = 0; it < iterations; it++) {
      q = mulNK(a, q, n, k);
      orthonormalize(q, n, k);
    }
    const aq = mulNK(a, q, n, k);
    const t = new Float64Array(k * k); // T = Qᵀ·A·Q
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        let s = 0;
        for (let l = 0; l < n; l++) s += q[l * k + i] * aq[l * k + j];
        t[i * k + j] = s;
      }
    }
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < i; j++) t[i * k + j] = t[j * k + i] = (t[i * k + j] + t[j * k + i]) / 2;
    }
    basis = q;
    ritz = jacobiEigen(t, k);
  }
  const kk = n <= 48 ? n : k;
  const out = new Float64Array(n * r);
  for (let row = 0; row < n; row++) {
    for (let j = 0; j < r; j++) {
      let s = 0;
      for (let l = 0; l < kk; l++) s += basis[row * kk + l] * ritz.vectors[l * kk + j];
      out[row * r + j] = s;
    }
  }
  return out;
}
