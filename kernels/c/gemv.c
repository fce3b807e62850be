/*
 * Low-bit GEMV / small GEMM kernels: Y[b, r] = Σ_k W[r, k]·X[b, k] for B ≤ 16
 * tokens, weights in one of several formats (prepared by lib/kernels/formats.ts,
 * whose TypeScript reference, tsGemv in lib/kernels/gemv.ts, these are tested against):
 *
 *   fp32      W f32 [rows × cols]
 *   int8      int8 codes and an f32 scale per 64 columns, in column panels of 4096 (I8_PANEL_GROUPS groups), each
 *             panel's rows superblocks of 16 groups (their 16 scales, then their 16 × 64 codes: i8_codes_off,
 *             i8_scale_off); f32 Σ_g s_g·128·Σq_g per row
 *   ternary2  2-bit codes (w+1) 4 per byte, 256-column blocks interleaved so a shift
 *             yields 64 consecutive weights, in column panels of 4096 (T2_PANEL_BLOCKS blocks); f32 scale and Σw
 *             per row
 *   base3     5 trits per byte in the table-decodable code of lib/kernels/base3_code.ts; f32 scale and Σw per row
 *             (gemv_base3.c)
 *   sparse    column indices of the +1 and −1 weights per row (CSR); f32 scale per row (gemv_sparse.c)
 *
 * Activations for the integer kernels are int8 per token (absmax/127 scale, as
 * BitNet does), stored biased as uint8 (x + 128) so that AVX-512 VNNI vpdpbusd
 * (u8 × s8 → s32) applies; the bias is removed with the precomputed Σw:
 *   Σ (x+128)·w = Σ x·w + 128·Σ w.
 * Paths: AVX-512 VNNI (base-3: with VBMI), AVX2 (vpmaddubsw + vpmaddwd), scalar; chosen at run time.
 * Threads split the rows. This file also holds the CPU-path and tuning switches, and the activation quantizer;
 * bandwidth.c the read-bandwidth probe.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include "gemv_common.h"
#include "gemv_tuning.h"

int sb_cpu_level = -1;

/* The tuning in use: −1 by CPU vendor (the default), 0 the Zen 5 knobs, 1 the *_INTEL ones — set by sb_tuning so
   that tests take every kernel path on any CPU. */
static _Atomic int tuning_override = -1;

int sb_on_intel(void) {
  const int o = atomic_load_explicit(&tuning_override, memory_order_relaxed);
  if (o >= 0) return o;
  static int intel = -1;
  if (intel < 0) intel = __builtin_cpu_is("intel");
  return intel;
}

/* Force the tuning (0 Zen 5, 1 Intel; negative: by CPU again); returns the previous setting. */
int32_t sb_tuning(int32_t intel) { return atomic_exchange(&tuning_override, intel < 0 ? -1 : intel > 0); }

/* 0 scalar, 1 avx2, 2 avx512-vnni. A negative argument reports the level in use; otherwise the level
   becomes min(force, what the CPU supports) — a lower level can be forced and lifted again. */
int32_t sb_gemv_level(int32_t force) {
  static int detected = -1;
  if (detected < 0) {
    sb_cpu_level = -1;
    detected = level();
  }
  if (force >= 0) sb_cpu_level = force < detected ? force : detected;
  return level();
}

/* For B > 1 tokens: a copy of B rows of row_bytes each, rows row_bytes + 64 apart (64-byte aligned). Rows a
   multiple of 4 KiB apart put every token's bytes of one column block into the same L1 set (64 sets of 64 bytes
   here), and 8–16 tokens overflow its ways: batch 16 ran ~2× slower. NULL (B = 1, or no memory): use the rows
   as they are. */
static inline int64_t padded_stride(int64_t row_bytes) { return (row_bytes + 127) / 64 * 64; } /* ≥ +64, ×64 */

void *sb_padded_rows(const void *src, int B, int64_t row_bytes, int64_t *stride_bytes) {
  *stride_bytes = row_bytes;
  if (B <= 1) return NULL;
  const int64_t stride = padded_stride(row_bytes);
  uint8_t *dst = aligned_alloc(64, (size_t)(B * stride));
  if (!dst) return NULL;
  for (int b = 0; b < B; b++) memcpy(dst + b * stride, (const uint8_t *)src + b * row_bytes, (size_t)row_bytes);
  *stride_bytes = stride;
  return dst;
}

/* One token's activations as signed int8 (xu ^ 0x80), for a kernel whose vpdpbusd takes the weights as the unsigned
   operand (ternary2, batch 1), and their sum in *sum. NULL when out of memory. */
static int8_t *signed_acts(const uint8_t *xu, int64_t cp, int32_t *sum) {
  int8_t *xs = aligned_alloc(64, (size_t)cp);
  if (!xs) return NULL;
  int32_t s = 0;
  for (int64_t k = 0; k < cp; k++) xs[k] = (int8_t)(xu[k] ^ 0x80), s += xs[k];
  *sum = s;
  return xs;
}

/* ---- fp32 ---------------------------------------------------------------------------- */

typedef struct {
  const float *W, *X;
  float *Y;
  int64_t rows, cols;
  int B;
  int64_t xstride; /* floats from one token's activations to the next */
} f32_ctx;

