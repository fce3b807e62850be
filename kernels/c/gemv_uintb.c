/*
 * uint_b: GEMV over uniform b-bit codes (b = 2, 3, 4, 8) with a scale and an offset per group — the codes and
 * metadata rtn_asym, hqq and rtn_sym store, as the quantizer returned them (lib/kernels/uint_b.ts prepares them).
 *
 *   ŵ_k = s_g·q_k + c_g          (k in group g; c_g = min, −zero·s or −centre·s by reconstruction)
 *   y   = sx · Σ_g ( s_g·Σ_{k∈g} q_k·x̂_k + c_g·Σ_{k∈g} x̂_k )
 *
 * with x̂ the int8 activations (xu − 128) and sx their per-token scale. Codes are the unsigned operand of
 * vpdpbusd and x̂ the signed one, so Σ q·x̂ is exact in int32; the per-group Σ x̂ is computed once per call.
 *
 * Layout: a row's codes are a run of blocks, each one 64-byte load of codes holding 64·(8/w) columns as 8/w "sections" of
 * 64 columns (w = 2 for b = 2 and 3, 4 for b = 4, 8 for b = 8): byte j of a block holds column 64·i + j of the block
 * in bits w·i … w·i + w − 1. Section i is then one shift by w·i (none for i = 0) and one AND away from 64 codes in
 * column order — no variable shifts or shuffles, the fewest instructions per weight found (2026-12-07, Zen 5).
 * b = 3 adds, after the 64 bytes of the low two bits, four 64-bit words: bit j of word i is bit 2 of column 64·i + j.
 * So a block is 64 bytes (96 for b = 3) for 256 (b = 2, 3), 128 (b = 4) or 64 (b = 8) columns; rows are padded to
 * cp columns, a multiple of the block and of the group (32 columns, or a multiple of 64). Metadata: (s_g, c_g) as
 * two f32 per group, in the row's stream: a row is a run of superblocks, each the 64 bytes of (s, c) of eight groups
 * (zero pairs past the row's last group) followed by those groups' blocks (a row of fewer than eight groups is one
 * superblock; the last one may hold fewer), and the row is padded to a multiple of 64 bytes. In a separate array
 * the metadata was a second DRAM stream per row whose reads lagged the codes'; at the row's start (all of it, then
 * the codes) the reads reached back up to a row: Zen 5, 4096×11008, 4 bits, groups of 128, one thread (interleaved
 * A/B, 2026-12-07): separate array 0.76–0.77 ms, row start 0.81–0.98 ms, superblocks 0.69–0.70 ms; 3 bits 0.59–0.60
 * / 0.68–0.96 / 0.54–0.55 ms; at 4096² and 11008×4096 superblocks were as fast or faster at every width.
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemv_common.h"
#include "gemv_tuning.h"

/* Batch 1: software prefetch in each of the four row streams, SB_PF_UB bytes ahead (0 = none). Zen 5, one thread,
   DRAM-resident, groups of 128 (2026-12-07), with the metadata still in its own array: fraction of the bandwidth
   read at 4096², 11008×4096, 4096×11008, two rounds: no prefetch 0.72–0.82 (2 bits), 0.75–0.94 (3), 0.77–0.96 (4);
   2 KB ahead 0.76–1.11, 0.74–1.00, 0.74–0.90 (the long rows of 4096×11008 always the slowest); 1 KB and 4 KB ahead
   slower; eight rows at once slower at every width. With superblocks (interleaved A/B, 3 and 4 bits at 4096² and
   4096×11008): 2 KB 0.88–0.89 of the bandwidth, 1 KB 0.75–0.80, 3 KB 0.81–0.87, 4 KB 0.75–0.80. A prefetch a
   block skips lines — each superblock's metadata line and, at 3 bits (96-byte blocks), one line in three — so those
   get their own: 3 bits at 4096², groups of 32 / 64: 0.44 / 0.37 ms without them, 0.28 / 0.22 ms with them (the
   separate-array layout: 0.36 / 0.25 ms). Not measured on Intel. */
