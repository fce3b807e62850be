/*
 * GEMV / small GEMM with ternary weights in the base-3 code (5 trits per byte, lib/kernels/base3_code.ts): AVX-512
 * VBMI table lookups + VNNI, and a scalar-table path. Conventions as in gemv.c.
 */
#include <immintrin.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemv_common.h"
#include "gemv_tuning.h"

/* ---- ternary, base-3 (5 trits per byte) ----------------------------------------------
 * 320-column blocks of 64 bytes; byte j of a block holds the weights of columns j + 64·i, i = 0…4, in the
 * base-3 code of lib/kernels/base3_code.ts: w_i = PLANE_i[the byte without its skipped bits, packed], the planes
 * skipping bit 7, bits 6–7, bit 0, bit 0 and bit 3. The caller passes the five tables (int8 w, 128 entries apart).
 * AVX-512 VBMI: the index is the byte itself (vpermi2b ignores an index's bit 7, vpermb bits 6–7), byte >> 1
 * (vpsrlw: bit 7 takes the next byte's bit 0, ignored), or bits 0–2 of the byte with bits 1–6 of byte >> 1 (a bit
 * select of the two); each plane is one table lookup to 64 signed weights and one vpdpbusd with the biased
 * activations (u8 x + 128 × s8 w), and
 *   Σ w·x = Σ w·(x + 128) − 128·Σw.
 * Seven vector operations, one register copy (vpermi2b overwrites the index planes 2 and 3 share) and five vpdpbusd
 * per 64 bytes (320 weights). */

#define T3_TARGET SB_VBMI_TARGET

typedef struct {
  const uint8_t *packed;
  const float *scale;
  const int32_t *wsum;
  const int8_t *planes; /* 5 × 128 */
  const uint8_t *xu;
  const float *sx;
  float *Y;
  int64_t rows, cp, bytes_per_row;
  int B;
  const uint8_t *xp; /* the activations, rows xstride bytes apart (sb_padded_rows for B > 1) */
  int64_t xstride;
  int intel; /* the Intel tuning (sb_on_intel()): prefetch distance, row groups, column tiles */
  int vbmi;
  int8_t trit_of[256][5]; /* w of each byte value, for the paths without VBMI */
} t3_ctx;

/* The tables of plane i as vpermi2b's two halves: entries 0–63 and 64–127. */
typedef struct {
  __m512i lo[5], hi[5];
} t3_tables;

T3_TARGET static inline t3_tables t3_load_tables(const int8_t *planes) {
  t3_tables t;
  for (int i = 0; i < 5; i++) {
    t.lo[i] = _mm512_loadu_si512((const void *)(planes + 128 * i));
    t.hi[i] = _mm512_loadu_si512((const void *)(planes + 128 * i + 64));
  }
  return t;
}

/* acc += vpdpbusd(u8 u, s8 s) in place: gcc's intrinsic copied every accumulator to another register and back
   around each vpdpbusd (two extra moves each, measured ~15 % slower here). */
T3_TARGET static inline __m512i dpbusd_inplace(__m512i acc, __m512i u, __m512i s) {
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(s));
  return acc;
}

/* The three lookup indices of a 64-byte block q: the byte itself, byte >> 1 (skips bit 0) and bits 0–2 of the byte
   with bits 1–6 of byte >> 1 (skips bit 3). */
typedef struct {
  __m512i q, s1, s3;
} t3_lookups;

T3_TARGET static inline t3_lookups t3_indices(__m512i q) {
  const __m512i s1 = _mm512_srli_epi16(q, 1);
  return (t3_lookups){q, s1, _mm512_ternarylogic_epi32(_mm512_set1_epi8(0x78), s1, q, 0xCA)}; /* 0x78 ? s1 : q */
}

/* Plane i (a compile-time constant) of a block: its 64 signed weights. */
T3_TARGET static inline __m512i t3_plane(const t3_tables *t, const t3_lookups *x, const int i) {
  switch (i) {
    case 0: return _mm512_permutex2var_epi8(t->lo[0], x->q, t->hi[0]);
    case 1: return _mm512_permutexvar_epi8(x->q, t->lo[1]); /* a 64-entry table: vpermb leaves q intact */
    case 2: return _mm512_permutex2var_epi8(t->lo[2], x->s1, t->hi[2]);
    case 3: return _mm512_permutex2var_epi8(t->lo[3], x->s1, t->hi[3]);
    default: return _mm512_permutex2var_epi8(t->lo[4], x->s3, t->hi[4]);
  }
}