/* Rows r, r + stride, … (n ≤ R of them; missing ones re-read row r and are not written) for B tokens, R and B
   compile-time constants: R·B accumulators in registers, each row's weights loaded once for every token and each
   token's activations once for every row (one row at a time loaded every activation once per row: twice the
   time at 8 tokens). */
__attribute__((always_inline)) static inline void f32_rows_tokens(const f32_ctx *c, int64_t r, int64_t stride, int n,
                                                                  const int R, const int b0, const int B) {
  enum { MAXR = 4 };
  const int64_t K = c->cols, K16 = K & ~(int64_t)15;
  const float *w[MAXR];
  v16 acc[MAXR][MAXB];
#pragma GCC unroll 4
  for (int i = 0; i < R; i++) {
    w[i] = c->W + (r + (i < n ? i : 0) * stride) * K;
#pragma GCC unroll 16
    for (int b = 0; b < B; b++) acc[i][b] = (v16){0};
  }
  for (int64_t k = 0; k < K16; k += 16) {
    v16 wv[MAXR];
#pragma GCC unroll 4
    for (int i = 0; i < R; i++) {
      SB_PREFETCH(w[i] + k, SB_PF_F32_BATCH);
      memcpy(&wv[i], w[i] + k, sizeof wv[i]);
    }
#pragma GCC unroll 16
    for (int b = 0; b < B; b++) {
      v16 xv;
      memcpy(&xv, c->X + (b0 + b) * c->xstride + k, sizeof xv);
#pragma GCC unroll 4
      for (int i = 0; i < R; i++) acc[i][b] += wv[i] * xv;
    }
  }
  for (int i = 0; i < n; i++) {
#pragma GCC unroll 16
    for (int b = 0; b < B; b++) {
      float s = 0;
      for (int j = 0; j < 16; j++) s += acc[i][b][j];
      for (int64_t k = K16; k < K; k++) s += w[i][k] * c->X[(b0 + b) * c->xstride + k];
      c->Y[(b0 + b) * c->rows + r + i * stride] = s;
    }
  }
}

/* Batch B (a compile-time constant at each call site): four rows at once up to four tokens, three beyond (R·B ≤ 24
   accumulators; three rows measured 9–12 % faster than two at 6–8 tokens; one row with 16 tokens read all the
   activations from L2 for every row, 1.6× slower). */
__attribute__((always_inline)) static inline void f32_batch(const f32_ctx *c, int64_t r0, int64_t r1, const int B) {
  BY_ROWS_AND_TOKENS(f32_rows_tokens, c, r0, r1, B, 4, 3);
}

/* Batch 1: SB_F32_ROWS rows a 1/SB_F32_ROWS of the range apart (separate DRAM streams sharing each activation
   load, as the integer kernels do — the baseline gets the same memory-level parallelism they have). Rows
   r, r + stride, … (n of them; missing ones re-read row r and are not written). */
static void f32_rows_b1(const f32_ctx *c, int64_t r, int64_t stride, int n) {
  enum { R = SB_F32_ROWS };
  const int64_t K = c->cols, K16 = K & ~(int64_t)15;
  const int pf = sb_on_intel() ? SB_PF_F32_INTEL : SB_PF_F32;
  const float *w[R];
  v16 acc[R];
#pragma GCC unroll 8
  for (int i = 0; i < R; i++) w[i] = c->W + (r + (i < n ? i : 0) * stride) * K, acc[i] = (v16){0};
  for (int64_t k = 0; k < K16; k += 16) {
    v16 xv;
    memcpy(&xv, c->X + k, sizeof xv);
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
      SB_PREFETCH(w[i] + k, pf);
      v16 wv;
      memcpy(&wv, w[i] + k, sizeof wv);
      acc[i] += wv * xv;
    }
  }
  for (int i = 0; i < n; i++) {
    float s = 0;
    for (int j = 0; j < 16; j++) s += acc[i][j];
    for (int64_t k = K16; k < K; k++) s += w[i][k] * c->X[k];
    c->Y[r + i * stride] = s;
  }
}

static void f32_rows(const void *p, int64_t r0, int64_t r1) {
  const f32_ctx *c = p;
  if (c->B == 1 && SB_F32_ROWS > 1) {
    FOR_ROW_GROUPS(SB_F32_ROWS, r0, r1, f32_rows_b1(c, r, q, n));
    return;
  }
  BY_BATCH(f32_batch, c, r0, r1)
}

void sb_gemv_f32(const float *W, const float *X, float *Y, int64_t rows, int64_t cols, int32_t B, int32_t threads) {
  int64_t stride;
  float *xp = sb_padded_rows(X, B, cols * (int64_t)sizeof(float), &stride);
  f32_ctx c = {W, xp ? xp : X, Y, rows, cols, B, stride / (int64_t)sizeof(float)};
  parallel_rows(f32_rows, &c, rows, threads);
  free(xp);
}

/* ---- int8 × int8, per-64 scales ------------------------------------------------------ */

/* Shared by the int8 and ternary-2-bit kernels: weights `w` (int8 codes or packed 2-bit codes),
   per-group or per-row scales and weight sums, biased uint8 activations and their scales. */
