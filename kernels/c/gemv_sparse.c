/*
 * GEMV / small GEMM with sparse ternary weights: the column indices of each row's +1 and −1 weights (CSR).
 * Batch 1 gathers x[idx] per index; 2–16 tokens read the activations transposed (token-minor, xt[col·BP + b]),
 * so one vector load per index serves every token (a gather per token cost ~B× as much).
 */
#include <immintrin.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemv_common.h"
#include "gemv_tuning.h"

/* ---- sparse ternary (CSR of +1 and −1 positions) -------------------------------------- */

typedef struct {
  const int32_t *pos_off, *neg_off;
  const uint16_t *pos, *neg;
  const float *scale, *X;
  float *Y, *Xt; /* Xt: the activations transposed, cols × BP (2–16 tokens) */
  int64_t rows, cols;
  int B;
} sp_ctx;

/* Σ x[idx[i]] over n indices: AVX-512 gathers of 16 (vpmovzxwd widens the uint16 indices), two
   vector accumulators so consecutive adds do not wait on each other. */
__attribute__((target("avx512f"))) static float gather_sum_avx512(const float *x, const uint16_t *idx, int32_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0;
  int32_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512i i0 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(idx + i)));
    const __m512i i1 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(idx + i + 16)));
    a0 = _mm512_add_ps(a0, _mm512_i32gather_ps(i0, x, 4));
    a1 = _mm512_add_ps(a1, _mm512_i32gather_ps(i1, x, 4));
  }
  if (i + 16 <= n) {
    const __m512i iv = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(idx + i)));
    a0 = _mm512_add_ps(a0, _mm512_i32gather_ps(iv, x, 4));
    i += 16;
  }
  float tail = 0;
  for (; i < n; i++) tail += x[idx[i]];
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) + tail;
}

/* Scalar: four partial sums (one float accumulator is bound by the add's latency). */
static float gather_sum_scalar(const float *x, const uint16_t *idx, int32_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) s0 += x[idx[i]], s1 += x[idx[i + 1]], s2 += x[idx[i + 2]], s3 += x[idx[i + 3]];
  for (; i < n; i++) s0 += x[idx[i]];
  return (s0 + s1) + (s2 + s3);
}

typedef float v4 __attribute__((vector_size(16)));
typedef float v8 __attribute__((vector_size(32)));

/* One row, BP tokens at once: Σ_pos xt[idx] − Σ_neg xt[idx], one BP-float vector per index, two accumulator
   chains per sign (four measured no faster: the random reads of xt, 16–64 bytes each from L1/L2, bound it at ~2
   cycles an index). VT is BP floats; the target decides how the compiler splits it into registers. */
#define SP_TOKENS(NAME, VT, BP, TARGET)                                                                  \
  TARGET static void NAME(const sp_ctx *c, int64_t r0, int64_t r1) {                                   \
    const VT *xt = (const VT *)c->Xt;                                                                  \
    for (int64_t r = r0; r < r1; r++) {                                                                \
      const uint16_t *pos = c->pos + c->pos_off[r], *neg = c->neg + c->neg_off[r];                     \
      const int32_t np = c->pos_off[r + 1] - c->pos_off[r], nn = c->neg_off[r + 1] - c->neg_off[r];    \
      VT p0 = {0}, p1 = {0}, n0 = {0}, n1 = {0};                                                       \
      int32_t i = 0;                                                                                   \
      for (; i + 2 <= np; i += 2) p0 += xt[pos[i]], p1 += xt[pos[i + 1]];                              \
      if (i < np) p0 += xt[pos[i]];                                                                    \
      for (i = 0; i + 2 <= nn; i += 2) n0 += xt[neg[i]], n1 += xt[neg[i + 1]];                         \
      if (i < nn) n0 += xt[neg[i]];                                                                    \
      const VT s = (p0 + p1) - (n0 + n1);                                                              \
      for (int b = 0; b < c->B; b++) c->Y[b * c->rows + r] = c->scale[r] * s[b];                       \
    }                                                                                                  \
  }
