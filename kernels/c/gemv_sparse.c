/*
 * GEMV / small GEMM with sparse ternary weights × int8 activations. Per row and 128-column block the format holds
 * two counts (+1s, −1s) and the non-zeros' positions within the block, a byte each, the +1s first (formats.ts).
 *   lookups (batch 1, and 2–16 tokens where blocks are dense enough), AVX-512 VBMI: a block's 128 activation bytes
 *     are a two-register table; one `vpermi2b` looks up 64 positions at once and one `vpdpbusd` adds them with
 *     weights ±1 (0 past the block's count). The cost is per block and token, not per non-zero (a gather per
 *     non-zero, the previous kernel, was 3–4× slower at 50–90 % zeros);
 *   transposed (2–16 tokens, sparser): the activations as floats, token-minor (xt[col·BP + b]), so one 16/32/64-byte
 *     load per non-zero serves every token; the row's positions are first widened to column numbers;
 *   otherwise: scalar, per non-zero.
 * The "columns" layout (very sparse layers, formats.ts): per row the +1s' then the −1s' column numbers (uint16).
 * Batch 1 adds them up per non-zero, with no per-block cost; 2–16 tokens read them as the transposed path's lists.
 * Activations are xu = x + 128 (uint8), so Σ w·x = Σ w·xu − 128·Σw with Σw = (+1s − −1s) per row.
 */
#include <immintrin.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemv_common.h"
#include "gemv_tuning.h"

#define SP_BLOCK 128

typedef struct {
  const int32_t *row_off, *wsum, *plus; /* plus: +1s per row (columns layout) */
  const uint16_t *columns;              /* the columns layout's lists; NULL for the blocks layout */
  const uint8_t *counts, *positions, *xu;
  const float *scale, *sx;
  float *Y, *Xt; /* Xt: the activations transposed, cp × BP floats (2–16 tokens) */
  int64_t rows, cp;
  int B, bp;
} sp_ctx;

/* ---- batch 1 ------------------------------------------------------------------------------ */

/* FIRST[n]: a mask of the first n lanes (none for n ≤ 0, all for n ≥ 64), −64 ≤ n ≤ 128, loaded as a mask register
   (`kmovq k, m64` is a load; computing it from the count in a register went through port 5, which `vpermi2b` also
   needs). Defined for negative n so that no index is clamped: gcc compiled `np > j ? np − j : 0` to a branch on
   np > 0, mispredicted in a quarter to half of the blocks at 98–99 % zeros (batch 1 2–3× slower there). */
static uint64_t FIRST_FROM_MINUS_64[64 + SP_BLOCK + 1];
#define FIRST (FIRST_FROM_MINUS_64 + 64)
__attribute__((constructor)) static void sp_init_masks(void) {
  for (int n = -64; n <= SP_BLOCK; n++) FIRST[n] = n <= 0 ? 0 : n >= 64 ? ~0ull : (1ull << n) - 1;
}

/* The ±1 weights of one block's ≤ 64 positions from j on: lanes < np − j weigh +1, lanes < n − j −1 past those,
   the rest 0. */
SB_VBMI_TARGET static inline __m512i sp_weights64(int np, int n, int j) {
  const __mmask64 kp = _load_mask64((__mmask64 *)&FIRST[np - j]);
  const __mmask64 kn = _load_mask64((__mmask64 *)&FIRST[n - j]);
  return _mm512_mask_mov_epi8(_mm512_maskz_mov_epi8(kn, _mm512_set1_epi8(-1)), kp, _mm512_set1_epi8(1));
}

/* acc += Σ over those positions of weight × the activation byte they name in the block's table lo:hi. */
SB_VBMI_TARGET static inline __m512i sp_lookup64(__m512i acc, __m512i lo, __m512i hi, __m512i positions,
                                                 __m512i weights) {
  return _mm512_dpbusd_epi32(acc, _mm512_permutex2var_epi8(lo, positions, hi), weights);
}

/* One block's lookups into acc: the first 64 positions always (no branch on n = 0, which mispredicted often), the
   rest (n > 64: over half the block non-zero) on a branch that is rarely taken where this layout is chosen. */
