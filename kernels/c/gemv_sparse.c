/*
 * GEMV / small GEMM with sparse ternary weights: the column indices of each row's +1 and −1 weights (CSR).
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
  float *Y;
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

void sb_gemv_sparse(const int32_t *pos_off, const uint16_t *pos, const int32_t *neg_off, const uint16_t *neg,
                    const float *scale, const float *X, float *Y, int64_t rows, int64_t cols, int32_t B, int32_t threads) {
  sp_ctx c = {pos_off, neg_off, pos, neg, scale, X, Y, rows, cols, B};
  parallel_rows(sp_rows, &c, rows, threads);
}

