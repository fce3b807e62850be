/*
 * Pieces shared by the GEMV kernels (gemv.c, gemv_base3.c, gemv_sparse.c, coded_gemv.c): the CPU path chosen
 * at run time, u8·s8 dot products over 64-byte chunks, and the row-parallel driver.
 */
#ifndef SUBBIT_GEMV_COMMON_H
#define SUBBIT_GEMV_COMMON_H
#include <immintrin.h>
#include <stdint.h>

#include "thread_pool.h"

#define MAXB 16

/* The target of the kernels that use AVX-512 VBMI byte lookups (base-3, sparse). */
#define SB_VBMI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni,avx512vbmi")))

typedef float v16 __attribute__((vector_size(64))); /* 16 floats, one AVX-512 register */

extern int sb_cpu_level; /* 2 = avx512 vnni, 1 = avx2, 0 = scalar, -1 not yet detected (gemv.c) */
static inline int level(void) {
  if (sb_cpu_level < 0) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) sb_cpu_level = 2;
    else if (__builtin_cpu_supports("avx2")) sb_cpu_level = 1;
    else sb_cpu_level = 0;
  }
  return sb_cpu_level;
}

/* ---- int8 dot products of 64 bytes: acc += Σ u8[i]·s8[i] ---------------------------- */

/* The sum of the eight int32 lanes of an AVX2 register. */
__attribute__((target("avx2"))) static inline int32_t hsum_epi32_avx2(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static inline __m512i dot64_vnni(__m512i acc, const uint8_t *u,
                                                                                          __m512i w) {
  return _mm512_dpbusd_epi32(acc, _mm512_loadu_si512((const void *)u), w);
}

__attribute__((target("avx2"))) static inline int32_t dot64_avx2(const uint8_t *u, const int8_t *w) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc = _mm256_setzero_si256();
  for (int h = 0; h < 64; h += 32) {
    __m256i a = _mm256_loadu_si256((const __m256i *)(u + h)), b = _mm256_loadu_si256((const __m256i *)(w + h));
    /* u8·s8 pairs summed to s16 (saturating: |x+128|·|w| ≤ 255·127·2 < 2^16 only for |w|≤64;
       int8 weights can reach 127, so split the unsigned side into two 7-bit halves) */
    __m256i lo = _mm256_and_si256(a, _mm256_set1_epi8(0x7f));
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(a, 7), _mm256_set1_epi8(1));
    __m256i plo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, b), ones);
    __m256i phi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, b), ones);
    acc = _mm256_add_epi32(acc, _mm256_add_epi32(plo, _mm256_slli_epi32(phi, 7)));
  }
  return hsum_epi32_avx2(acc);
}

static inline int32_t dot64_scalar(const uint8_t *u, const int8_t *w) {
  int32_t s = 0;
  for (int i = 0; i < 64; i++) s += (int32_t)u[i] * w[i];
  return s;
}

/* Σ over 64-byte chunks of u8·s8 for B tokens: xu is [B × cp], w is one row's int8 run of n64·64 bytes. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static inline void dots_vnni(const uint8_t *xu, int64_t cp, int B,
                                                                              const int8_t *w, int64_t k0, int64_t n64,
                                                                              int32_t *out) {
  __m512i acc[MAXB];
  for (int b = 0; b < B; b++) acc[b] = _mm512_setzero_si512();
  for (int64_t c = 0; c < n64; c++) {
    __m512i wv = _mm512_loadu_si512((const void *)(w + c * 64));
    for (int b = 0; b < B; b++) acc[b] = dot64_vnni(acc[b], xu + b * cp + k0 + c * 64, wv);
  }
  for (int b = 0; b < B; b++) out[b] = _mm512_reduce_add_epi32(acc[b]);
}

static inline void dots(const uint8_t *xu, int64_t cp, int B, const int8_t *w, int64_t k0, int64_t n64, int32_t *out) {
  int l = level();
  if (l == 2) return dots_vnni(xu, cp, B, w, k0, n64, out);
  for (int b = 0; b < B; b++) {
    int32_t s = 0;
    for (int64_t c = 0; c < n64; c++) s += l == 1 ? dot64_avx2(xu + b * cp + k0 + c * 64, w + c * 64)
                                               : dot64_scalar(xu + b * cp + k0 + c * 64, w + c * 64);
    out[b] = s;
  }
}

/* ---- row-parallel driver ------------------------------------------------------------- */

typedef sb_range_fn row_fn;
static inline void parallel_rows(row_fn fn, const void *ctx, int64_t rows, int threads) {
  sb_parallel_for(fn, ctx, rows, threads, 1);
}

/* Visit the rows [r0, r1) as groups of up to R rows ⌈(r1 − r0)/R⌉ apart — R separate DRAM streams, for kernels
   that read R rows at once: CALL runs with r (the group's first row), q (the spacing) and n (its rows, ≤ R). */
#define FOR_ROW_GROUPS(R, r0, r1, CALL)                         \
  do {                                                          \
    const int64_t q = ((r1) - (r0) + (R) - 1) / (R);            \
    for (int64_t r = (r0); r < (r0) + q; r++) {                 \
      int n = 0;                                                \
      while (n < (R) && r + n * q < (r1)) n++;                  \
      CALL;                                                     \
    }                                                           \
  } while (0)

/* Batches with R·B accumulators in registers: FN(c, r, q, n, R, b0, NB) runs rows r, r + q, … (n ≤ R) for tokens
   b0 … b0 + NB − 1 (R, b0, NB compile-time constants). Up to four tokens RS rows at once, up to eight RL rows; beyond,
   RL rows for tokens 0–7 and again for the rest (the second pass reads their weights from the cache). */
#define BY_ROWS_AND_TOKENS(FN, c, r0, r1, B, RS, RL)                                                      \
  do {                                                                                                    \
    if ((B) <= 4) FOR_ROW_GROUPS(RS, r0, r1, FN(c, r, q, n, RS, 0, B));                                   \
    else if ((B) <= 8) FOR_ROW_GROUPS(RL, r0, r1, FN(c, r, q, n, RL, 0, B));                              \
    else FOR_ROW_GROUPS(RL, r0, r1, (FN(c, r, q, n, RL, 0, 8), FN(c, r, q, n, RL, 8, (B) - 8)));          \
  } while (0)

/* Call FN(c, r0, r1, B) with B a compile-time constant 1…16, so that each batch size gets its own copy
   with its per-token accumulators in registers (a runtime-sized array of them is kept on the stack). */
#define BY_BATCH(FN, c, r0, r1)                                    \
  switch ((c)->B) {                                                 \
    case 1: FN(c, r0, r1, 1); break;                                \
    case 2: FN(c, r0, r1, 2); break;                                \
    case 3: FN(c, r0, r1, 3); break;                                \
    case 4: FN(c, r0, r1, 4); break;                                \
    case 5: FN(c, r0, r1, 5); break;                                \
    case 6: FN(c, r0, r1, 6); break;                                \
    case 7: FN(c, r0, r1, 7); break;                                \
    case 8: FN(c, r0, r1, 8); break;                                \
    case 9: FN(c, r0, r1, 9); break;                                \
    case 10: FN(c, r0, r1, 10); break;                              \
    case 11: FN(c, r0, r1, 11); break;                              \
    case 12: FN(c, r0, r1, 12); break;                              \
    case 13: FN(c, r0, r1, 13); break;                              \
    case 14: FN(c, r0, r1, 14); break;                              \
    case 15: FN(c, r0, r1, 15); break;                              \
    case 16: FN(c, r0, r1, 16); break;                              \
  }
#endif