SB_VBMI_TARGET static inline __m512i sp_block(__m512i acc, const uint8_t *x, const uint8_t *pos, int np, int n) {
  const __m512i lo = _mm512_load_si512((const void *)x), hi = _mm512_load_si512((const void *)(x + 64));
  acc = sp_lookup64(acc, lo, hi, _mm512_loadu_si512((const void *)pos), sp_weights64(np, n, 0));
  if (__builtin_expect(n > 64, 0)) acc = sp_lookup64(acc, lo, hi, _mm512_loadu_si512((const void *)(pos + 64)),
                                                     sp_weights64(np, n, 64));
  return acc;
}

SB_VBMI_TARGET static void sp_rows_vbmi(const void *p, int64_t r0, int64_t r1) {
  const sp_ctx *c = p;
  const int64_t blocks = c->cp / SP_BLOCK;
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *pos = c->positions + c->row_off[r], *cnt = c->counts + 2 * r * blocks;
    __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
    int64_t k = 0;
    for (; k + 2 <= blocks; k += 2) { /* two blocks a step, two accumulators */
      /* the hardware prefetcher alone left this latency-bound (a slow, unaligned stream) */
      SB_PREFETCH(pos, SB_PF_SP);
      SB_PREFETCH(cnt + 2 * k, SB_PF_SP);
      const int np0 = cnt[2 * k], n0 = np0 + cnt[2 * k + 1], np1 = cnt[2 * k + 2], n1 = np1 + cnt[2 * k + 3];
      acc0 = sp_block(acc0, c->xu + k * SP_BLOCK, pos, np0, n0);
      acc1 = sp_block(acc1, c->xu + (k + 1) * SP_BLOCK, pos + n0, np1, n1);
      pos += n0 + n1;
    }
    if (k < blocks) acc0 = sp_block(acc0, c->xu + k * SP_BLOCK, pos, cnt[2 * k], cnt[2 * k] + cnt[2 * k + 1]);
    const int32_t sum = _mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1));
    c->Y[r] = c->scale[r] * c->sx[0] * (float)(sum - 128 * c->wsum[r]);
  }
}

/* Scalar, any batch: per token, per non-zero. */
static void sp_rows_scalar(const void *p, int64_t r0, int64_t r1) {
  const sp_ctx *c = p;
  const int64_t blocks = c->cp / SP_BLOCK;
  for (int64_t r = r0; r < r1; r++) {
    for (int b = 0; b < c->B; b++) {
      const uint8_t *pos = c->positions + c->row_off[r], *cnt = c->counts + 2 * r * blocks;
      const uint8_t *xu = c->xu + b * c->cp;
      int32_t s = 0;
      for (int64_t k = 0; k < blocks; k++) {
        const uint8_t *x = xu + k * SP_BLOCK;
        const int np = cnt[2 * k], n = np + cnt[2 * k + 1];
        for (int i = 0; i < np; i++) s += x[pos[i]];
        for (int i = np; i < n; i++) s -= x[pos[i]];
        pos += n;
      }
      c->Y[b * c->rows + r] = c->scale[r] * c->sx[b] * (float)(s - 128 * c->wsum[r]);
    }
  }
}

/* Scalar, any batch, columns layout: per token, per non-zero. */
static void sp_rows_columns_scalar(const void *p, int64_t r0, int64_t r1) {
  const sp_ctx *c = p;
  for (int64_t r = r0; r < r1; r++) {
    const uint16_t *col = c->columns + c->row_off[r];
    const int32_t np = c->plus[r], n = c->row_off[r + 1] - c->row_off[r];
    for (int b = 0; b < c->B; b++) {
      const uint8_t *xu = c->xu + b * c->cp;
      int32_t s = 0;
      for (int32_t i = 0; i < np; i++) s += xu[col[i]];
      for (int32_t i = np; i < n; i++) s -= xu[col[i]];
      c->Y[b * c->rows + r] = c->scale[r] * c->sx[b] * (float)(s - 128 * c->wsum[r]);
    }
  }
}