SP_TOKENS(sp_tokens4, v4, 4, )
SP_TOKENS(sp_tokens8, v8, 8, __attribute__((target("avx2"))))
SP_TOKENS(sp_tokens16_avx2, v16, 16, __attribute__((target("avx2"))))
SP_TOKENS(sp_tokens16, v16, 16, __attribute__((target("avx512f"))))

/* Tokens per transposed column: 4, 8 or 16 (0: the per-token path — batch 1, or the scalar CPU path). */
static int sp_tokens_per_col(int B) {
  if (B == 1 || level() == 0) return 0;
  return B <= 4 ? 4 : B <= 8 ? 8 : 16;
}

/* Xt[k·bp + b] = X[b·cols + k] for b < B: 4×4 blocks transposed in SSE registers (scalar copies measured 1.5–2×
   slower; this is bound by moving the bytes through L2). Token rows past B repeat the last one: those lanes are
   dropped. */
static void sp_transpose(const float *X, float *Xt, int64_t cols, int B, int bp) {
  int64_t k = 0;
  for (; k + 4 <= cols; k += 4)
    for (int b0 = 0; b0 < B; b0 += 4) {
      __m128 r[4];
      for (int j = 0; j < 4; j++) r[j] = _mm_loadu_ps(X + (b0 + j < B ? b0 + j : B - 1) * cols + k);
      _MM_TRANSPOSE4_PS(r[0], r[1], r[2], r[3]);
      for (int j = 0; j < 4; j++) _mm_store_ps(Xt + (k + j) * bp + b0, r[j]);
    }
  for (; k < cols; k++)
    for (int b = 0; b < B; b++) Xt[k * bp + b] = X[b * cols + k];
}

static void sp_rows_tokens(const void *p, int64_t r0, int64_t r1) {
  const sp_ctx *c = p;
  const int bp = sp_tokens_per_col(c->B);
  if (bp == 4) sp_tokens4(c, r0, r1);
  else if (bp == 8) sp_tokens8(c, r0, r1);
  else if (level() == 2) sp_tokens16(c, r0, r1);
  else sp_tokens16_avx2(c, r0, r1);
}

static void sp_rows(const void *p, int64_t r0, int64_t r1) {
  const sp_ctx *c = p;
  const int vec = level() == 2;
  for (int64_t r = r0; r < r1; r++) {
    const uint16_t *pos = c->pos + c->pos_off[r], *neg = c->neg + c->neg_off[r];
    const int32_t np = c->pos_off[r + 1] - c->pos_off[r], nn = c->neg_off[r + 1] - c->neg_off[r];
    for (int b = 0; b < c->B; b++) {
      const float *x = c->X + b * c->cols;
      const float s = vec ? gather_sum_avx512(x, pos, np) - gather_sum_avx512(x, neg, nn)
                          : gather_sum_scalar(x, pos, np) - gather_sum_scalar(x, neg, nn);
      c->Y[b * c->rows + r] = c->scale[r] * s;
    }
  }
}

/* Xt: scratch of cols × 16 floats, 64-byte aligned (the transposed activations for 2–16 tokens; lanes past B are
   computed and dropped, so they need no zeroing). */
void sb_gemv_sparse(const int32_t *pos_off, const uint16_t *pos, const int32_t *neg_off, const uint16_t *neg,
                    const float *scale, const float *X, float *Xt, float *Y, int64_t rows, int64_t cols, int32_t B,
                    int32_t threads) {
  sp_ctx c = {pos_off, neg_off, pos, neg, scale, X, Y, Xt, rows, cols, B};
  const int bp = sp_tokens_per_col(B);
  if (!bp) {
    parallel_rows(sp_rows, &c, rows, threads);
    return;
  }
  sp_transpose(X, Xt, cols, B, bp);
  parallel_rows(sp_rows_tokens, &c, rows, threads);
}