#ifndef SB_PF_UB
#define SB_PF_UB 2048
#endif
/* Batch 1 with huge pages (Zen 5, one thread, groups of 128, interleaved A/B of 30 rounds, 2026-12-07; 4096² /
   4096×11008 / 11008×4096): at 2 and 3 bits 2.5 KB ahead (as ternary2's one-chain kernel) against 2 KB, 0.1314 /
   0.3733 / 0.3565 → 0.1291 / 0.3611 / 0.3501 ms (2 bits), 0.1867 / 0.5400 / 0.5126 → 0.1841 / 0.5192 / 0.5110 (3
   bits); 4 bits mixed (−1.5 to +6 %: stays at 2 KB); 8 bits two rows at once instead of four, 0.5355 / 1.3297 /
   1.7072 → 0.5041 / 1.2922 / 1.6727 ms (two rows without prefetch: 7–13 % slower). Not measured on Intel. */
#ifndef SB_PF_UB_LOW
#define SB_PF_UB_LOW 2560
#endif
/* 2–16 tokens: the same prefetch in the pass that reads a row from memory first, and rows at once for two tokens,
   three or four, and more (in passes of four tokens). The batched paths had none and were memory-latency-bound,
   not compute-bound: Zen 5, one thread, 3 bits, groups of 128 (interleaved A/B, 2026-12-07), 4096² at 2 / 4 / 16
   tokens 0.29 / 0.41 / 1.51 ms without prefetch (two rows, one, two), 0.22 / 0.35 / 1.19 ms with it (four, two,
   two); 4096×11008 at 2 bits, 2 / 3 / 8 tokens: 0.92 / 1.63 / 2.04 → 0.41 / 0.65 / 1.58 ms. */
#ifndef SB_PF_UB_BATCH
#define SB_PF_UB_BATCH 2048
#endif
#ifndef SB_UB_ROWS_B2
#define SB_UB_ROWS_B2 4
#endif
#ifndef SB_UB_ROWS_B4
#define SB_UB_ROWS_B4 2
#endif
#ifndef SB_UB_ROWS_B8
#define SB_UB_ROWS_B8 2
#endif

typedef struct {
  const uint8_t *weights; /* rows × row_stride bytes: each row a run of superblocks (see the layout above) */
  int64_t row_stride, sb_bytes, sb_blocks, blocks;
  const int8_t *xs; /* B × cp signed activations */
  const float *xsum2; /* B × m2: (0, Σ x̂ of group g) for each group, zero-padded to m2 (a multiple of 16) floats */
  const float *sx;
  float *Y;
  int64_t rows, cp, group, groups, m2;
  int bits, B;
} ub_ctx;

/* Bits a code takes in the shared bytes (the 3-bit high plane is separate), sections (64 columns) a block, bytes. */
static inline int field_bits(int bits) { return bits == 3 ? 2 : bits; }
static inline int sections_per_block(int bits) { return 8 / field_bits(bits); }
static inline int64_t block_bytes(int bits) { return bits == 3 ? 96 : 64; }

/* The 64 codes of section i of the block at p, in column order (scalar: the reference layout). */
static inline void unpack_section_scalar(const uint8_t *p, int bits, int i, uint8_t *q) {
  const int w = field_bits(bits), mask = (1 << w) - 1;
  for (int j = 0; j < 64; j++) q[j] = (uint8_t)((p[j] >> (w * i)) & mask);
  if (bits == 3) {
    uint64_t hi;
    memcpy(&hi, p + 64 + 8 * i, 8);
    for (int j = 0; j < 64; j++) q[j] |= (uint8_t)(((hi >> j) & 1) << 2);
  }
}

/* Section i of a block already loaded (v; p for the 3-bit high plane): bits and i are compile-time constants at
   every call, so this is an AND, a shift + AND, and for b = 3 one masked byte add of 4. */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline __m512i section_avx512(
    __m512i v, const uint8_t *p, const int bits, const int i) {
  if (bits == 8) return v;
  const int w = field_bits(bits);
  const __m512i m = _mm512_set1_epi8((char)((1 << w) - 1));
  __m512i q = _mm512_and_si512(i ? _mm512_srli_epi16(v, w * i) : v, m);
  if (bits == 3) {
    uint64_t hi;
    memcpy(&hi, p + 64 + 8 * i, 8);
    q = _mm512_mask_add_epi8(q, _cvtu64_mask64(hi), q, _mm512_set1_epi8(4));
  }
  return q;
}