typedef struct {
  const void *w;
  const float *scale;
  const int32_t *wsum;
  const uint8_t *xu;
  const float *sx;
  float *Y;
  int64_t rows, cp;
  int B;
  const float *row_bias; /* int8: Σ_g s_g·128·Σq_g per row (the +128 activation bias, removed at the end) */
  const uint8_t *xp;     /* VNNI batched paths: xu with rows xstride bytes apart (see sb_padded_rows) */
  int64_t xstride;
  const int8_t *xs;      /* ternary2, batch 1: the activations as signed int8 (xu ^ 0x80) */
  int32_t xs_sum;   /* and their sum */
  int32_t xu_sum[MAXB]; /* ternary2, batches: Σ of each token's xu over all cp columns */
  /* int8 and ternary2 are stored in column panels (below), visited in turn, each with a copy of this context: */
  int64_t row_stride;     /* bytes a row of the panel in `w` */
  int64_t panel_units;    /* its groups of 64 columns (int8) or blocks of 256 (ternary2) */
  int first_panel, last_panel; /* the row's first panel (Y starts from zero), its last (Y is finished) */
} int_ctx;

typedef void (*panel_rows_fn)(const int_ctx *c, int64_t r0, int64_t r1);

/* Rows [r0, r1) of weights in column panels of `per_panel` units of `unit_cols` columns (the last panel may be
   narrower), a panel all rows × row_bytes(its units) bytes: fn on each panel in turn, given a copy of the context with
   that panel's weights, row stride, units and activations (xu, xp, xs from the panel's first column on). */
static void by_panels(const int_ctx *c, int64_t r0, int64_t r1, int64_t unit_cols, int64_t per_panel,
                      int64_t (*row_bytes)(int64_t units), panel_rows_fn fn) {
  const int64_t units = c->cp / unit_cols;
  for (int64_t u0 = 0; u0 < units; u0 += per_panel) {
    int_ctx pc = *c;
    pc.panel_units = units - u0 < per_panel ? units - u0 : per_panel;
    pc.w = (const uint8_t *)c->w + c->rows * row_bytes(u0); /* the panels before: all full */
    pc.row_stride = row_bytes(pc.panel_units);
    pc.xu = c->xu + u0 * unit_cols, pc.xp = c->xp + u0 * unit_cols, pc.xs = c->xs ? c->xs + u0 * unit_cols : NULL;
    pc.first_panel = u0 == 0, pc.last_panel = u0 + pc.panel_units == units;
    fn(&pc, r0, r1);
  }
}

/* int8 rows are runs of superblocks of 16 groups of 64 columns: the groups' 16 f32 scales (one cache line), then
   their codes, so each row is one memory stream, as uint_b's (gemv_uintb.c, where the same change gained 7–15 %).
   Here the gain is small: against the scales in an array of their own, interleaved A/B on Zen 5, one thread, batch
   1 (2026-12-07): 4096×11008 1.54–1.56 → 1.51–1.52 ms, 11008×4096 1.62–1.64 → 1.56–1.58 ms, 4096² unchanged
   (0.50–0.53 ms). Byte offsets in a panel's row of its group g's 64 codes and of its scale, and a row's bytes in a
   panel of `groups` groups: */
static inline int64_t i8_codes_off(int64_t g) { return 64 * (g + g / 16 + 1); }
static inline int64_t i8_scale_off(int64_t g) { return 64 * 17 * (g / 16) + 4 * (g % 16); }
static inline int64_t i8_bytes(int64_t groups) { return 64 * (groups + (groups + 15) / 16); }

/* Rows longer than 4096 columns are stored in column panels of I8_PANEL_GROUPS groups (the last may be narrower), a
   panel all rows × its superblocks (lib/kernels/formats.ts int8Offsets): a GEMV then visits the panels in turn,
   re-reading 4 KB of activations per row group instead of the whole row's, which the weights streaming through L1
   had evicted (rows reading the same 4 KB of activations over and over — wrong results, same weights — read 0.94 of
   the bandwidth at 4096 × 11008 against 0.88). Interleaved A/B, Zen 5, one thread, batch 1 (2026-12-07), both with
   the prefetch distance fixed at compile time (i8_rows_vnni): 4096 × 11008 1.254–1.256 → 1.225–1.230 ms (0.88–0.89
   → 0.90–0.91 of the bandwidth), 4096 × 16384 2.33 → 2.28 ms, 4096² unchanged (one panel: the layout as before).
   Each panel adds its part to Y; the last subtracts row_bias and scales. */
#define I8_PANEL_GROUPS 64

/* Y[i] (row rr, token b) after adding a panel's part of the dot product. */
static inline float i8_finish(const int_ctx *c, int64_t i, int64_t rr, int b, float part) {
  const float t = c->first_panel ? part : c->Y[i] + part;
  return c->last_panel ? (t - c->row_bias[rr]) * c->sx[b] : t;
}

