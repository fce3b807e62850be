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
 * Layout (per row, per 64 columns, 8·b bytes; rows padded to cp columns, a multiple of 64 and of the group):
 *   b = 4: byte j (0…31): column j in the low nibble, column j + 32 in the high one;
 *   b = 2: byte j (0…15): column j + 16·i in bits 2i…2i+1 (i = 0…3);
 *   b = 3: the low two bits as b = 2 (16 bytes), then the third bit of column j as bit j of a 64-bit word;
 *   b = 8: byte j is column j.
 * So one 64-column chunk unpacks to 64 code bytes in column order. Metadata: (s_g, c_g) as two f32 per group,
 * groups of `group` columns (32, or a multiple of 64) along the padded row.
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemv_common.h"

typedef struct {
  const uint8_t *packed;
  const float *meta;
  const int8_t *xs; /* B × cp signed activations */
  const int32_t *xsum; /* B × groups: Σ x̂ of each group */
  const float *sx;
  float *Y;
  int64_t rows, cp, group, groups;
  int bits, B;
} ub_ctx;

static inline int64_t chunk_bytes(int bits) { return 8 * bits; }

/* The 64 codes of one chunk, in column order (scalar: the reference layout). */
static inline void unpack64_scalar(const uint8_t *p, int bits, uint8_t *q) {
  if (bits == 8) {
    memcpy(q, p, 64);
    return;
  }
  if (bits == 4) {
    for (int j = 0; j < 32; j++) q[j] = p[j] & 15, q[j + 32] = p[j] >> 4;
    return;
  }
  for (int j = 0; j < 16; j++)
    for (int i = 0; i < 4; i++) q[j + 16 * i] = (p[j] >> (2 * i)) & 3;
  if (bits == 3) {
    uint64_t hi;
    memcpy(&hi, p + 16, 8);
    for (int j = 0; j < 64; j++) q[j] |= (uint8_t)(((hi >> j) & 1) << 2);
  }
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static inline __m512i unpack64_avx512(const uint8_t *p,
                                                                                              int bits) {
  if (bits == 8) return _mm512_loadu_si512((const void *)p);
  if (bits == 4) {
    const __m256i v = _mm256_loadu_si256((const __m256i *)p), m = _mm256_set1_epi8(15);
    const __m256i lo = _mm256_and_si256(v, m), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m);
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
  }
  /* four copies of the 16 bytes, the i-th shifted right by 2i (16-bit shifts: the bits kept never cross bytes) */
  const __m512i v = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)p));
  const __m512i sh = _mm512_set_epi64(0x0006000600060006, 0x0006000600060006, 0x0004000400040004,
                                      0x0004000400040004, 0x0002000200020002, 0x0002000200020002, 0, 0);
  __m512i q = _mm512_and_si512(_mm512_srlv_epi16(v, sh), _mm512_set1_epi8(3));
  if (bits == 3) {
    uint64_t hi;
    memcpy(&hi, p + 16, 8);
    q = _mm512_or_si512(q, _mm512_maskz_set1_epi8((__mmask64)hi, 4));
  }
  return q;
}