/* Rows r, r + stride, … (n ≤ R; missing ones re-read row r and are not written) for B tokens, AVX-512 VNNI — R,
   B and bits compile-time constants, so the R·B accumulators stay in registers. Several rows at once share each
   activation load and keep several DRAM streams in flight (more bandwidth from one core than one stream draws).
   Each group's int32 lanes go to float and are scaled by s_g into a float accumulator (groups of 32: s of the
   first group in lanes 0–7, which hold its columns, of the second in lanes 8–15), so the horizontal sum happens
   once per row; the offsets c_g·Σ x̂_g go in at each superblock's start, its 16 metadata floats as one vector. */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline void ub_rows_tpl(
    const ub_ctx *c, int64_t r, int64_t stride, int n, const int R, const int b0, const int B, const int bits,
    const int pf) {
  const int spb = sections_per_block(bits);
  const int64_t bb = block_bytes(bits);
  const int64_t spg = c->group == 32 ? 1 : c->group / 64; /* sections a group (groups of 32: two a section) */
  /* arrays sized by the largest R and B (sized by R and B they would be VLAs, kept on the stack); with R and B
     constants the loops unroll and the arrays become registers */
  const uint8_t *rb[4]; /* each row's first superblock */
  int64_t row[4];
  for (int k = 0; k < R; k++) {
    row[k] = r + (k < n ? k * stride : 0);
    rb[k] = c->weights + row[k] * c->row_stride;
  }
  __m512 f[4][MAXB];
  __m512i a[4][MAXB];
  for (int k = 0; k < R; k++)
    for (int b = 0; b < B; b++) f[k][b] = _mm512_setzero_ps(), a[k][b] = _mm512_setzero_si512();
  /* one flat loop over the row's blocks, a byte offset walking every row alike and a counter crossing into the
     next superblock (nested loops over superblocks and their blocks, or pointers per row and superblock, ran the
     batched copies up to 20 % slower) */
  int64_t moff = 0, off = 64, j = 0, left = spg, g = 0; /* g: the group in the superblock (groups of 32: section) */
#define UB_SUPERBLOCK_OFFSETS(SB)                                                                              \
  for (int k = 0; k < R; k++) SB_PREFETCH(rb[k] + moff, pf); /* the blocks' prefetches never land on it */      \
  for (int b = 0; b < B; b++) { /* its offsets Σ_g c_g·Σ x̂_g at once: eight (s, c) pairs times (0, Σ x̂) */      \
    const __m512 xv = _mm512_load_ps(c->xsum2 + (b0 + b) * c->m2 + 16 * (SB));                                 \
    for (int k = 0; k < R; k++) f[k][b] = _mm512_fmadd_ps(_mm512_loadu_ps((const float *)(rb[k] + moff)), xv, f[k][b]); \
  }
  UB_SUPERBLOCK_OFFSETS(0)
  for (int64_t blk = 0; blk < c->blocks; blk++, off += bb) {
    if (j == c->sb_blocks) {
      moff = off, off += 64, j = 0, left = spg, g = 0;
      UB_SUPERBLOCK_OFFSETS(blk / c->sb_blocks)
    }
    j++;
    __m512i v[4];
    for (int k = 0; k < R; k++) {
      SB_PREFETCH(rb[k] + off, pf);
      if (bits == 3) SB_PREFETCH(rb[k] + off + 64, pf); /* a 96-byte block: its second line too */
      v[k] = _mm512_loadu_si512((const void *)(rb[k] + off));
    }
#pragma GCC unroll 4
    for (int i = 0; i < spb; i++) {
      const int64_t t = blk * spb + i;
      __m512i x[MAXB];
      for (int b = 0; b < B; b++) x[b] = _mm512_load_si512((const void *)(c->xs + (b0 + b) * c->cp + t * 64));
      for (int k = 0; k < R; k++) {
        const __m512i q = section_avx512(v[k], rb[k] + off, bits, i);
        for (int b = 0; b < B; b++) a[k][b] = _mm512_dpbusd_epi32(a[k][b], q, x[b]);
      }
      if (c->group == 32) {
        for (int k = 0; k < R; k++) {
          const float *mk = (const float *)(rb[k] + moff) + 4 * g;
          const __m512 sv = _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(mk[0]), _mm512_set1_ps(mk[2]));
          for (int b = 0; b < B; b++)
            f[k][b] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a[k][b]), sv, f[k][b]), a[k][b] = _mm512_setzero_si512();
        }
        g++;
      } else if (--left == 0) {
        for (int k = 0; k < R; k++) {
          const __m512 sv = _mm512_set1_ps(((const float *)(rb[k] + moff))[2 * g]);
          for (int b = 0; b < B; b++)
            f[k][b] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a[k][b]), sv, f[k][b]), a[k][b] = _mm512_setzero_si512();
        }
        left = spg, g++;
      }
    }
  }