/* Batch 1: rows r, r + stride, … (n ≤ R of them, R a compile-time constant ≤ 8; missing ones re-read row r and
   are not written) — separate DRAM streams that share each activation load. */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline void i8_rows_b1_vnni(
    const int_ctx *c, int64_t r, int64_t stride, int n, const int R, const int64_t pf) {
  const int64_t groups = c->panel_units;
  SB_PREFETCH_ROW_VALUES(c->row_bias, r, stride, n);
  const uint8_t *w[8];
  __m512 f[8];
#pragma GCC unroll 8
  for (int i = 0; i < R; i++) {
    w[i] = (const uint8_t *)c->w + (r + (i < n ? i : 0) * stride) * c->row_stride, f[i] = _mm512_setzero_ps();
  }
  for (int64_t g = 0, off = 0, moff = 0; g < groups; g++, off += 64) {
    if ((g & 15) == 0) { /* a superblock: its scales' line, which the codes' prefetches never land on */
      moff = off, off += 64;
#pragma GCC unroll 8
      for (int i = 0; i < R; i++) SB_PREFETCH(w[i] + moff, pf);
    }
    __m512i x = _mm512_loadu_si512((const void *)(c->xu + g * 64));
    __asm__("" : "+v"(x)); /* one load for every row, not folded into each vpdpbusd */
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
      SB_PREFETCH(w[i] + off, pf);
      const __m512i d = _mm512_dpbusd_epi32(_mm512_setzero_si512(), x, _mm512_loadu_si512((const void *)(w[i] + off)));
      f[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_set1_ps(((const float *)(w[i] + moff))[g & 15]), f[i]);
    }
  }
  for (int i = 0; i < n; i++) {
    const int64_t rr = r + i * stride;
    c->Y[rr] = i8_finish(c, rr, rr, 0, _mm512_reduce_add_ps(f[i]));
  }
}

/* Rows r, r + stride, … (n ≤ R of them; missing ones re-read row r and are not written) for B tokens, R and B
   compile-time constants: the R·B float accumulators stay in registers, each row's 64 weights are loaded once for
   every token and each token's activations once for every row (one row with a run-time token count kept its
   accumulators on the stack and reloaded the weights' scale per token: 2.5× slower at 8 tokens). Per 64 columns
   and token one vpdpbusd from zero, converted to float and scaled into the accumulator, as at batch 1. */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline void i8_rows_tokens(
    const int_ctx *c, int64_t r, int64_t stride, int n, const int R, const int b0, const int B) {
  enum { MAXR = 4 };
  const int64_t groups = c->panel_units;
  const uint8_t *rw[MAXR];
  __m512 acc[MAXR][MAXB];
#pragma GCC unroll 4
  for (int k = 0; k < R; k++) {
    rw[k] = (const uint8_t *)c->w + (r + (k < n ? k : 0) * stride) * c->row_stride;
#pragma GCC unroll 16
    for (int b = 0; b < B; b++) acc[k][b] = _mm512_setzero_ps();
  }
  for (int64_t g = 0, off = 0, moff = 0; g < groups; g++, off += 64) {
    if ((g & 15) == 0) {
      moff = off, off += 64;
#pragma GCC unroll 4
      for (int k = 0; k < R; k++) SB_PREFETCH(rw[k] + moff, SB_PF_I8_LONG);
    }
    __m512i w[MAXR];
    __m512 sv[MAXR];
#pragma GCC unroll 4
    for (int k = 0; k < R; k++) {
      SB_PREFETCH(rw[k] + off, SB_PF_I8_LONG);
      w[k] = _mm512_loadu_si512((const void *)(rw[k] + off));
      sv[k] = _mm512_set1_ps(((const float *)(rw[k] + moff))[g & 15]);
    }
#pragma GCC unroll 16
    for (int b = 0; b < B; b++) {
      __m512i x = _mm512_loadu_si512((const void *)(c->xp + (b0 + b) * c->xstride + g * 64));
      __asm__("" : "+v"(x)); /* one load for every row */
#pragma GCC unroll 4
      for (int k = 0; k < R; k++) {
        const __m512i d = _mm512_dpbusd_epi32(_mm512_setzero_si512(), x, w[k]);
        acc[k][b] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), sv[k], acc[k][b]);
      }
    }
  }
  for (int k = 0; k < n; k++) {
    const int64_t rr = r + k * stride;
#pragma GCC unroll 16
    for (int b = 0; b < B; b++) {
      const int64_t i = (b0 + b) * c->rows + rr;
      c->Y[i] = i8_finish(c, i, rr, b0 + b, _mm512_reduce_add_ps(acc[k][b]));
    }
  }
}

/* Batch B (a compile-time constant at each call site): four rows up to four tokens, two beyond (R·B ≤ 16
   accumulators in registers). */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline void i8_batch_vnni(
    const int_ctx *c, int64_t r0, int64_t r1, const int B) {
  BY_ROWS_AND_TOKENS(i8_rows_tokens, c, r0, r1, B, 4, 2);
}

