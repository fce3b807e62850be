/*
 * Dense fp32 kernels for the forward pass (lib/model): Y = X·Wt (+ bias) with
 * Wt the transposed [in, out] weight, exact GELU and LayerNorm. The
 * TypeScript reference is tsOps in lib/model/ops.ts; tests compare the two.
 *
 * GEMM: 4×32 register tiles — broadcast one X value, FMA into two 16-wide
 * GCC vectors (AVX-512 zmm with -march=native, narrower registers in the
 * portable build) — threads over blocks of output columns (the pool of thread_pool.c).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "thread_pool.h"

typedef float v16 __attribute__((vector_size(64)));

static inline v16 load16(const float *p) {
  v16 v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline void store16(float *p, v16 v) { memcpy(p, &v, sizeof v); }

typedef struct {
  const float *X, *Wt, *bias;
  float *Y;
  int64_t T, N, K, n0, n1;
} gemm_job;

#define MR 4  /* rows of X per tile */
#define NR 32 /* columns of Y per tile: two 16-wide vectors */

/* One block of output columns [n0, n1): Y[t, n..n+32) += X[t, k] · Wt[k, n..n+32) over k,
   4 rows at a time, accumulators in registers; ragged edges go through a zero-padded tile. */
static void gemm_block(const gemm_job *j) {
  const int64_t T = j->T, K = j->K, N = j->N;
  for (int64_t n = j->n0; n < j->n1; n += NR) {
    const int64_t nn = (j->n1 - n) < NR ? (j->n1 - n) : NR;
    for (int64_t t = 0; t < T; t += MR) {
      const int64_t tt = (T - t) < MR ? (T - t) : MR;
      v16 acc[MR][2];
      memset(acc, 0, sizeof acc);
      if (nn == NR) {
        for (int64_t k = 0; k < K; k++) {
          const float *w = j->Wt + k * N + n;
          v16 w0 = load16(w), w1 = load16(w + 16);
          for (int a = 0; a < MR; a++) {
            float xv = a < tt ? j->X[(t + a) * K + k] : 0.0f;
            acc[a][0] += xv * w0;
            acc[a][1] += xv * w1;
          }
        }
      } else {
        float wpad[NR];
        for (int64_t k = 0; k < K; k++) {
          memset(wpad, 0, sizeof wpad);
          memcpy(wpad, j->Wt + k * N + n, (size_t)nn * sizeof(float));
          v16 w0 = load16(wpad), w1 = load16(wpad + 16);
          for (int a = 0; a < MR; a++) {
            float xv = a < tt ? j->X[(t + a) * K + k] : 0.0f;
            acc[a][0] += xv * w0;
            acc[a][1] += xv * w1;
          }
        }
      }
      for (int a = 0; a < tt; a++) {
        float row[NR];
        store16(row, acc[a][0]);
        store16(row + 16, acc[a][1]);
        float *y = j->Y + (t + a) * N + n;
        for (int64_t b = 0; b < nn; b++) y[b] = row[b] + (j->bias ? j->bias[n + b] : 0.0f);
      }
    }
  }
}

static void gemm_range(const void *p, int64_t n0, int64_t n1) {
  gemm_job j = *(const gemm_job *)p;
  j.n0 = n0, j.n1 = n1;
  gemm_block(&j);
}

/* Y[T×N] = X[T×K] · Wt[K×N] + bias[N] (bias may be NULL); threads ≥ 1 split the columns. */
void sb_gemm_nn(const float *X, const float *Wt, const float *bias, float *Y, int64_t T, int64_t N, int64_t K,
                int32_t threads) {
  const gemm_job all = {X, Wt, bias, Y, T, N, K, 0, N};
  sb_parallel_for(gemm_range, &all, N, threads, NR);
}

/* Exact GELU in place: 0.5·x·(1 + erf(x/√2)). */
void sb_gelu(float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

/* LayerNorm over the last dimension d of T rows: y = (x − mean)/sqrt(var + eps)·g + b (biased variance). */
void sb_layernorm(const float *x, const float *g, const float *b, float *y, int64_t T, int64_t d, float eps) {
  for (int64_t t = 0; t < T; t++) {
    const float *r = x + t * d;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < d; i++) mean += r[i];
    mean /= (double)d;
    for (int64_t i = 0; i < d; i++) var += (r[i] - mean) * (r[i] - mean);
    var /= (double)d;
    float inv = (float)(1.0 / sqrt(var + eps));
    for (int64_t i = 0; i < d; i++) y[t * d + i] = (float)(r[i] - mean) * inv * g[i] + b[i];
  }
}