#undef UB_SUPERBLOCK_OFFSETS
  for (int k = 0; k < R; k++) /* k < R, not k < n: a runtime bound would keep the accumulators in memory */
    if (k < n)
      for (int b = 0; b < B; b++) c->Y[(b0 + b) * c->rows + row[k]] = _mm512_reduce_add_ps(f[k][b]) * c->sx[b0 + b];
}

/* Rows [r0, r1) for B tokens at BITS bits, the R·B accumulators in registers: one token four rows at once; two
   tokens four rows; three or four tokens two rows; more two rows, four tokens a pass (tokens 4–7 and on in further
   passes over the same two rows, read again from the cache), each first pass with software prefetch (above).
   Before the batch prefetch (Zen 5, 4096², groups of 128, one thread, median of 24, 2026-12-07) eight tokens took
   0.72–0.99 ms in two-row passes vs 0.90–1.40 one row with all eight. One function per (bits, B), not inlined into
   one dispatcher: a single function holding every copy spilled its accumulators to the stack. */
#define UB_TOKENS(R, B, BITS) \
  (ub_rows_tpl(c, r, q, n, R, 0, B < 4 ? B : 4, BITS, SB_PF_UB_BATCH), \
   B > 4 ? ub_rows_tpl(c, r, q, n, R, 4, B < 8 ? B - 4 : 4, BITS, 0) : (void)0, \
   B > 8 ? ub_rows_tpl(c, r, q, n, R, 8, B < 12 ? B - 8 : 4, BITS, 0) : (void)0, \
   B > 12 ? ub_rows_tpl(c, r, q, n, R, 12, B - 12, BITS, 0) : (void)0)
#define UB_RANGE(BITS, B)                                                                                       \
  __attribute__((target("avx512f,avx512bw,avx512vnni"), noinline)) static void ub_range_##BITS##_##B(           \
      const ub_ctx *c, int64_t r0, int64_t r1) {                                                                \
    if (B == 1 && BITS == 8) FOR_ROW_GROUPS(2, r0, r1, ub_rows_tpl(c, r, q, n, 2, 0, 1, BITS, SB_PF_UB));        \
    else if (B == 1) FOR_ROW_GROUPS(4, r0, r1, ub_rows_tpl(c, r, q, n, 4, 0, 1, BITS, BITS <= 3 ? SB_PF_UB_LOW : SB_PF_UB)); \
    else if (B == 2) FOR_ROW_GROUPS(SB_UB_ROWS_B2, r0, r1, ub_rows_tpl(c, r, q, n, SB_UB_ROWS_B2, 0, 2, BITS, SB_PF_UB_BATCH)); \
    else if (B <= 4) FOR_ROW_GROUPS(SB_UB_ROWS_B4, r0, r1, ub_rows_tpl(c, r, q, n, SB_UB_ROWS_B4, 0, B, BITS, SB_PF_UB_BATCH));                       \
    else FOR_ROW_GROUPS(SB_UB_ROWS_B8, r0, r1, UB_TOKENS(SB_UB_ROWS_B8, B, BITS));                               \
  }