/* The five planes of 64 weights of one 64-byte block q. */
T3_TARGET static inline void t3_decode(const t3_tables *t, __m512i q, __m512i w[5]) {
  const t3_lookups x = t3_indices(q);
#pragma GCC unroll 5
  for (int i = 0; i < 5; i++) w[i] = t3_plane(t, &x, i);
}

/* Σ of each of two vectors' 16 lanes, reduced together. */
T3_TARGET static inline void sum_two(__m512i s0, __m512i s1, int32_t out[2]) {
  __m512i u = _mm512_add_epi32(_mm512_shuffle_i64x2(s0, s1, 0x44), _mm512_shuffle_i64x2(s0, s1, 0xEE));
  u = _mm512_add_epi32(u, _mm512_shuffle_i64x2(u, u, 0xB1));
  u = _mm512_add_epi32(u, _mm512_shuffle_epi32(u, 0x4E));
  u = _mm512_add_epi32(u, _mm512_shuffle_epi32(u, 0xB1));
  out[0] = _mm512_cvtsi512_si32(u);
  out[1] = _mm_cvtsi128_si32(_mm512_extracti32x4_epi32(u, 2));
}

/* Batch 1, R rows at once: rows r, r + stride, … (n ≤ R of them; a missing row re-reads row r and is not written) —
   R DRAM streams sharing each activation load; NA accumulators per row (plane i into i mod NA: enough chains to hide
   vpdpbusd's latency), the block held in a register (gcc otherwise re-read it for each of its uses). R (even) and NA
   are compile-time constants: 2 rows × 5 (Zen 5) or 6 rows × 1 (Ice Lake-SP, which reads DRAM fastest with more
   streams: 4 × 2 was +6–11 % over 2 × 5 there, 6 × 1 another 5–10 %) — the accumulators, five activation vectors
   and the tables fill the 32 registers. */
__attribute__((target("avx512f,avx512bw,avx512vnni,avx512vbmi"), always_inline)) static inline void t3_row_group(
    const t3_ctx *c, const t3_tables *t, int64_t r, int64_t stride, int n, const int R, const int NA,
    const int64_t pf) {
  enum { MAXR = 6, MAXNA = 5 };
  const uint8_t *p[MAXR];
#pragma GCC unroll 6
  for (int k = 0; k < R; k++) p[k] = c->packed + (r + (k < n ? k : 0) * stride) * c->bytes_per_row;
  SB_PREFETCH_ROW_VALUES(c->scale, r + SB_T3_VALUES_AHEAD, stride, n);
  SB_PREFETCH_ROW_VALUES(c->wsum, r + SB_T3_VALUES_AHEAD, stride, n);
  __m512i a[MAXR][MAXNA];
#pragma GCC unroll 6
  for (int k = 0; k < R; k++)
#pragma GCC unroll 5
    for (int i = 0; i < NA; i++) a[k][i] = _mm512_setzero_si512();
  for (int64_t blk = 0; blk < c->cp / 320; blk++) {
    const uint8_t *xb = c->xp + blk * 320;
    __m512i x[5];
#pragma GCC unroll 5
    for (int i = 0; i < 5; i++) x[i] = _mm512_loadu_si512((const void *)(xb + 64 * i));
    __asm__("" : "+v"(x[0]), "+v"(x[1]), "+v"(x[2]), "+v"(x[3]), "+v"(x[4])); /* loaded once for all rows */
#pragma GCC unroll 6
    for (int k = 0; k < R; k++) {
      SB_PREFETCH(p[k] + blk * 64, pf);
      __m512i v = _mm512_loadu_si512((const void *)(p[k] + blk * 64)), w[5];
      __asm__("" : "+v"(v));
      t3_decode(t, v, w);
#pragma GCC unroll 5
      for (int i = 0; i < 5; i++) a[k][i % NA] = dpbusd_inplace(a[k][i % NA], x[i], w[i]);
    }
  }
  __m512i sum[MAXR];
#pragma GCC unroll 6
  for (int k = 0; k < R; k++) {
    sum[k] = a[k][0];
#pragma GCC unroll 5
    for (int i = 1; i < NA; i++) sum[k] = _mm512_add_epi32(sum[k], a[k][i]);
  }
  int32_t d[MAXR];
#pragma GCC unroll 3
  for (int k = 0; k < R; k += 2) sum_two(sum[k], sum[k + 1], d + k);
  for (int k = 0; k < n; k++) {
    const int64_t row = r + k * stride;
    c->Y[row] = c->scale[row] * c->sx[0] * (float)(d[k] - 128 * c->wsum[row]);
  }
}

