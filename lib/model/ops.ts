/**
 * Dense ops of the forward pass, in two implementations with one contract:
 * `tsOps` (plain TypeScript, the reference) and `nativeOps` (kernels/c/dense.c
 * through FFI, used on the hot path).
 */
import type { NativeLib } from "../kernels/native.ts";

export interface DenseOps {
  name: "ts" | "c";
  /** Y[T×N] = X[T×K]·Wt[K×N] (+ bias[N]); Wt is a weight transposed from HF's [out, in]. */
  gemm(
    X: Float32Array,
    Wt: Float32Array,
    bias: Float32Array | null,
    Y: Float32Array,
    T: number,
    N: number,
    K: number,
    threads?: number,
  ): void;
  /** Exact GELU in place: 0.5·x·(1 + erf(x/√2)). */
  gelu(x: Float32Array): void;
  /**
   * Causal multi-head attention over a fused HF NeoX qkv [T × 3d] (per head
   * [q | k | v]), rotary on the first `rot` dims (cos/sin tables [≥T × rot]);
   * writes out [T × d].
   */
  attention(
    qkv: Float32Array,
    out: Float32Array,
    cos: Float32Array,
    sin: Float32Array,
    T: number,
    d: number,
    heads: number,
    rot: number,
  ): void;
  /** Row-wise LayerNorm of T rows of width d (biased variance). */
  layernorm(
    x: Float32Array,
    g: Float32Array,
    b: Float32Array,
    y: Float32Array,
    T: number,
    d: number,
    eps: number,
  ): void;
}

/**
 * erf: the Maclaurin series below 2 (to ~1e-16), Abramowitz & Stegun 7.1.26
 * above (|ε| ≤ 1.5e-7, where erf is within 5e-3 of 1).
 */
export function erf(x: number): number {
  const s = x < 0 ? -1 : 1, a = Math.abs(x);
  if (a > 6) return s;
  const t = 1 / (1 + 0.3275911 * a);
  let y = 1 -
    (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t *
      Math.exp(-a * a);
  if (a < 2) {
    // erf(a) = 2/√π Σ (−1)^n a^(2n+1) / (n!(2n+1))
    let term = a, sum = a;
    for (let n = 1; n < 60; n++) {
      term *= (-a * a) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    y = (2 / Math.sqrt(Math.PI)) * sum;
  }
  return s * y;
}

export const tsOps: DenseOps = {
  name: "ts",
  gemm(X, Wt, bias, Y, T, N, K) {
    for (let t = 0; t < T; t++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += X[t * K + k] * Wt[k * N + n];
        Y[t * N + n] = s + (bias ? bias[n] : 0);
      }
    }
  },
  gelu(x) {
    for (let i = 0; i < x.length; i++) x[i] = 0.5 * x[i] * (1 + erf(x[i] * Math.SQRT1_2));
  },
  attention(qkv, out, cos, sin, T, d, heads, rot) {
    const hs = d / heads, half = rot / 2, scale = 1 / Math.sqrt(hs);
    const q = new Float32Array(T * hs), k = new Float32Array(T * hs), v = new Float32Array(T * hs);
    const p = new Float32Array(T * T);
    const rotary = (a: Float32Array) => {
      for (let t = 0; t < T; t++) {
        for (let i = 0; i < half; i++) {
          const x1 = a[t * hs + i], x2 = a[t * hs + i + half], c = t * rot;
          a[t * hs + i] = x1 * cos[c + i] - x2 * sin[c + i];
          a[t * hs + i + half] = x2 * cos[c + i + half] + x1 * sin[c + i + half];
        }
      }
    };
    for (let h = 0; h < heads; h++) {
      for (let t = 0; t < T; t++) {
        const row = t * 3 * d + h * 3 * hs;
        q.set(qkv.subarray(row, row + hs), t * hs);
        k.set(qkv.subarray(row + hs, row + 2 * hs), t * hs);
        v.set(qkv.subarray(row + 2 * hs, row + 3 * hs), t * hs);
      }
      rotary(q);
      rotary(k);
      for (let t = 0; t < T; t++) {
        // causal softmax over s ≤ t of (q_t · k_s)/√hs
        let mx = -Infinity;
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let j = 0; j < hs; j++) dot += q[t * hs + j] * k[s * hs + j];
          p[t * T + s] = dot * scale;
          mx = Math.max(mx, p[t * T + s]);
        }
        let sum = 0;
        for (let s = 0; s <= t; s++) sum += p[t * T + s] = Math.exp(p[t * T + s] - mx);
        for (let j = 0; j < hs; j++) {
          let acc = 0;
          for (let s = 0; s <= t; s++) acc += p[t * T + s] * v[s * hs + j];
          out[t * d + h * hs + j] = acc / sum;
        }
      }
    }
  },
  layernorm(x, g, b, y, T, d, eps) {
    for (let t = 0; t < T; t++) {
      let mean = 0, v = 0;
      for (let i = 0; i < d; i++) mean += x[t * d + i];
      mean /= d;
      for (let i = 0; i < d; i++) v += (x[t * d + i] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / d + eps);
      for (let i = 0; i < d; i++) y[t * d + i] = (x[t * d + i] - mean) * inv * g[i] + b[i];
    }
  },
};

export function nativeOps(lib: NativeLib, defaultThreads = navigator.hardwareConcurrency || 1): DenseOps {
  return {
    name: "c",
    gemm(X, Wt, bias, Y, T, N, K, threads = defaultThreads) {
      lib.sb_gemm_nn(X, Wt, bias, Y, BigInt(T), BigInt(N), BigInt(K), threads);
    },
    gelu(x) {
      lib.sb_gelu(x, BigInt(x.length));
    },
    attention(qkv, out, cos, sin, T, d, heads, rot) {
      lib.sb_attention(qkv, out, cos, sin, BigInt(T), BigInt(d), BigInt(heads), BigInt(rot), defaultThreads);
    },
    layernorm(x, g, b, y, T, d, eps) {
      lib.sb_layernorm(x, g, b, y, BigInt(T), BigInt(d), eps);
    },
  };
}

/** [rows, cols] row-major → [cols, rows]. */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  return transposeInto(a, rows, cols, new Float32Array(a.length));
}

/** transpose into `out` (≥ rows·cols long); returns out. */
export function transposeInto(a: Float32Array, rows: number, cols: number, out: Float32Array): Float32Array {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}