#define UB_RANGES(BITS)                                                                                         \
  UB_RANGE(BITS, 1) UB_RANGE(BITS, 2) UB_RANGE(BITS, 3) UB_RANGE(BITS, 4) UB_RANGE(BITS, 5) UB_RANGE(BITS, 6)    \
  UB_RANGE(BITS, 7) UB_RANGE(BITS, 8) UB_RANGE(BITS, 9) UB_RANGE(BITS, 10) UB_RANGE(BITS, 11) UB_RANGE(BITS, 12) \
  UB_RANGE(BITS, 13) UB_RANGE(BITS, 14) UB_RANGE(BITS, 15) UB_RANGE(BITS, 16)                                    \
  static void (*const ub_ranges_##BITS[MAXB])(const ub_ctx *, int64_t, int64_t) = {                             \
      ub_range_##BITS##_1,  ub_range_##BITS##_2,  ub_range_##BITS##_3,  ub_range_##BITS##_4,                      \
      ub_range_##BITS##_5,  ub_range_##BITS##_6,  ub_range_##BITS##_7,  ub_range_##BITS##_8,                      \
      ub_range_##BITS##_9,  ub_range_##BITS##_10, ub_range_##BITS##_11, ub_range_##BITS##_12,                     \
      ub_range_##BITS##_13, ub_range_##BITS##_14, ub_range_##BITS##_15, ub_range_##BITS##_16};
UB_RANGES(2)
UB_RANGES(3)
UB_RANGES(4)
UB_RANGES(8)

static void ub_rows_vnni(const ub_ctx *c, int64_t r0, int64_t r1) {
  const int i = c->B - 1;
  switch (c->bits) {
    case 2: return ub_ranges_2[i](c, r0, r1);
    case 3: return ub_ranges_3[i](c, r0, r1);
    case 4: return ub_ranges_4[i](c, r0, r1);
    default: return ub_ranges_8[i](c, r0, r1);
  }
}

/* AVX2: 32 codes (one half section) against 32 activations, u8·s8 pairs summed to int32 (|q·x̂| ≤ 15·128: the
   16-bit pair sums never saturate). */
__attribute__((target("avx2"))) static inline int32_t dot32_avx2(const uint8_t *q, const int8_t *x) {
  const __m256i prod = _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)q), _mm256_loadu_si256((const __m256i *)x));
  return hsum_epi32_avx2(_mm256_madd_epi16(prod, _mm256_set1_epi16(1)));
}

/* The same for 8-bit codes (up to 255): the codes' low 7 bits and their top bit separately, so that no 16-bit pair
   sum saturates (2·127·127 < 2^15). */
__attribute__((target("avx2"))) static inline int32_t dot32_avx2_u8(const uint8_t *q, const int8_t *x) {
  const __m256i v = _mm256_loadu_si256((const __m256i *)q), xv = _mm256_loadu_si256((const __m256i *)x);
  const __m256i lo = _mm256_and_si256(v, _mm256_set1_epi8(0x7f));
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 7), _mm256_set1_epi8(1));
  const __m256i ones = _mm256_set1_epi16(1);
  return hsum_epi32_avx2(_mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(lo, xv), ones),
                                          _mm256_slli_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(hi, xv), ones), 7)));
}

static inline int32_t dot32_scalar(const uint8_t *q, const int8_t *x) {
  int32_t s = 0;
  for (int i = 0; i < 32; i++) s += (int32_t)q[i] * x[i];
  return s;
}