/* Batch 1: rows [r0, r1) in groups spread over the range (FOR_ROW_GROUPS), the tables loaded once — per-row costs
   matter here: a 4096-column row is only 13 blocks. The group shape and prefetch distance by CPU vendor, each a
   compile-time constant in its copy (a run-time prefetch distance measured ~5 % slower). */
T3_TARGET static void t3_rows_b1(const t3_ctx *c, int64_t r0, int64_t r1) {
  const t3_tables t = t3_load_tables(c->planes);
  if (c->intel) FOR_ROW_GROUPS(6, r0, r1, t3_row_group(c, &t, r, q, n, 6, 1, SB_PF_T3_INTEL));
  else FOR_ROW_GROUPS(2, r0, r1, t3_row_group(c, &t, r, q, n, 2, 5, SB_PF_T3));
}

/* Row r, blocks [k0, k1), tokens b0 … b0 + NB − 1 (NB a compile-time constant ≤ 8): each block decoded once, then A
   accumulator chains per token (one chain of five vpdpbusd a block is bound by their latency at few tokens). With
   `part` NULL the row's outputs are written; otherwise each token's raw dot product is added to part[b]. */
__attribute__((target("avx512f,avx512bw,avx512vnni,avx512vbmi"), always_inline)) static inline void t3_row_tokens(
    const t3_ctx *c, const t3_tables *t, int64_t r, int b0, const int NB, int64_t k0, int64_t k1, int32_t *part) {
  enum { MAXA = 5, MAXNB = 8 };
  const int A = NB <= 2 ? 5 : NB <= 4 ? 3 : NB <= 6 ? 2 : 1; /* measured: 7–8 tokens × 2 chains spill */
  const uint8_t *pk = c->packed + r * c->bytes_per_row;
  const int64_t pf = c->intel ? SB_PF_T3_INTEL : SB_PF_T3;
  __m512i acc[MAXNB][MAXA];
#pragma GCC unroll 8
  for (int b = 0; b < NB; b++)
#pragma GCC unroll 5
    for (int a = 0; a < A; a++) acc[b][a] = _mm512_setzero_si512();
  for (int64_t blk = k0; blk < k1; blk++) {
    SB_PREFETCH(pk + blk * 64, pf);
    __m512i v = _mm512_loadu_si512((const void *)(pk + blk * 64)), w[5];
    __asm__("" : "+v"(v));
    t3_decode(t, v, w);
    const uint8_t *x = c->xp + b0 * c->xstride + blk * 320;
#pragma GCC unroll 5
    for (int i = 0; i < 5; i++)
#pragma GCC unroll 8
      for (int b = 0; b < NB; b++)
        acc[b][i % A] = dpbusd_inplace(acc[b][i % A], _mm512_loadu_si512((const void *)(x + b * c->xstride + 64 * i)),
                                       w[i]);
  }
#pragma GCC unroll 8
  for (int b = 0; b < NB; b++) {
    __m512i sum = acc[b][0];
#pragma GCC unroll 5
    for (int a = 1; a < A; a++) sum = _mm512_add_epi32(sum, acc[b][a]);
    const int32_t d = _mm512_reduce_add_epi32(sum);
    if (part) part[b] += d;
    else c->Y[(b0 + b) * c->rows + r] = c->scale[r] * c->sx[b0 + b] * (float)(d - 128 * c->wsum[r]);
  }
}

/* Intel, batches: rows r, r + stride (n ≤ 2 of them; a missing one re-reads row r and is not written) for tokens
   b0 … b0 + NB − 1 (NB ≤ 4, a compile-time constant), plane by plane so that each activation load serves both
   rows: one row at a time loaded an activation vector for every vpdpbusd, and this host's L1 delivers about one
   64-byte load a cycle (measured: 8 tokens ran at ~0.7 vpdpbusd a cycle). Decoding is repeated per 4 tokens. */