/* ---- 2–16 tokens, dense enough: per-token lookups --------------------------------------------- */

/* Four tokens at a time (token rows past B repeat the last one; those results are dropped): per block the
   positions and their ±1 weights are loaded once, then one `vpermi2b` + `vpdpbusd` per token. Cost per block
   ∝ tokens, not non-zeros: the choice where blocks hold many non-zeros (sb_gemv_sparse). */
SB_VBMI_TARGET static void sp_rows_vbmi_tokens(const void *p, int64_t r0, int64_t r1) {
  const sp_ctx *c = p;
  const int64_t blocks = c->cp / SP_BLOCK;
  for (int64_t r = r0; r < r1; r++) {
    for (int b0 = 0; b0 < c->B; b0 += 4) {
      const uint8_t *xu[4];
      for (int t = 0; t < 4; t++) xu[t] = c->xu + (b0 + t < c->B ? b0 + t : c->B - 1) * c->cp;
      const uint8_t *pos = c->positions + c->row_off[r], *cnt = c->counts + 2 * r * blocks;
      __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                        _mm512_setzero_si512()};
      for (int64_t k = 0; k < blocks; k++) {
        SB_PREFETCH(pos, SB_PF_SP);
        SB_PREFETCH(cnt + 2 * k, SB_PF_SP);
        const int np = cnt[2 * k], n = np + cnt[2 * k + 1];
        for (int t = 0; t < 4; t++) acc[t] = sp_block(acc[t], xu[t] + k * SP_BLOCK, pos, np, n);
        pos += n;
      }
      for (int t = 0; t < 4 && b0 + t < c->B; t++) {
        const int b = b0 + t;
        c->Y[b * c->rows + r] =
            c->scale[r] * c->sx[b] * (float)(_mm512_reduce_add_epi32(acc[t]) - 128 * c->wsum[r]);
      }
    }
  }
}

/* ---- 2–16 tokens, sparse: transposed activations ---------------------------------------------- */

typedef float v4 __attribute__((vector_size(16)));
typedef float v8 __attribute__((vector_size(32)));

/* One row's non-zeros as column numbers: the +1s into P, the −1s into N (each list ≥ 32 entries longer than the
   row's count); returns the number of +1s, *nn the −1s. With AVX-512 a block's positions are widened 32 at a time
   and stored whole, the list end advanced by the count: no loop whose exit depends on the count (such loops'
   mispredicted exits had made this path 3× slower than a flat list) unless a sign has > 32 in one block. */
__attribute__((target("avx512f,avx512bw"))) static int sp_columns_avx512(const sp_ctx *c, int64_t r, uint16_t *P,
                                                                       uint16_t *N, int *nn) {
  const int64_t blocks = c->cp / SP_BLOCK;
  const uint8_t *pos = c->positions + c->row_off[r], *cnt = c->counts + 2 * r * blocks;
  uint16_t *p0 = P, *n0 = N;
#define SP_WIDEN(dst, src, base) \
  _mm512_storeu_si512((void *)(dst), _mm512_add_epi16(_mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(src))), base))
  for (int64_t k = 0; k < blocks; k++) {
    SB_PREFETCH(pos, SB_PF_SP);
    SB_PREFETCH(cnt + 2 * k, SB_PF_SP);
    const int np = cnt[2 * k], nneg = cnt[2 * k + 1];
    const __m512i base = _mm512_set1_epi16((int16_t)(k * SP_BLOCK));
    SP_WIDEN(P, pos, base);
    SP_WIDEN(N, pos + np, base);
    for (int j = 32; j < np; j += 32) SP_WIDEN(P + j, pos + j, base);
    for (int j = 32; j < nneg; j += 32) SP_WIDEN(N + j, pos + np + j, base);
    P += np, N += nneg, pos += np + nneg;
  }
#undef SP_WIDEN
  *nn = (int)(N - n0);
  return (int)(P - p0);
}