/* Rows [r0, r1) on AVX2 or scalar: unpack each section (scalar unpack), dot per 32-column half. */
static void ub_rows_portable(const ub_ctx *c, int64_t r0, int64_t r1, int avx2) {
  const int spb = sections_per_block(c->bits);
  const int64_t bb = block_bytes(c->bits), halves_per_group = c->group / 32;
  uint8_t q[64] __attribute__((aligned(64)));
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *row = c->weights + r * c->row_stride;
    float acc[MAXB] = {0};
    for (int64_t g = 0; g < c->groups; g++) {
      int32_t d[MAXB] = {0};
      for (int64_t h = 0; h < halves_per_group; h++) {
        const int64_t col = g * c->group + 32 * h, t = col / 64;
        if (col % 64 == 0) {
          const int64_t blk = t / spb, sb = blk / c->sb_blocks;
          unpack_section_scalar(row + sb * c->sb_bytes + 64 + (blk - sb * c->sb_blocks) * bb, c->bits, (int)(t % spb), q);
        }
        const uint8_t *qh = q + col % 64;
        for (int b = 0; b < c->B; b++) {
          const int8_t *x = c->xs + b * c->cp + col;
          d[b] += !avx2 ? dot32_scalar(qh, x) : c->bits == 8 ? dot32_avx2_u8(qh, x) : dot32_avx2(qh, x);
        }
      }
      const float *meta = (const float *)(row + g / 8 * c->sb_bytes) + 2 * (g % 8);
      const float s = meta[0], off = meta[1];
      for (int b = 0; b < c->B; b++) acc[b] += s * (float)d[b] + off * c->xsum2[b * c->m2 + 2 * g + 1];
    }
    for (int b = 0; b < c->B; b++) c->Y[b * c->rows + r] = acc[b] * c->sx[b];
  }
}

static void ub_rows(const void *p, int64_t r0, int64_t r1) {
  const ub_ctx *c = p;
  const int l = level();
  if (l == 2) return ub_rows_vnni(c, r0, r1);
  ub_rows_portable(c, r0, r1, l == 1);
}

/* Y[B × rows] = X̂·Ŵᵀ. weights: rows of superblocks as the layout above says (uint_b.ts's uintBGeometry); xu/sx as sb_quantize_acts writes them ([B × cp], +128). Returns 0, or −1 when out of memory / bad arguments. */
int32_t sb_gemv_uintb(const uint8_t *weights, int32_t bits, int64_t group, const uint8_t *xu, const float *sx, float *Y,
                      int64_t rows, int64_t cp, int32_t B, int32_t threads) {
  if (bits < 2 || (bits > 4 && bits != 8) || B < 1 || B > MAXB || !(group == 32 || (group % 64 == 0 && group > 0)) ||
      cp % group || cp % (64 * sections_per_block(bits)))
    return -1;
  const int64_t groups = cp / group, m2 = (2 * groups + 15) / 16 * 16;
  int8_t *xs = aligned_alloc(64, (size_t)(B * cp));
  float *xsum2 = aligned_alloc(64, sizeof(float) * (size_t)(B * m2));
  if (!xs || !xsum2) {
    free(xs);
    free(xsum2);
    return -1;
  }
  memset(xsum2, 0, sizeof(float) * (size_t)(B * m2));
  for (int b = 0; b < B; b++) {
    for (int64_t g = 0; g < groups; g++) {
      int32_t s = 0;
      for (int64_t k = g * group; k < (g + 1) * group; k++) {
        const int8_t v = (int8_t)(xu[b * cp + k] ^ 0x80);
        xs[b * cp + k] = v;
        s += v;
      }
      xsum2[b * m2 + 2 * g + 1] = (float)s;
    }
  }
  const int64_t block_cols = 64 * sections_per_block(bits), blocks = cp / block_cols;
  const int64_t sb_blocks = (8 * group < cp ? 8 * group : cp) / block_cols, superblocks = (blocks + sb_blocks - 1) / sb_blocks;
  const int64_t sb_bytes = 64 + sb_blocks * block_bytes(bits);
  const int64_t row_stride = (64 * superblocks + blocks * block_bytes(bits) + 63) / 64 * 64;
  ub_ctx c = {weights, row_stride, sb_bytes, sb_blocks, blocks, xs, xsum2, sx, Y, rows, cp, group, groups, m2, bits, B};
  parallel_rows(ub_rows, &c, rows, threads);
  free(xs);
  free(xsum2);
  return 0;
}