/* VNNI: per 64 columns one vpdpbusd from zero, converted to float and scaled into a float
   accumulator, so the horizontal sum happens once per row; the +128 bias is removed at the end
   as row_bias = Σ_g s_g·128·Σq_g, precomputed with the weights (4 bytes a row, not 4 a group). */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void i8_rows_vnni(const int_ctx *c, int64_t r0, int64_t r1) {
  if (c->B == 1) { /* the decode case */
    /* Intel, rows over 4096 columns: software prefetch 2 KB ahead (measured +12–20 % at 11008 columns, before the
       panels), shorter ones 1 KB; Zen 5: the hardware prefetcher alone at every width since the panels (gemv_tuning.h
       SB_I8_ROWS). Each distance a compile-time constant in its copy: computed in the kernel, gcc kept a run-time
       test around every prefetch of the loop (3 % at 4096 × 11008: 1.296–1.299 → 1.254–1.256 ms, Zen 5). */
    if (sb_on_intel() && c->cp > 4096)
      FOR_ROW_GROUPS(SB_I8_ROWS_INTEL, r0, r1, i8_rows_b1_vnni(c, r, q, n, SB_I8_ROWS_INTEL, SB_PF_I8_LONG));
    else if (sb_on_intel())
      FOR_ROW_GROUPS(SB_I8_ROWS_INTEL, r0, r1, i8_rows_b1_vnni(c, r, q, n, SB_I8_ROWS_INTEL, SB_PF_I8_INTEL));
    else FOR_ROW_GROUPS(SB_I8_ROWS, r0, r1, i8_rows_b1_vnni(c, r, q, n, SB_I8_ROWS, SB_PF_I8));
    return;
  }
  BY_BATCH(i8_batch_vnni, c, r0, r1)
}

static void i8_rows_portable(const int_ctx *c, int64_t r0, int64_t r1) {
  const int64_t groups = c->panel_units;
  int32_t d[MAXB];
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *row = (const uint8_t *)c->w + r * c->row_stride;
    float acc[MAXB] = {0};
    for (int64_t g = 0; g < groups; g++) {
      dots(c->xu, c->cp, c->B, (const int8_t *)(row + i8_codes_off(g)), g * 64, 1, d);
      float s;
      memcpy(&s, row + i8_scale_off(g), sizeof s);
      for (int b = 0; b < c->B; b++) acc[b] += s * (float)d[b];
    }
    for (int b = 0; b < c->B; b++) c->Y[b * c->rows + r] = i8_finish(c, b * c->rows + r, r, b, acc[b]);
  }
}

static void i8_rows(const void *p, int64_t r0, int64_t r1) {
  by_panels(p, r0, r1, 64, I8_PANEL_GROUPS, i8_bytes, level() == 2 ? i8_rows_vnni : i8_rows_portable);
}

/* w: rows × 64·(cp/64 + ⌈cp/1024⌉) bytes, the panels of superblocks above (lib/kernels/formats.ts writes them). */
void sb_gemv_int8(const uint8_t *w, const float *row_bias, const uint8_t *xu, const float *sx, float *Y, int64_t rows,
                  int64_t cp, int32_t B, int32_t threads) {
  int64_t stride;
  uint8_t *xp = level() == 2 ? sb_padded_rows(xu, B, cp, &stride) : NULL;
  int_ctx c = {w, NULL, NULL, xu, sx, Y, rows, cp, B, row_bias, xp ? xp : xu, xp ? stride : cp, NULL, 0, {0}, 0, 0,
               0, 0}; /* the panel fields: set per panel by by_panels */
  parallel_rows(i8_rows, &c, rows, threads);
  free(xp);
}

/* ---- ternary, 2-bit packed ------------------------------------------------------------ */

/* Column panels of T2_PANEL_BLOCKS 256-column blocks (4096 columns; the last may be narrower), a panel all rows × its
   blocks (lib/kernels/formats.ts ternary2Offset), for the reason int8 has them: the activations a row group re-reads
   (a byte a column, four times a row's bytes) stay 4 KB a token. Interleaved A/B against the row-major layout, Zen 5
   (2026-12-07), one thread: 4096 × 11008 at 1, 2 and 8 tokens 0.290 → 0.288, 0.514 → 0.485, 1.45 → 1.00 ms;
   4096 × 16384 batch 1 0.87 → 0.91 of the bandwidth; 4096² and 11008 × 4096 unchanged (one panel); two threads,
   4096 × 11008, 8 tokens 0.76 → 0.57 ms. (Rows re-reading the first 4 KB of activations — wrong results, same
   weights — bound what panels can gain at batch 1: 0.94 against 0.91 at 4096 × 11008.) A panel's integer dot
   products are carried to the next in Y's storage (an int32 per output). */
#define T2_PANEL_BLOCKS 16

/* Y[i] after adding a panel's part d of the integer dot product: the last panel scales (Σ − correction). */
static inline void t2_finish(const int_ctx *c, int64_t i, int32_t d, int32_t correction, float scale) {
  int32_t t = d;
  if (!c->first_panel) {
    int32_t before;
    memcpy(&before, &c->Y[i], sizeof before);
    t += before;
  }
  if (c->last_panel) c->Y[i] = scale * (float)(t - correction);
  else memcpy(&c->Y[i], &t, sizeof t);
}