/* Batch 1, groups of 64k: rows r, r + stride, … (n ≤ 4; missing ones re-read row r and are not written) at once,
   sharing each activation load — four separate DRAM streams draw more bandwidth from one core than one does. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void ub_four_rows_b1_vnni(const ub_ctx *c, int64_t r,
                                                                                         int64_t stride, int n) {
  const int64_t cb = chunk_bytes(c->bits), row_bytes = c->cp / 64 * cb, cpg = c->group / 64, G = c->groups;
  const int64_t r1 = r + (n > 1 ? stride : 0), r2 = r + (n > 2 ? 2 * stride : 0), r3 = r + (n > 3 ? 3 * stride : 0);
  const uint8_t *p0 = c->packed + r * row_bytes, *p1 = c->packed + r1 * row_bytes, *p2 = c->packed + r2 * row_bytes,
                *p3 = c->packed + r3 * row_bytes;
  const float *m0 = c->meta + r * G * 2, *m1 = c->meta + r1 * G * 2, *m2 = c->meta + r2 * G * 2,
              *m3 = c->meta + r3 * G * 2;
  __m512 f0 = _mm512_setzero_ps(), f1 = f0, f2 = f0, f3 = f0;
  float o0 = 0, o1 = 0, o2 = 0, o3 = 0;
  for (int64_t g = 0; g < G; g++) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (int64_t k = 0; k < cpg; k++) {
      const int64_t ch = g * cpg + k;
      const __m512i x = _mm512_loadu_si512((const void *)(c->xs + ch * 64));
      a0 = _mm512_dpbusd_epi32(a0, unpack64_avx512(p0 + ch * cb, c->bits), x);
      a1 = _mm512_dpbusd_epi32(a1, unpack64_avx512(p1 + ch * cb, c->bits), x);
      a2 = _mm512_dpbusd_epi32(a2, unpack64_avx512(p2 + ch * cb, c->bits), x);
      a3 = _mm512_dpbusd_epi32(a3, unpack64_avx512(p3 + ch * cb, c->bits), x);
    }
    const float xg = (float)c->xsum[g];
    f0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a0), _mm512_set1_ps(m0[2 * g]), f0), o0 += m0[2 * g + 1] * xg;
    f1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a1), _mm512_set1_ps(m1[2 * g]), f1), o1 += m1[2 * g + 1] * xg;
    f2 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a2), _mm512_set1_ps(m2[2 * g]), f2), o2 += m2[2 * g + 1] * xg;
    f3 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a3), _mm512_set1_ps(m3[2 * g]), f3), o3 += m3[2 * g + 1] * xg;
  }
  const float sx = c->sx[0];
  c->Y[r] = (_mm512_reduce_add_ps(f0) + o0) * sx;
  if (n > 1) c->Y[r1] = (_mm512_reduce_add_ps(f1) + o1) * sx;
  if (n > 2) c->Y[r2] = (_mm512_reduce_add_ps(f2) + o2) * sx;
  if (n > 3) c->Y[r3] = (_mm512_reduce_add_ps(f3) + o3) * sx;
}

/* Rows [r0, r1) for B tokens (a compile-time constant at each BY_BATCH call, so the per-token accumulators stay in
   registers), AVX-512 VNNI. Each group's int32 lanes go to float and are scaled by s_g into a float vector
   accumulator (groups of 32: s of the first group in lanes 0–7, which hold its columns, of the second in lanes
   8–15), so the horizontal sum happens once per row; the offsets add c_g·Σ x̂_g as scalars. */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline void ub_batch_vnni(
    const ub_ctx *c, int64_t r0, int64_t r1, const int B) {
  const int64_t cb = chunk_bytes(c->bits), row_bytes = c->cp / 64 * cb, chunks_per_group = c->group / 64;
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *p = c->packed + r * row_bytes;
    const float *meta = c->meta + r * c->groups * 2;
    __m512 acc[MAXB];
    float off[MAXB];
    for (int b = 0; b < B; b++) acc[b] = _mm512_setzero_ps(), off[b] = 0;
    if (c->group == 32) {
      for (int64_t ch = 0; ch < c->cp / 64; ch++) {
        const __m512i q = unpack64_avx512(p + ch * cb, c->bits);
        const float *m = meta + 4 * ch;
        const __m512 sv = _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(m[0]), _mm512_set1_ps(m[2]));
        for (int b = 0; b < B; b++) {
          const __m512i d = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q,
                                                _mm512_loadu_si512((const void *)(c->xs + b * c->cp + ch * 64)));
          acc[b] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), sv, acc[b]);
          const int32_t *xg = c->xsum + b * c->groups + 2 * ch;
          off[b] += m[1] * (float)xg[0] + m[3] * (float)xg[1];
        }
      }
    } else {
      for (int64_t g = 0; g < c->groups; g++) {
        __m512i a[MAXB];
        for (int b = 0; b < B; b++) a[b] = _mm512_setzero_si512();
        for (int64_t k = 0; k < chunks_per_group; k++) {
          const int64_t ch = g * chunks_per_group + k;
          const __m512i q = unpack64_avx512(p + ch * cb, c->bits);
          for (int b = 0; b < B; b++)
            a[b] = _mm512_dpbusd_epi32(a[b], q, _mm512_loadu_si512((const void *)(c->xs + b * c->cp + ch * 64)));
        }
        const __m512 sv = _mm512_set1_ps(meta[2 * g]);
        for (int b = 0; b < B; b++) {
          acc[b] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a[b]), sv, acc[b]);
          off[b] += meta[2 * g + 1] * (float)c->xsum[b * c->groups + g];
        }
      }
    }
    for (int b = 0; b < B; b++) c->Y[b * c->rows + r] = (_mm512_reduce_add_ps(acc[b]) + off[b]) * c->sx[b];
  }
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void ub_rows_vnni(const ub_ctx *c, int64_t r0, int64_t r1) {
  if (c->B == 1 && c->group != 32) {
    FOR_ROW_GROUPS(4, r0, r1, ub_four_rows_b1_vnni(c, r, q, n));
    return;
  }
  BY_BATCH(ub_batch_vnni, c, r0, r1)
}