/*
 * Causal multi-head attention over a fused HF GPT-NeoX qkv [T × 3d] (per head
 * [q_h | k_h | v_h] of hs each): rotary on the first `rot` dims of q and k
 * (x·cos + rotate_half(x)·sin, tables [T × rot]), softmax(q·kᵀ/√hs) with a
 * causal mask, times v; out [T × d] with heads in order. Heads run on up to
 * `threads` threads.
 */
/* expf for x ≤ 0 (softmax arguments), Cephes polynomial after range reduction
   x = n·ln2 + r: ≈ 1 ulp, written so that gcc vectorises the loops using it. */
static inline float exp_nonpos(float x) {
  x = x < -87.0f ? -87.0f : x;
  const float n = __builtin_rintf(x * 1.44269504088896341f);
  const float r = x - n * 0.693359375f - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

typedef struct {
  const float *qkv, *cos, *sin;
  float *out;
  int64_t T, d, hs, rot, h0, h1;
} attn_job;

static void rotary_rows(float *a, int64_t T, int64_t hs, int64_t rot, const float *cs, const float *sn) {
  const int64_t half = rot / 2;
  for (int64_t t = 0; t < T; t++) {
    float *x = a + t * hs;
    const float *c = cs + t * rot, *s = sn + t * rot;
    for (int64_t i = 0; i < half; i++) {
      float x1 = x[i], x2 = x[i + half];
      x[i] = x1 * c[i] - x2 * s[i];
      x[i + half] = x2 * c[i + half] + x1 * s[i + half];
    }
  }
}

static void attn_heads(const attn_job *j) {
  const int64_t T = j->T, d = j->d, hs = j->hs;
  float *q = malloc(sizeof(float) * T * hs), *k = malloc(sizeof(float) * T * hs);
  float *kT = malloc(sizeof(float) * hs * T), *v = malloc(sizeof(float) * T * hs);
  float *p = malloc(sizeof(float) * T * T), *o = malloc(sizeof(float) * T * hs);
  const float scale = 1.0f / sqrtf((float)hs);
  for (int64_t h = j->h0; h < j->h1; h++) {
    for (int64_t t = 0; t < T; t++) {
      const float *row = j->qkv + t * 3 * d + h * 3 * hs;
      memcpy(q + t * hs, row, sizeof(float) * hs);
      memcpy(k + t * hs, row + hs, sizeof(float) * hs);
      memcpy(v + t * hs, row + 2 * hs, sizeof(float) * hs);
    }
    rotary_rows(q, T, hs, j->rot, j->cos, j->sin);
    rotary_rows(k, T, hs, j->rot, j->cos, j->sin);
    for (int64_t t = 0; t < T; t++)
      for (int64_t i = 0; i < hs; i++) kT[i * T + t] = k[t * hs + i];
    gemm_job g = {q, kT, NULL, p, T, T, hs, 0, T};
    gemm_block(&g);
    for (int64_t t = 0; t < T; t++) {
      float *r = p + t * T, mx = -INFINITY, sum = 0;
      for (int64_t s = 0; s <= t; s++) mx = fmaxf(mx, r[s] * scale);
      for (int64_t s = 0; s <= t; s++) r[s] = exp_nonpos(r[s] * scale - mx);
      for (int64_t s = 0; s <= t; s++) sum += r[s];
      const float inv = 1.0f / sum;
      for (int64_t s = 0; s <= t; s++) r[s] *= inv;
      for (int64_t s = t + 1; s < T; s++) r[s] = 0;
    }
    gemm_job g2 = {p, v, NULL, o, T, hs, T, 0, hs};
    gemm_block(&g2);
    for (int64_t t = 0; t < T; t++) memcpy(j->out + t * d + h * hs, o + t * hs, sizeof(float) * hs);
  }
  free(q), free(k), free(kT), free(v), free(p), free(o);
}

static void attn_range(const void *p, int64_t h0, int64_t h1) {
  attn_job j = *(const attn_job *)p;
  j.h0 = h0, j.h1 = h1;
  attn_heads(&j);
}

void sb_attention(const float *qkv, float *out, const float *cos, const float *sin, int64_t T, int64_t d, int64_t heads,
                  int64_t rot, int32_t threads) {
  const attn_job all = {qkv, cos, sin, out, T, d, d / heads, rot, 0, heads};
  sb_parallel_for(attn_range, &all, heads, threads, 1);
}