__attribute__((target("avx512f,avx512bw,avx512vnni,avx512vbmi"), always_inline)) static inline void t3_pair_tokens(
    const t3_ctx *c, const t3_tables *t, int64_t r, int64_t stride, int n, const int b0, const int NB) {
  enum { MAXNB = 4 };
  const uint8_t *p0 = c->packed + r * c->bytes_per_row, *p1 = c->packed + (r + (n > 1 ? stride : 0)) * c->bytes_per_row;
  __m512i a0[MAXNB], a1[MAXNB];
#pragma GCC unroll 4
  for (int b = 0; b < NB; b++) a0[b] = a1[b] = _mm512_setzero_si512();
  for (int64_t blk = 0; blk < c->cp / 320; blk++) {
    SB_PREFETCH(p0 + blk * 64, SB_PF_T3_INTEL);
    SB_PREFETCH(p1 + blk * 64, SB_PF_T3_INTEL);
    __m512i q0 = _mm512_loadu_si512((const void *)(p0 + blk * 64)), q1 = _mm512_loadu_si512((const void *)(p1 + blk * 64));
    __asm__("" : "+v"(q0), "+v"(q1));
    const t3_lookups x0 = t3_indices(q0), x1 = t3_indices(q1);
    const uint8_t *x = c->xp + b0 * c->xstride + blk * 320;
#pragma GCC unroll 5
    for (int i = 0; i < 5; i++) {
      const __m512i w0 = t3_plane(t, &x0, i), w1 = t3_plane(t, &x1, i);
#pragma GCC unroll 4
      for (int b = 0; b < NB; b++) {
        __m512i xb = _mm512_loadu_si512((const void *)(x + b * c->xstride + 64 * i));
        __asm__("" : "+v"(xb)); /* one load for both rows */
        a0[b] = dpbusd_inplace(a0[b], xb, w0);
        a1[b] = dpbusd_inplace(a1[b], xb, w1);
      }
    }
  }
  for (int k = 0; k < n; k++) {
    const int64_t row = r + k * stride;
#pragma GCC unroll 4
    for (int b = 0; b < NB; b++) {
      const int32_t d = _mm512_reduce_add_epi32(k ? a1[b] : a0[b]);
      c->Y[(b0 + b) * c->rows + row] = c->scale[row] * c->sx[b0 + b] * (float)(d - 128 * c->wsum[row]);
    }
  }
}

/* All B tokens of row r over blocks [k0, k1): up to 8 at once (sixteen tokens' accumulators and the tables do not fit
   the registers; the row's second pass reads it from L1). */
__attribute__((target("avx512f,avx512bw,avx512vnni,avx512vbmi"), always_inline)) static inline void t3_row_all(
    const t3_ctx *c, const t3_tables *t, int64_t r, const int B, int64_t k0, int64_t k1, int32_t *part) {
  if (B <= 8) {
    t3_row_tokens(c, t, r, 0, B, k0, k1, part);
  } else {
    t3_row_tokens(c, t, r, 0, 8, k0, k1, part);
    t3_row_tokens(c, t, r, 8, B - 8, k0, k1, part ? part + 8 : NULL);
  }
}

/* B tokens (a compile-time constant at each call site). Intel: two rows, four tokens at a time (t3_pair_tokens;
   A/B on Ice Lake-SP, 4096², one thread: 2/4/8/16 tokens 0.45/0.67/0.95/2.86 → 0.39/0.58/0.86/2.05 ms). Zen 5 (as
   measured there): one row at a time; when the B tokens' activations exceed L1
   (SB_T3_TILE_ABOVE bytes; long rows, many tokens: 8 × 11008 columns is 88 KB), the columns go in tiles of
   SB_T3_TILE_BYTES of activations, each over all the rows, with int32 partial sums per row and token: otherwise
   every row streams them from L2 (measured: 3.0 → 2.4 ms at 4096×11008, 8 tokens; tiling activations that fit L1
   was slower). */