/* AVX2: 32 codes (one half chunk) against 32 activations, u8·s8 pairs summed to int32 (|q·x̂| ≤ 15·128: the
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

/* Rows [r0, r1) on AVX2 or scalar: unpack each chunk (scalar unpack), dot per 32-column half. */
static void ub_rows_portable(const ub_ctx *c, int64_t r0, int64_t r1, int avx2) {
  const int64_t cb = chunk_bytes(c->bits), row_bytes = c->cp / 64 * cb, halves_per_group = c->group / 32;
  uint8_t q[64] __attribute__((aligned(64)));
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *p = c->packed + r * row_bytes;
    const float *meta = c->meta + r * c->groups * 2;
    float acc[MAXB] = {0};
    for (int64_t g = 0; g < c->groups; g++) {
      int32_t d[MAXB] = {0};
      for (int64_t h = 0; h < halves_per_group; h++) {
        const int64_t col = g * c->group + 32 * h;
        if (col % 64 == 0) unpack64_scalar(p + col / 64 * cb, c->bits, q);
        const uint8_t *qh = q + col % 64;
        for (int b = 0; b < c->B; b++) {
          const int8_t *x = c->xs + b * c->cp + col;
          d[b] += !avx2 ? dot32_scalar(qh, x) : c->bits == 8 ? dot32_avx2_u8(qh, x) : dot32_avx2(qh, x);
        }
      }
      const float s = meta[2 * g], off = meta[2 * g + 1];
      for (int b = 0; b < c->B; b++) acc[b] += s * (float)d[b] + off * (float)c->xsum[b * c->groups + g];
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

/* Y[B × rows] = X̂·Ŵᵀ. packed: rows × cp/64 × 8·bits bytes; meta: rows × (cp/group) × (s, c); xu/sx as
   sb_quantize_acts writes them ([B × cp], +128). Returns 0, or −1 when out of memory / bad arguments. */
int32_t sb_gemv_uintb(const uint8_t *packed, const float *meta, int32_t bits, int64_t group, const uint8_t *xu,
                      const float *sx, float *Y, int64_t rows, int64_t cp, int32_t B, int32_t threads) {
  if (bits < 2 || (bits > 4 && bits != 8) || B < 1 || B > MAXB || cp % 64 || !(group == 32 || (group % 64 == 0 && group > 0)) ||
      cp % group)
    return -1;
  const int64_t groups = cp / group;
  int8_t *xs = aligned_alloc(64, (size_t)(B * cp));
  int32_t *xsum = malloc(sizeof(int32_t) * (size_t)(B * groups));
  if (!xs || !xsum) {
    free(xs);
    free(xsum);
    return -1;
  }
  for (int b = 0; b < B; b++) {
    for (int64_t g = 0; g < groups; g++) {
      int32_t s = 0;
      for (int64_t k = g * group; k < (g + 1) * group; k++) {
        const int8_t v = (int8_t)(xu[b * cp + k] ^ 0x80);
        xs[b * cp + k] = v;
        s += v;
      }
      xsum[b * groups + g] = s;
    }
  }
  ub_ctx c = {packed, meta, xs, xsum, sx, Y, rows, cp, group, groups, bits, B};
  parallel_rows(ub_rows, &c, rows, threads);
  free(xs);
  free(xsum);
  return 0;
}