static int sp_columns_scalar(const sp_ctx *c, int64_t r, uint16_t *P, uint16_t *N, int *nn) {
  const int64_t blocks = c->cp / SP_BLOCK;
  const uint8_t *pos = c->positions + c->row_off[r], *cnt = c->counts + 2 * r * blocks;
  int np_all = 0, nn_all = 0;
  for (int64_t k = 0; k < blocks; k++) {
    const int np = cnt[2 * k], n = np + cnt[2 * k + 1];
    for (int i = 0; i < np; i++) P[np_all++] = (uint16_t)(k * SP_BLOCK + pos[i]);
    for (int i = np; i < n; i++) N[nn_all++] = (uint16_t)(k * SP_BLOCK + pos[i]);
    pos += n;
  }
  *nn = nn_all;
  return np_all;
}

/* One row, BP tokens at once: Σ_pos xt[col] − Σ_neg xt[col], one BP-float vector per non-zero, two accumulator
   chains per sign (four measured no faster: the random reads of xt, from L1/L2, bound it at ~2 cycles a non-zero).
   xt holds x = xu − 128 exactly (integers below 2^24). VT is BP floats; the target decides how the compiler splits
   it into registers. */
#define SP_TOKENS(NAME, VT, TARGET)                                                                      \
  TARGET static void NAME(const sp_ctx *c, int64_t r, const uint16_t *P, int np, const uint16_t *N, int nn) { \
    const VT *xt = (const VT *)c->Xt;                                                                    \
    VT p0 = {0}, p1 = {0}, n0 = {0}, n1 = {0};                                                           \
    int i = 0;                                                                                           \
    for (; i + 2 <= np; i += 2) {                                                                        \
      SB_PREFETCH(P + i, SB_PF_SP);                                                                      \
      p0 += xt[P[i]], p1 += xt[P[i + 1]];                                                                \
    }                                                                                                    \
    if (i < np) p0 += xt[P[i]];                                                                          \
    for (i = 0; i + 2 <= nn; i += 2) {                                                                   \
      SB_PREFETCH(N + i, SB_PF_SP);                                                                      \
      n0 += xt[N[i]], n1 += xt[N[i + 1]];                                                                \
    }                                                                                                    \
    if (i < nn) n0 += xt[N[i]];                                                                          \
    const VT s = (p0 + p1) - (n0 + n1);                                                                  \
    for (int b = 0; b < c->B; b++) c->Y[b * c->rows + r] = c->scale[r] * c->sx[b] * s[b];                \
  }
SP_TOKENS(sp_tokens4, v4, )
SP_TOKENS(sp_tokens8, v8, __attribute__((target("avx2"))))
SP_TOKENS(sp_tokens16_avx2, v16, __attribute__((target("avx2"))))
SP_TOKENS(sp_tokens16, v16, __attribute__((target("avx512f"))))

/* A per-thread scratch buffer of at least `bytes`, kept between calls (the pool's threads live on), grown when a
   call needs more: no allocation per call. */
static void *sp_scratch(size_t bytes) {
  static _Thread_local void *buf;
  static _Thread_local size_t cap;
  if (bytes > cap) {
    free(buf);
    cap = bytes > 2 * cap ? bytes : 2 * cap;
    if (!(buf = malloc(cap))) abort();
  }
  return buf;
}

static void sp_rows_tokens(const void *p, int64_t r0, int64_t r1) {
  const sp_ctx *c = p;
  /* the blocks layout's row as column lists, ≤ cp + 64 entries per sign */
  uint16_t *lists = c->columns ? NULL : sp_scratch((size_t)(2 * (c->cp + 64)) * sizeof(uint16_t));
  uint16_t *P = lists, *N = lists ? lists + c->cp + 64 : NULL;
  const int wide = level() == 2;
  for (int64_t r = r0; r < r1; r++) {
    int np, nn;
    if (c->columns) {
      P = (uint16_t *)c->columns + c->row_off[r], np = c->plus[r];
      N = P + np, nn = c->row_off[r + 1] - c->row_off[r] - np;
    } else {
      np = wide ? sp_columns_avx512(c, r, P, N, &nn) : sp_columns_scalar(c, r, P, N, &nn);
    }
    if (c->bp == 4) sp_tokens4(c, r, P, np, N, nn);
    else if (c->bp == 8) sp_tokens8(c, r, P, np, N, nn);
    else if (wide) sp_tokens16(c, r, P, np, N, nn);
    else sp_tokens16_avx2(c, r, P, np, N, nn);
  }
}