/* Batch 1, four rows at once. Shift-free unpacking: the code of columns s·64…s·64+63 of a block sits
   in bits 2s…2s+1 of each byte, so (v & (3 << 2s)) is 4^s·code as an unsigned byte (≤ 128), and
   vpdpbusd(unsigned = masked weights, signed = int8 activations) accumulates 4^s·Σ code·x exactly;
   each accumulator is divided by 4^s at the end. Four rows share each activation load (loads, not
   arithmetic, bounded the one-row loop). Σ w·x = Σ code·x − Σ x. Rows r, r+stride, … (n ≤ 4 of them;
   missing ones re-read row r and are not written). Rows a quarter of the range apart make four
   separate memory streams, which draw more DRAM bandwidth from one core than one stream does. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void t2_four_rows_vnni(const int_ctx *c, int64_t r, int64_t stride, int n) {
  const int64_t bytes = c->row_stride;
  const __m512i m0 = _mm512_set1_epi8(0x03), m1 = _mm512_set1_epi8(0x0c), m2 = _mm512_set1_epi8(0x30),
                m3 = _mm512_set1_epi8((char)0xc0);
  const uint8_t *p0 = (const uint8_t *)c->w + r * bytes;
  const uint8_t *p1 = p0 + (n > 1 ? 1 : 0) * stride * bytes, *p2 = p0 + (n > 2 ? 2 : 0) * stride * bytes,
                *p3 = p0 + (n > 3 ? 3 : 0) * stride * bytes;
  /* sixteen named accumulators (row i, shift s): arrays made gcc keep them on the stack */
  __m512i a00 = _mm512_setzero_si512(), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00,
          a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
  for (int64_t blk = 0; blk < c->panel_units; blk++) {
    const int8_t *x = c->xs + blk * 256;
    __m512i x0 = _mm512_loadu_si512((const void *)x), x1 = _mm512_loadu_si512((const void *)(x + 64)),
            x2 = _mm512_loadu_si512((const void *)(x + 128)), x3 = _mm512_loadu_si512((const void *)(x + 192));
    __asm__("" : "+v"(x0), "+v"(x1), "+v"(x2), "+v"(x3)); /* loaded once for the four rows */
#define T2_ROW(P, A0, A1, A2, A3)                                                                \
  {                                                                                              \
    SB_PREFETCH(P + blk * 64, SB_PF_T2);                                                 \
    __m512i v = _mm512_loadu_si512((const void *)(P + blk * 64));                                \
    __asm__("" : "+v"(v)); /* one load, kept in a register (not folded into each vpandd) */      \
    A0 = _mm512_dpbusd_epi32(A0, _mm512_and_si512(v, m0), x0);                                   \
    A1 = _mm512_dpbusd_epi32(A1, _mm512_and_si512(v, m1), x1);                                   \
    A2 = _mm512_dpbusd_epi32(A2, _mm512_and_si512(v, m2), x2);                                   \
    A3 = _mm512_dpbusd_epi32(A3, _mm512_and_si512(v, m3), x3);                                   \
  }
    T2_ROW(p0, a00, a01, a02, a03)
    T2_ROW(p1, a10, a11, a12, a13)
    T2_ROW(p2, a20, a21, a22, a23)
    T2_ROW(p3, a30, a31, a32, a33)
#undef T2_ROW
  }
  const __m512i acc[4][4] = {{a00, a01, a02, a03}, {a10, a11, a12, a13}, {a20, a21, a22, a23}, {a30, a31, a32, a33}};
  for (int i = 0; i < n; i++) {
    const int32_t d = _mm512_reduce_add_epi32(acc[i][0]) + (_mm512_reduce_add_epi32(acc[i][1]) >> 2) +
                      (_mm512_reduce_add_epi32(acc[i][2]) >> 4) + (_mm512_reduce_add_epi32(acc[i][3]) >> 6);
    t2_finish(c, r + i * stride, d, c->xs_sum, c->scale[r + i * stride] * c->sx[0]);
  }
}

/* Batch 1 on Zen 5, four rows at once with one accumulator each: codes unpacked to w + 1 ∈ {0, 1, 2} by a shift and
   a mask, so each row's four dpbusd per block form one dependent chain. Slower than t2_four_rows_vnni from the cache
   (66 against 94–98 GB/s at 256 × 4096) yet faster from DRAM: interleaved A/B, one thread, three rounds of 40 passes
   (2026-12-07) 0.86 → 0.90–0.91 of the bandwidth at 4096 × 11008, 0.89–0.90 → 0.92–0.93 at 4096², 0.90–0.91 →
   0.93–0.94 at 11008 × 4096 (the same with GFNI's one-instruction unpacking, and with two accumulators per row between
   the two). Intel keeps t2_four_rows_vnni, measured 0.99–1.04 there. Σ w·x = Σ (w + 1)·x − Σ x, as above. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void t2_four_chains_vnni(const int_ctx *c, int64_t r, int64_t stride, int n) {
  const int64_t bytes = c->row_stride;
  const __m512i three = _mm512_set1_epi8(3);
  const uint8_t *pk[4];
  __m512i acc[4];
#pragma GCC unroll 4
  for (int k = 0; k < 4; k++) {
    pk[k] = (const uint8_t *)c->w + (r + (k < n ? k : 0) * stride) * bytes;
    acc[k] = _mm512_setzero_si512();
  }
  for (int64_t blk = 0; blk < c->panel_units; blk++) {
    const int8_t *x = c->xs + blk * 256;
    __m512i xv[4];
#pragma GCC unroll 4
    for (int s = 0; s < 4; s++) xv[s] = _mm512_loadu_si512((const void *)(x + 64 * s));
    __asm__("" : "+v"(xv[0]), "+v"(xv[1]), "+v"(xv[2]), "+v"(xv[3])); /* loaded once for the four rows */
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
      SB_PREFETCH_AS(pk[k] + blk * 64, SB_PF_T2_CHAINS, SB_PF_T2_CHAINS_HINT);
      __m512i v = _mm512_loadu_si512((const void *)(pk[k] + blk * 64));
      __asm__("" : "+v"(v)); /* one load, kept in a register */