__attribute__((target("avx512f,avx512bw,avx512vnni,avx512vbmi"), always_inline)) static inline void t3_batch(
    const t3_ctx *c, int64_t r0, int64_t r1, const int B) {
  const t3_tables t = t3_load_tables(c->planes);
  if (c->intel && B <= SB_T3_PAIR_MAXB) { /* two rows, four tokens at a time */
    /* each chunk's token count a compile-time constant (a helper function for this loop measured 3 % slower) */
    FOR_ROW_GROUPS(2, r0, r1, ({
#pragma GCC unroll 4
                     for (int b0 = 0; b0 < B; b0 += 4) t3_pair_tokens(c, &t, r, q, n, b0, B - b0 < 4 ? B - b0 : 4);
                   }));
    return;
  }
  const int64_t blocks = c->cp / 320, tile = SB_T3_TILE_BYTES / (B * c->xstride / blocks);
  const int tiled = (!c->intel || SB_T3_TILE_INTEL) && B * c->xstride > SB_T3_TILE_ABOVE && tile > 0 && tile < blocks;
  int32_t *part = tiled ? calloc((size_t)((r1 - r0) * B), sizeof(int32_t)) : NULL;
  if (!part) { /* one tile (or no memory) */
    for (int64_t r = r0; r < r1; r++) t3_row_all(c, &t, r, B, 0, blocks, NULL);
    return;
  }
  for (int64_t k0 = 0; k0 < blocks; k0 += tile) {
    const int64_t k1 = k0 + tile < blocks ? k0 + tile : blocks;
    for (int64_t r = r0; r < r1; r++) t3_row_all(c, &t, r, B, k0, k1, part + (r - r0) * B);
  }
  for (int64_t r = r0; r < r1; r++)
    for (int b = 0; b < B; b++)
      c->Y[b * c->rows + r] = c->scale[r] * c->sx[b] * (float)(part[(r - r0) * B + b] - 128 * c->wsum[r]);
  free(part);
}

T3_TARGET static void t3_rows_vbmi(const t3_ctx *c, int64_t r0, int64_t r1) {
  if (c->B == 1) { /* the decode case */
    return t3_rows_b1(c, r0, r1);
  }
  BY_BATCH(t3_batch, c, r0, r1)
}

static void t3_rows(const void *p, int64_t r0, int64_t r1) {
  const t3_ctx *c = p;
  if (c->vbmi) return t3_rows_vbmi(c, r0, r1);
  int8_t *w = aligned_alloc(64, (size_t)c->cp);
  if (!w) return;
  int32_t d[MAXB];
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *pk = c->packed + r * c->bytes_per_row;
    for (int64_t j = 0; j < c->bytes_per_row; j++) {
      const int64_t base = (j / 64) * 320 + j % 64;
      for (int i = 0; i < 5; i++) w[base + 64 * i] = c->trit_of[pk[j]][i];
    }
    dots(c->xu, c->cp, c->B, w, 0, c->cp / 64, d);
    for (int b = 0; b < c->B; b++) c->Y[b * c->rows + r] = c->scale[r] * c->sx[b] * (float)(d[b] - 128 * c->wsum[r]);
  }
  free(w);
}

static const uint8_t t3_skipped[5] = {0x80, 0xC0, 0x01, 0x01, 0x08}; /* bit masks, as base3_code.ts */

/* The bits of v outside `skip`, packed in order. */
static int t3_index(int v, int skip) {
  int index = 0, at = 0;
  for (int bit = 0; bit < 8; bit++)
    if (!(skip >> bit & 1)) index |= (v >> bit & 1) << at++;
  return index;
}

void sb_gemv_base3(const uint8_t *packed, const float *scale, const int32_t *wsum, const int8_t *planes,
                   const uint8_t *xu, const float *sx, float *Y, int64_t rows, int64_t cp, int64_t bytes_per_row,
                   int32_t B, int32_t threads) {
  t3_ctx c = {packed, scale, wsum, planes, xu, sx, Y, rows, cp, bytes_per_row, B, xu, cp, sb_on_intel(), 0, {{0}}};
  c.vbmi = level() == 2 && __builtin_cpu_supports("avx512vbmi");
  void *xp = NULL;
  if (c.vbmi) {
    int64_t stride;
    xp = sb_padded_rows(xu, B, cp, &stride); /* rows of a batch 64 bytes more than cp apart; NULL: as they are */
    if (xp) c.xp = xp, c.xstride = stride;
  } else {
    for (int v = 0; v < 256; v++)
      for (int i = 0; i < 5; i++) c.trit_of[v][i] = planes[128 * i + t3_index(v, t3_skipped[i])];
  }
  parallel_rows(t3_rows, &c, rows, threads);
  free(xp);
}