/* ---- columns layout, batch 1 ------------------------------------------------------------------ */

/* Non-zeros per run of rows summed in one flat loop (its prefix sums in L1: 16 KB). */
#define SP_RUN 4096

/* Rows with few non-zeros each: their lists are added up as one flat run of rows, storing the running sum S after
   every entry, so a row is S at its three boundaries: Σ+ − Σ− = (S[m] − S[a]) − (S[e] − S[m]) with a, m, e its start,
   first −1 and end. One loop per run instead of two per row: the per-row loops' unpredictable exits cost more than
   the adds (~40 % slower at 1–2 % non-zeros). */
static void sp_rows_columns(const void *p, int64_t r0, int64_t r1) {
  const sp_ctx *c = p;
  int32_t *S = sp_scratch((size_t)(c->cp + SP_RUN + 1) * sizeof(int32_t)); /* a row has ≤ cp entries */
  for (int64_t ra = r0; ra < r1;) {
    int64_t rb = ra + 1;
    while (rb < r1 && c->row_off[rb + 1] - c->row_off[ra] <= SP_RUN) rb++;
    const int32_t base = c->row_off[ra], n = c->row_off[rb] - base;
    const uint16_t *col = c->columns + base;
    const uint8_t *xu = c->xu;
    int32_t s = 0, i = 0;
    S[0] = 0;
    for (; i + 4 <= n; i += 4) {
      SB_PREFETCH(col + i, SB_PF_SP);
      const int32_t a = xu[col[i]], b = xu[col[i + 1]], d = xu[col[i + 2]], e = xu[col[i + 3]];
      S[i + 1] = s + a, S[i + 2] = s + a + b, S[i + 3] = s + a + b + d, S[i + 4] = s += a + b + d + e;
    }
    for (; i < n; i++) S[i + 1] = s += xu[col[i]];
    for (int64_t r = ra; r < rb; r++) {
      const int32_t a = c->row_off[r] - base, e = c->row_off[r + 1] - base, m = a + c->plus[r];
      c->Y[r] = c->scale[r] * c->sx[0] * (float)(2 * S[m] - S[a] - S[e] - 128 * c->wsum[r]);
    }
    ra = rb;
  }
}

/* Xt[k·bp + b] = xu[b·cp + k] − 128 for b < B, four columns × four tokens at a time: the 4×4 bytes (a 4-byte load
   per token) transposed by one byte shuffle, then widened to floats. Token rows past B repeat the last one: those
   lanes are dropped. cp is a multiple of 128. */
__attribute__((target("sse4.1"))) static void sp_transpose(const uint8_t *xu, float *Xt, int64_t cp, int B, int bp) {
  const __m128i by_column = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __m128i bias = _mm_set1_epi32(128);
  for (int64_t k = 0; k < cp; k += 4)
    for (int b0 = 0; b0 < B; b0 += 4) {
      int32_t t[4];
      for (int j = 0; j < 4; j++) memcpy(&t[j], xu + (b0 + j < B ? b0 + j : B - 1) * cp + k, 4);
      const __m128i m = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)t), by_column);
      const __m128i c0 = _mm_cvtepu8_epi32(m), c1 = _mm_cvtepu8_epi32(_mm_srli_si128(m, 4));
      const __m128i c2 = _mm_cvtepu8_epi32(_mm_srli_si128(m, 8)), c3 = _mm_cvtepu8_epi32(_mm_srli_si128(m, 12));
      _mm_store_ps(Xt + (k + 0) * bp + b0, _mm_cvtepi32_ps(_mm_sub_epi32(c0, bias)));
      _mm_store_ps(Xt + (k + 1) * bp + b0, _mm_cvtepi32_ps(_mm_sub_epi32(c1, bias)));
      _mm_store_ps(Xt + (k + 2) * bp + b0, _mm_cvtepi32_ps(_mm_sub_epi32(c2, bias)));
      _mm_store_ps(Xt + (k + 3) * bp + b0, _mm_cvtepi32_ps(_mm_sub_epi32(c3, bias)));
    }
}