#pragma GCC unroll 4
      for (int s = 0; s < 4; s++)
        acc[k] = _mm512_dpbusd_epi32(acc[k], _mm512_and_si512(s ? _mm512_srli_epi16(v, 2 * s) : v, three), xv[s]);
    }
  }
  for (int k = 0; k < n; k++) {
    const int64_t rr = r + k * stride;
    t2_finish(c, rr, _mm512_reduce_add_epi32(acc[k]), c->xs_sum, c->scale[rr] * c->sx[0]);
  }
}

/* Rows r, r + stride, … (n ≤ R of them; missing ones re-read row r and are not written) for tokens b0 … b0 + B − 1,
   R and B compile-time constants: R·B accumulators in registers; per 256-column block each row's four codes
   (v >> 2s) & 3 = w + 1 ∈ {0, 1, 2} are unpacked once and used by every token, each token's activation load by
   every row. Σ w·x = Σ (w + 1)·(x + 128) − Σ (x + 128) − 128·Σw, the middle sum per token (xu_sum). */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline void t2_rows_tokens(
    const int_ctx *c, int64_t r, int64_t stride, int n, const int R, const int b0, const int B) {
  enum { MAXR = 4 };
  const int64_t bytes = c->row_stride;
  const __m512i three = _mm512_set1_epi8(3);
  const uint8_t *pk[MAXR];
  __m512i acc[MAXR][MAXB];
#pragma GCC unroll 4
  for (int k = 0; k < R; k++) {
    pk[k] = (const uint8_t *)c->w + (r + (k < n ? k : 0) * stride) * bytes;
#pragma GCC unroll 16
    for (int b = 0; b < B; b++) acc[k][b] = _mm512_setzero_si512();
  }
  for (int64_t blk = 0; blk < c->panel_units; blk++) {
    __m512i v[MAXR];
#pragma GCC unroll 4
    for (int k = 0; k < R; k++) {
      SB_PREFETCH(pk[k] + blk * 64, SB_PF_T2);
      v[k] = _mm512_loadu_si512((const void *)(pk[k] + blk * 64));
    }
    const uint8_t *x = c->xp + blk * 256;
#pragma GCC unroll 4
    for (int s = 0; s < 4; s++) {
      __m512i w[MAXR];
#pragma GCC unroll 4
      for (int k = 0; k < R; k++) w[k] = _mm512_and_si512(s ? _mm512_srli_epi16(v[k], 2 * s) : v[k], three);
#pragma GCC unroll 16
      for (int b = 0; b < B; b++) {
        __m512i xb = _mm512_loadu_si512((const void *)(x + (b0 + b) * c->xstride + s * 64));
        __asm__("" : "+v"(xb)); /* one load for every row */
#pragma GCC unroll 4
        for (int k = 0; k < R; k++) acc[k][b] = _mm512_dpbusd_epi32(acc[k][b], xb, w[k]);
      }
    }
  }
  for (int k = 0; k < n; k++) {
    const int64_t rr = r + k * stride;
#pragma GCC unroll 16
    for (int b = 0; b < B; b++)
      t2_finish(c, (b0 + b) * c->rows + rr, _mm512_reduce_add_epi32(acc[k][b]), c->xu_sum[b0 + b] + 128 * c->wsum[rr],
                c->scale[rr] * c->sx[b0 + b]);
  }
}

/* Batch B (a compile-time constant at each call site): four rows a quarter of the range apart up to four tokens,
   two beyond (R·B ≤ 16 accumulators in registers; four rows at 7–8 tokens spilled them, three measured slower). */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline void t2_batch_vnni(
    const int_ctx *c, int64_t r0, int64_t r1, const int B) {
  BY_ROWS_AND_TOKENS(t2_rows_tokens, c, r0, r1, B, 4, 2);
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void t2_rows_vnni(const int_ctx *c, int64_t r0, int64_t r1) {
  if (c->B == 1 && c->xs) { /* the decode case */
    if (sb_on_intel()) FOR_ROW_GROUPS(4, r0, r1, t2_four_rows_vnni(c, r, q, n));
    else FOR_ROW_GROUPS(4, r0, r1, t2_four_chains_vnni(c, r, q, n));
    return;
  }
  BY_BATCH(t2_batch_vnni, c, r0, r1)
}

static void t2_rows_portable(const int_ctx *c, int64_t r0, int64_t r1) {
  int8_t w[256];
  int32_t d[MAXB];
  for (int64_t r = r0; r < r1; r++) {
    int32_t tot[MAXB] = {0};
    for (int64_t blk = 0; blk < c->panel_units; blk++) {
      const uint8_t *pk = (const uint8_t *)c->w + r * c->row_stride + blk * 64;
      for (int s = 0; s < 4; s++)
        for (int j = 0; j < 64; j++) w[s * 64 + j] = (int8_t)(((pk[j] >> (2 * s)) & 3) - 1);
      dots(c->xu, c->cp, c->B, w, blk * 256, 4, d);
      for (int b = 0; b < c->B; b++) tot[b] += d[b];
    }
    for (int b = 0; b < c->B; b++) t2_finish(c, b * c->rows + r, tot[b], 128 * c->wsum[r], c->scale[r] * c->sx[b]);
  }
}

static int64_t t2_bytes(int64_t blocks) { return 64 * blocks; }

static void t2_rows(const void *p, int64_t r0, int64_t r1) {
  by_panels(p, r0, r1, 256, T2_PANEL_BLOCKS, t2_bytes, level() == 2 ? t2_rows_vnni : t2_rows_portable);
}

void sb_gemv_ternary2(const uint8_t *packed, const float *scale, const int32_t *wsum, const uint8_t *xu, const float *sx,
                      float *Y, int64_t rows, int64_t cp, int32_t B, int32_t threads) {
  /* activations as they are (not sb_padded_rows: measured slower here for every batch size) */
  int_ctx c = {packed, scale, wsum, xu, sx, Y, rows, cp, B, NULL, xu, cp, NULL, 0, {0}, 0, 0, 0, 0}; /* panels: by_panels */
  /* the batch-1 VNNI path; no memory: xs stays NULL and the batched path still works */
  int8_t *xs = B == 1 && level() == 2 ? signed_acts(xu, cp, &c.xs_sum) : NULL;
  c.xs = xs;
  if (!xs) {
    for (int b = 0; b < B && b < MAXB; b++) { /* the batched VNNI path's per-token sums; B ≤ MAXB (the caller's check) */
      int32_t s = 0;
      for (int64_t k = 0; k < cp; k++) s += xu[b * cp + k];
      c.xu_sum[b] = s;
    }
  }
  parallel_rows(t2_rows, &c, rows, threads);
  free(xs);
}

/* Per-token absmax int8 activations, biased to uint8: sx[b] = max|x|/127,
   xu[b, k] = round(x/sx) + 128 for k < cols, 128 (zero) for the padding up to cp.
   Bit-identical to quantizeActivations in lib/kernels/formats.ts (f32 division, round half away from
   zero). The AVX-512 path rounds as t = trunc(q); t += sign(q) where |q − t| ≥ 0.5 — exact, since
   q − t is exact for |q| ≤ 127 (adding 0.5 first is not: 0.49999997 + 0.5 rounds up to 1 in f32). */
__attribute__((target("avx512f,avx512bw"))) static float quantize_row_avx512(const float *r, int64_t cols, uint8_t *o) {
  __m512 amax = _mm512_setzero_ps();
  for (int64_t k = 0; k < cols; k += 16) {
    const __mmask16 m = cols - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (cols - k)) - 1);
    amax = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(m, r + k)), amax); /* NaN: keeps amax, as fmaxf */
  }
  const float s = _mm512_reduce_max_ps(amax) / 127.0f;
  if (!(s > 0)) {
    memset(o, 128, (size_t)cols);
    return s;
  }
  const __m512 sv = _mm512_set1_ps(s), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f),
               half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
  const __m512i bias = _mm512_set1_epi32(128);
  for (int64_t k = 0; k < cols; k += 16) {
    const __mmask16 m = cols - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (cols - k)) - 1);
    const __m512 q = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(_mm512_maskz_loadu_ps(m, r + k), sv), lo), hi);
    const __m512 t = _mm512_roundscale_ps(q, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(q, t)), half, _CMP_GE_OQ);
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(q), _mm512_set1_epi32((int)0x80000000u));
    const __m512 rq = _mm512_mask_add_ps(t, up, t, _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(one), sign)));
    _mm512_mask_cvtepi32_storeu_epi8(o + k, m, _mm512_add_epi32(_mm512_cvttps_epi32(rq), bias));
  }
  return s;
}

static float quantize_row_scalar(const float *r, int64_t cols, uint8_t *o) {
  float amax = 0;
  for (int64_t k = 0; k < cols; k++) amax = fmaxf(amax, fabsf(r[k]));
  const float s = amax / 127.0f;
  if (s > 0) {
    for (int64_t k = 0; k < cols; k++) {
      float q = r[k] / s;
      q = q < -127.0f ? -127.0f : q > 127.0f ? 127.0f : q;
      o[k] = (uint8_t)((int)lroundf(q) + 128);
    }
  } else {
    memset(o, 128, (size_t)cols);
  }
  return s;
}

void sb_quantize_acts(const float *x, int32_t B, int64_t cols, int64_t cp, uint8_t *xu, float *sx) {
  for (int b = 0; b < B; b++) {
    const float *r = x + b * cols;
    uint8_t *o = xu + b * cp;
    sx[b] = level() == 2 ? quantize_row_avx512(r, cols, o) : quantize_row_scalar(r, cols, o);
    memset(o + cols, 128, (size_t)(cp - cols));
  }
}