/* 2–16 tokens on the transposed activations (either layout): Xt built for 4, 8 or 16 tokens a column, then the rows. */
static void sp_run_transposed(sp_ctx *c, int32_t threads) {
  c->bp = c->B <= 4 ? 4 : c->B <= 8 ? 8 : 16;
  sp_transpose(c->xu, c->Xt, c->cp, c->B, c->bp);
  parallel_rows(sp_rows_tokens, c, c->rows, threads);
}

/* 2–16 tokens: per-token lookups when the blocks hold on average more non-zeros than this × B. Measured (4096²,
   one thread, Ice Lake): lookups faster at 6.4 a block for 2–4 tokens and 25.6 for 8–16, the transposed path at
   2.6 and 12.8. */
#ifndef SB_SP_LOOKUP_PER_TOKEN
#define SB_SP_LOOKUP_PER_TOKEN 1.5
#endif

/* The 2–16-token strategy: −1 by density (the default), 0 transposed activations, 1 per-token lookups (where
   AVX-512 VBMI exists) — set by tests so that both run on any weights. Returns the previous setting. */
static _Atomic int sp_strategy = -1;
int32_t sb_sparse_strategy(int32_t s) { return atomic_exchange(&sp_strategy, s < 0 ? -1 : s > 0); }

/* xu, sx: the activations as sb_quantize_acts gives them ([B × cp], cp a multiple of 128). Xt: scratch of
   cp × 16 floats, 64-byte aligned, used for 2–16 tokens (NULL otherwise; lanes past B are computed and dropped). */
void sb_gemv_sparse(const int32_t *row_off, const uint8_t *counts, const uint8_t *positions, const float *scale,
                    const int32_t *wsum, const uint8_t *xu, const float *sx, float *Xt, float *Y, int64_t rows,
                    int64_t cp, int32_t B, int32_t threads) {
  sp_ctx c = {row_off, wsum, NULL, NULL, counts, positions, xu, scale, sx, Y, Xt, rows, cp, B, 0};
  const int vbmi = level() == 2 && __builtin_cpu_supports("avx512vbmi");
  if (B == 1 && vbmi) {
    parallel_rows(sp_rows_vbmi, &c, rows, threads);
  } else if (B == 1 || level() == 0 || !Xt) {
    parallel_rows(sp_rows_scalar, &c, rows, threads);
  } else if (vbmi && (sp_strategy >= 0
                           ? sp_strategy
                           : row_off[rows] > SB_SP_LOOKUP_PER_TOKEN * B * (double)rows * (double)(cp / SP_BLOCK))) {
    parallel_rows(sp_rows_vbmi_tokens, &c, rows, threads);
  } else {
    sp_run_transposed(&c, threads);
  }
}

/* The columns layout: row_off (rows + 1) into columns, plus[r] the +1s of row r (their columns first). Arguments
   otherwise as sb_gemv_sparse's. */
void sb_gemv_sparse_columns(const int32_t *row_off, const int32_t *plus, const uint16_t *columns, const float *scale,
                            const int32_t *wsum, const uint8_t *xu, const float *sx, float *Xt, float *Y,
                            int64_t rows, int64_t cp, int32_t B, int32_t threads) {
  sp_ctx c = {row_off, wsum, plus, columns, NULL, NULL, xu, scale, sx, Y, Xt, rows, cp, B, 0};
  if (B == 1) {
    parallel_rows(sp_rows_columns, &c, rows, threads);
  } else if (level() == 0 || !Xt) {
    parallel_rows(sp_rows_columns_scalar, &c, rows, threads);
  } else {
    sp_run_transposed(&c, threads);
  }
}
