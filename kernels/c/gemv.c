/*
 * Low-bit GEMV / small GEMM kernels: Y[b, r] = Σ_k W[r, k]·X[b, k] for B ≤ 16
 * tokens, weights in one of several formats (prepared by lib/kernels/formats.ts,
 * whose TypeScript reference, tsGemv in lib/kernels/gemv.ts, these are tested against):
 *
 *   fp32      W f32 [rows × cols]
 *   int8      q int8 [rows × cp], f32 scale per 64 columns, f32 Σ_g s_g·128·Σq_g per row
 *   ternary2  2-bit codes (w+1) 4 per byte, 256-column blocks interleaved so a shift
 *             yields 64 consecutive weights; f32 scale and Σw per row
 *   base3     5 trits per byte in the table-decodable code of lib/kernels/base3_code.ts; f32 scale and Σw per row
 *   sparse    column indices of the +1 and −1 weights per row (CSR); f32 scale per row
 *
 * Activations for the integer kernels are int8 per token (absmax/127 scale, as
 * BitNet does), stored biased as uint8 (x + 128) so that AVX-512 VNNI vpdpbusd
 * (u8 × s8 → s32) applies; the bias is removed with the precomputed Σw:
 *   Σ (x+128)·w = Σ x·w + 128·Σ w.
 * Paths: AVX-512 VNNI (base-3: with VBMI), AVX2 (vpmaddubsw + vpmaddwd), scalar; chosen at run time.
 * Threads split the rows.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include "gemv_common.h"

/* Tuning knobs, overridable at build time (-D) for interleaved A/B runs; the values are the best found
   on AMD EPYC (Zen 5) with weights 64-byte aligned and DRAM-resident, with *_INTEL variants where Intel Ice
   Lake-SP measured a different best (chosen at run time by CPU vendor, `on_intel()`):
   software prefetch distance in bytes ahead of each stream (0 = none: the hardware prefetcher alone;
   int8 was fastest so, ternary2 with 2 KB), and rows the int8 batch-1 kernel reads at once. */
#ifndef SB_PF_I8
#define SB_PF_I8 0
#endif
#ifndef SB_PF_I8_LONG /* int8 batch 1, rows over 4 KB */
#define SB_PF_I8_LONG 2048
#endif
#ifndef SB_I8_ROWS
#define SB_I8_ROWS 4
#endif
#ifndef SB_F32_ROWS /* fp32 batch 1: rows at once (1: one row at a time) */
#define SB_F32_ROWS 4
#endif
#ifndef SB_PF_F32
#define SB_PF_F32 2048
#endif
#ifndef SB_PF_T2
#define SB_PF_T2 2048
#endif
#ifndef SB_PF_T3
#define SB_PF_T3 10240
#endif
#ifndef SB_T3_TILE_BYTES /* base-3, 2–16 tokens: activation bytes per column tile */
#define SB_T3_TILE_BYTES 24576
#endif
#ifndef SB_T3_TILE_ABOVE
#define SB_T3_TILE_ABOVE 49152
#endif
#ifndef SB_T3_TILE_INTEL /* Ice Lake-SP: base-3's column tiles measured slower at every size (1 MB L2 holds the
                            activations): 8 × 11008 4.5 → 6.8 ms, 16 × 4096 3.1 → 3.7 ms. 0: no tiles there */
#define SB_T3_TILE_INTEL 0
#endif
#ifndef SB_PF_I8_INTEL /* Ice Lake-SP, rows up to 4 KB: 11.3 → 12.2 GB/s at 4096² */
#define SB_PF_I8_INTEL 1024
#endif
#ifndef SB_T3_PAIR_MAXB /* Intel, base-3 batches up to this many tokens: two rows, four tokens at a time */
#define SB_T3_PAIR_MAXB 16
#endif
#ifndef SB_PF_T3_INTEL /* Ice Lake-SP: 10.1 → 11.1 GB/s at 4096² (10240 ahead was best on Zen 5) */
#define SB_PF_T3_INTEL 3072
#endif
#define SB_PREFETCH(p, ahead) \
  do {                        \
    if (ahead) _mm_prefetch((const char *)(p) + (ahead), _MM_HINT_T0); \
  } while (0)

/* Start fetching the 4-byte per-row values (scale, Σw, bias) that a group of n rows, `stride` apart, uses only at
   its end: with rows a quarter of the range apart the hardware prefetcher does not follow these arrays, and a miss
   there stalled every 16th group (~7 % of a base-3 GEMV when each layer has its own arrays). */
#define SB_PREFETCH_ROW_VALUES(arr, r, stride, n)                                   \
  do {                                                                              \
    for (int k_ = 0; k_ < (n); k_++) _mm_prefetch((const char *)((arr) + (r) + k_ * (stride)), _MM_HINT_T0); \
  } while (0)

int sb_cpu_level = -1;

/* The tuning in use: −1 by CPU vendor (the default), 0 the Zen 5 knobs, 1 the *_INTEL ones — set by sb_tuning so
   that tests take every kernel path on any CPU. */
static _Atomic int tuning_override = -1;

/* Use the *_INTEL tuning knobs (the override, else whether the CPU is Intel's). */
static int on_intel(void) {
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

static void *padded_rows(const void *src, int B, int64_t row_bytes, int64_t *stride_bytes) {
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

typedef float v16 __attribute__((vector_size(64)));
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
      SB_PREFETCH(w[i] + k, SB_PF_F32);
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

/* Batch B (a compile-time constant at each call site): four rows at once up to four tokens, three up to eight
   (R·B ≤ 24 accumulators; three rows measured 9–12 % faster than two at 6–8 tokens); beyond, three rows for tokens
   0–7 and again for the rest (their weights then come from the cache: one row with 16 tokens read all the
   activations from L2 for every row, 1.6× slower). */
__attribute__((always_inline)) static inline void f32_batch(const f32_ctx *c, int64_t r0, int64_t r1, const int B) {
  if (B <= 4) FOR_ROW_GROUPS(4, r0, r1, f32_rows_tokens(c, r, q, n, 4, 0, B));
  else if (B <= 8) FOR_ROW_GROUPS(3, r0, r1, f32_rows_tokens(c, r, q, n, 3, 0, B));
  else FOR_ROW_GROUPS(3, r0, r1, (f32_rows_tokens(c, r, q, n, 3, 0, 8), f32_rows_tokens(c, r, q, n, 3, 8, B - 8)));
}

/* Batch 1: SB_F32_ROWS rows a 1/SB_F32_ROWS of the range apart (separate DRAM streams sharing each activation
   load, as the integer kernels do — the baseline gets the same memory-level parallelism they have). Rows
   r, r + stride, … (n of them; missing ones re-read row r and are not written). */
static void f32_rows_b1(const f32_ctx *c, int64_t r, int64_t stride, int n) {
  enum { R = SB_F32_ROWS };
  const int64_t K = c->cols, K16 = K & ~(int64_t)15;
  const float *w[R];
  v16 acc[R];
#pragma GCC unroll 8
  for (int i = 0; i < R; i++) w[i] = c->W + (r + (i < n ? i : 0) * stride) * K, acc[i] = (v16){0};
  for (int64_t k = 0; k < K16; k += 16) {
    v16 xv;
    memcpy(&xv, c->X + k, sizeof xv);
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
      SB_PREFETCH(w[i] + k, SB_PF_F32);
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
  float *xp = padded_rows(X, B, cols * (int64_t)sizeof(float), &stride);
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
  const uint8_t *xp;     /* VNNI batched paths: xu with rows xstride bytes apart (see padded_rows) */
  int64_t xstride;
  const int8_t *xs;      /* ternary2, batch 1: the activations as signed int8 (xu ^ 0x80) */
  int32_t xs_sum;   /* and their sum */
  int32_t xu_sum[MAXB]; /* ternary2, batches: Σ of each token's xu over all cp columns */
} int_ctx;

/* Batch 1: rows r, r + stride, … (n ≤ SB_I8_ROWS of them; missing ones re-read row r and are not
   written) — separate DRAM streams that share each activation load. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void i8_rows_b1_vnni(const int_ctx *c, int64_t r,
                                                                                  int64_t stride, int n) {
  const int64_t groups = c->cp / 64;
  /* rows longer than a 4 KB page: software prefetch 2 KB ahead (measured +12–20 % at 11008 columns); shorter rows:
     the hardware prefetcher alone (prefetching measured slower at 4096 columns) */
  const int64_t pf = c->cp > 4096 ? SB_PF_I8_LONG : on_intel() ? SB_PF_I8_INTEL : SB_PF_I8;
  SB_PREFETCH_ROW_VALUES(c->row_bias, r, stride, n);
  const int8_t *q[SB_I8_ROWS];
  const float *s[SB_I8_ROWS];
  __m512 f[SB_I8_ROWS];
#pragma GCC unroll 8
  for (int i = 0; i < SB_I8_ROWS; i++) {
    const int64_t rr = r + (i < n ? i : 0) * stride;
    q[i] = (const int8_t *)c->w + rr * c->cp, s[i] = c->scale + rr * groups, f[i] = _mm512_setzero_ps();
  }
  for (int64_t g = 0; g < groups; g++) {
    __m512i x = _mm512_loadu_si512((const void *)(c->xu + g * 64));
    __asm__("" : "+v"(x)); /* one load for every row, not folded into each vpdpbusd */
#pragma GCC unroll 8
    for (int i = 0; i < SB_I8_ROWS; i++) {
      SB_PREFETCH(q[i] + g * 64, pf);
      const __m512i d = _mm512_dpbusd_epi32(_mm512_setzero_si512(), x, _mm512_loadu_si512((const void *)(q[i] + g * 64)));
      f[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_set1_ps(s[i][g]), f[i]);
    }
  }
  for (int i = 0; i < n; i++) {
    const int64_t rr = r + i * stride;
    c->Y[rr] = (_mm512_reduce_add_ps(f[i]) - c->row_bias[rr]) * c->sx[0];
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
  const int64_t groups = c->cp / 64;
  const int8_t *q[MAXR];
  const float *s[MAXR];
  __m512 acc[MAXR][MAXB];
#pragma GCC unroll 4
  for (int k = 0; k < R; k++) {
    const int64_t rr = r + (k < n ? k : 0) * stride;
    q[k] = (const int8_t *)c->w + rr * c->cp, s[k] = c->scale + rr * groups;
#pragma GCC unroll 16
    for (int b = 0; b < B; b++) acc[k][b] = _mm512_setzero_ps();
  }
  for (int64_t g = 0; g < groups; g++) {
    __m512i w[MAXR];
    __m512 sv[MAXR];
#pragma GCC unroll 4
    for (int k = 0; k < R; k++) {
      SB_PREFETCH(q[k] + g * 64, SB_PF_I8_LONG);
      w[k] = _mm512_loadu_si512((const void *)(q[k] + g * 64)), sv[k] = _mm512_set1_ps(s[k][g]);
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
    for (int b = 0; b < B; b++)
      c->Y[(b0 + b) * c->rows + rr] = (_mm512_reduce_add_ps(acc[k][b]) - c->row_bias[rr]) * c->sx[b0 + b];
  }
}

/* Batch B (a compile-time constant at each call site): as many rows at once as keep R·B ≤ 16 accumulators in
   registers — four rows up to four tokens, two up to eight; beyond, two rows for tokens 0–7 and again for the
   rest (the second pass reads their weights from the cache). */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline void i8_batch_vnni(
    const int_ctx *c, int64_t r0, int64_t r1, const int B) {
  if (B <= 4) FOR_ROW_GROUPS(4, r0, r1, i8_rows_tokens(c, r, q, n, 4, 0, B));
  else if (B <= 8) FOR_ROW_GROUPS(2, r0, r1, i8_rows_tokens(c, r, q, n, 2, 0, B));
  else FOR_ROW_GROUPS(2, r0, r1, (i8_rows_tokens(c, r, q, n, 2, 0, 8), i8_rows_tokens(c, r, q, n, 2, 8, B - 8)));
}

/* VNNI: per 64 columns one vpdpbusd from zero, converted to float and scaled into a float
   accumulator, so the horizontal sum happens once per row; the +128 bias is removed at the end
   as row_bias = Σ_g s_g·128·Σq_g, precomputed with the weights (4 bytes a row, not 4 a group). */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void i8_rows_vnni(const int_ctx *c, int64_t r0, int64_t r1) {
  if (c->B == 1) { /* the decode case */
    FOR_ROW_GROUPS(SB_I8_ROWS, r0, r1, i8_rows_b1_vnni(c, r, q, n));
    return;
  }
  BY_BATCH(i8_batch_vnni, c, r0, r1)
}

static void i8_rows(const void *p, int64_t r0, int64_t r1) {
  const int_ctx *c = p;
  if (level() == 2) return i8_rows_vnni(c, r0, r1);
  const int64_t groups = c->cp / 64;
  int32_t d[MAXB];
  for (int64_t r = r0; r < r1; r++) {
    float acc[MAXB] = {0};
    for (int64_t g = 0; g < groups; g++) {
      dots(c->xu, c->cp, c->B, (const int8_t *)c->w + r * c->cp + g * 64, g * 64, 1, d);
      const float s = c->scale[r * groups + g];
      for (int b = 0; b < c->B; b++) acc[b] += s * (float)d[b];
    }
    for (int b = 0; b < c->B; b++) c->Y[b * c->rows + r] = (acc[b] - c->row_bias[r]) * c->sx[b];
  }
}

void sb_gemv_int8(const int8_t *q, const float *scale, const float *row_bias, const uint8_t *xu, const float *sx,
                  float *Y, int64_t rows, int64_t cp, int32_t B, int32_t threads) {
  int64_t stride;
  uint8_t *xp = level() == 2 ? padded_rows(xu, B, cp, &stride) : NULL;
  int_ctx c = {q, scale, NULL, xu, sx, Y, rows, cp, B, row_bias, xp ? xp : xu, xp ? stride : cp, NULL, 0, {0}};
  parallel_rows(i8_rows, &c, rows, threads);
  free(xp);
}

/* ---- ternary, 2-bit packed ------------------------------------------------------------ */

/* Batch 1, four rows at once. Shift-free unpacking: the code of columns s·64…s·64+63 of a block sits
   in bits 2s…2s+1 of each byte, so (v & (3 << 2s)) is 4^s·code as an unsigned byte (≤ 128), and
   vpdpbusd(unsigned = masked weights, signed = int8 activations) accumulates 4^s·Σ code·x exactly;
   each accumulator is divided by 4^s at the end. Four rows share each activation load (loads, not
   arithmetic, bounded the one-row loop). Σ w·x = Σ code·x − Σ x. Rows r, r+stride, … (n ≤ 4 of them;
   missing ones re-read row r and are not written). Rows a quarter of the range apart make four
   separate memory streams, which draw more DRAM bandwidth from one core than one stream does. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void t2_four_rows_vnni(const int_ctx *c, int64_t r, int64_t stride, int n) {
  const int64_t bytes = c->cp / 4;
  const __m512i m0 = _mm512_set1_epi8(0x03), m1 = _mm512_set1_epi8(0x0c), m2 = _mm512_set1_epi8(0x30),
                m3 = _mm512_set1_epi8((char)0xc0);
  const uint8_t *p0 = (const uint8_t *)c->w + r * bytes;
  const uint8_t *p1 = p0 + (n > 1 ? 1 : 0) * stride * bytes, *p2 = p0 + (n > 2 ? 2 : 0) * stride * bytes,
                *p3 = p0 + (n > 3 ? 3 : 0) * stride * bytes;
  /* sixteen named accumulators (row i, shift s): arrays made gcc keep them on the stack */
  __m512i a00 = _mm512_setzero_si512(), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00,
          a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
  for (int64_t blk = 0; blk < c->cp / 256; blk++) {
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
                      (_mm512_reduce_add_epi32(acc[i][2]) >> 4) + (_mm512_reduce_add_epi32(acc[i][3]) >> 6) -
                      c->xs_sum;
    c->Y[r + i * stride] = c->scale[r + i * stride] * c->sx[0] * (float)d;
  }
}

/* Rows r, r + stride, … (n ≤ R of them; missing ones re-read row r and are not written) for tokens b0 … b0 + B − 1,
   R and B compile-time constants: R·B accumulators in registers; per 256-column block each row's four codes
   (v >> 2s) & 3 = w + 1 ∈ {0, 1, 2} are unpacked once and used by every token, each token's activation load by
   every row. Σ w·x = Σ (w + 1)·(x + 128) − Σ (x + 128) − 128·Σw, the middle sum per token (xu_sum). */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline void t2_rows_tokens(
    const int_ctx *c, int64_t r, int64_t stride, int n, const int R, const int b0, const int B) {
  enum { MAXR = 4 };
  const int64_t bytes = c->cp / 4;
  const __m512i three = _mm512_set1_epi8(3);
  const uint8_t *pk[MAXR];
  __m512i acc[MAXR][MAXB];
#pragma GCC unroll 4
  for (int k = 0; k < R; k++) {
    pk[k] = (const uint8_t *)c->w + (r + (k < n ? k : 0) * stride) * bytes;
#pragma GCC unroll 16
    for (int b = 0; b < B; b++) acc[k][b] = _mm512_setzero_si512();
  }
  for (int64_t blk = 0; blk < c->cp / 256; blk++) {
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
    for (int b = 0; b < B; b++) {
      const int32_t d = _mm512_reduce_add_epi32(acc[k][b]) - c->xu_sum[b0 + b] - 128 * c->wsum[rr];
      c->Y[(b0 + b) * c->rows + rr] = c->scale[rr] * c->sx[b0 + b] * (float)d;
    }
  }
}

/* Batch B (a compile-time constant at each call site): four rows a quarter of the range apart up to four tokens,
   two up to eight (R·B ≤ 16 accumulators in registers; four rows at 7–8 tokens spilled them), beyond, two rows
   for tokens 0–7 and again for the rest (the second pass reads their weights from the cache). */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline void t2_batch_vnni(
    const int_ctx *c, int64_t r0, int64_t r1, const int B) {
  if (B <= 4) FOR_ROW_GROUPS(4, r0, r1, t2_rows_tokens(c, r, q, n, 4, 0, B));
  else if (B <= 8) FOR_ROW_GROUPS(2, r0, r1, t2_rows_tokens(c, r, q, n, 2, 0, B));
  else FOR_ROW_GROUPS(2, r0, r1, (t2_rows_tokens(c, r, q, n, 2, 0, 8), t2_rows_tokens(c, r, q, n, 2, 8, B - 8)));
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void t2_rows_vnni(const int_ctx *c, int64_t r0, int64_t r1) {
  if (c->B == 1 && c->xs) { /* the decode case */
    FOR_ROW_GROUPS(4, r0, r1, t2_four_rows_vnni(c, r, q, n));
    return;
  }
  BY_BATCH(t2_batch_vnni, c, r0, r1)
}

static void t2_rows(const void *p, int64_t r0, int64_t r1) {
  const int_ctx *c = p;
  if (level() == 2) return t2_rows_vnni(c, r0, r1);
  const int64_t bytes = c->cp / 4;
  int8_t w[256];
  int32_t d[MAXB];
  for (int64_t r = r0; r < r1; r++) {
    int32_t tot[MAXB] = {0};
    for (int64_t blk = 0; blk < c->cp / 256; blk++) {
      const uint8_t *pk = (const uint8_t *)c->w + r * bytes + blk * 64;
      for (int s = 0; s < 4; s++)
        for (int j = 0; j < 64; j++) w[s * 64 + j] = (int8_t)(((pk[j] >> (2 * s)) & 3) - 1);
      dots(c->xu, c->cp, c->B, w, blk * 256, 4, d);
      for (int b = 0; b < c->B; b++) tot[b] += d[b];
    }
    for (int b = 0; b < c->B; b++) c->Y[b * c->rows + r] = c->scale[r] * c->sx[b] * (float)(tot[b] - 128 * c->wsum[r]);
  }
}

void sb_gemv_ternary2(const uint8_t *packed, const float *scale, const int32_t *wsum, const uint8_t *xu, const float *sx,
                      float *Y, int64_t rows, int64_t cp, int32_t B, int32_t threads) {
  /* activations as they are (not padded_rows: measured slower here for every batch size) */
  int_ctx c = {packed, scale, wsum, xu, sx, Y, rows, cp, B, NULL, xu, cp, NULL, 0, {0}};
  for (int b = 0; b < B && b < MAXB; b++) { /* B ≤ MAXB, as every batched path assumes (checked by the caller) */
    int32_t s = 0;
    for (int64_t k = 0; k < cp; k++) s += xu[b * cp + k];
    c.xu_sum[b] = s;
  }
  /* the batch-1 VNNI path; no memory: xs stays NULL and the batched path still works */
  int8_t *xs = B == 1 && level() == 2 ? signed_acts(xu, cp, &c.xs_sum) : NULL;
  c.xs = xs;
  parallel_rows(t2_rows, &c, rows, threads);
  free(xs);
}

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

#define T3_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni,avx512vbmi")))

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
  const uint8_t *xp; /* the activations, rows xstride bytes apart (padded_rows for B > 1) */
  int64_t xstride;
  int intel; /* the Intel tuning (on_intel()): prefetch distance, row groups, column tiles */
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

/* The five planes of 64 weights of one 64-byte block q. */
T3_TARGET static inline void t3_decode(const t3_tables *t, __m512i q, __m512i w[5]) {
  const __m512i s1 = _mm512_srli_epi16(q, 1);                                         /* skips bit 0 */
  const __m512i s3 = _mm512_ternarylogic_epi32(_mm512_set1_epi8(0x78), s1, q, 0xCA); /* 0x78 ? s1 : q: skips bit 3 */
  w[0] = _mm512_permutex2var_epi8(t->lo[0], q, t->hi[0]);
  w[1] = _mm512_permutexvar_epi8(q, t->lo[1]); /* a 64-entry table: vpermb leaves q intact */
  w[2] = _mm512_permutex2var_epi8(t->lo[2], s1, t->hi[2]);
  w[3] = _mm512_permutex2var_epi8(t->lo[3], s1, t->hi[3]);
  w[4] = _mm512_permutex2var_epi8(t->lo[4], s3, t->hi[4]);
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
  SB_PREFETCH_ROW_VALUES(c->scale, r, stride, n);
  SB_PREFETCH_ROW_VALUES(c->wsum, r, stride, n);
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
  const __m512i sel = _mm512_set1_epi8(0x78);
  __m512i a0[MAXNB], a1[MAXNB];
#pragma GCC unroll 4
  for (int b = 0; b < NB; b++) a0[b] = a1[b] = _mm512_setzero_si512();
  for (int64_t blk = 0; blk < c->cp / 320; blk++) {
    SB_PREFETCH(p0 + blk * 64, SB_PF_T3_INTEL);
    SB_PREFETCH(p1 + blk * 64, SB_PF_T3_INTEL);
    __m512i q0 = _mm512_loadu_si512((const void *)(p0 + blk * 64)), q1 = _mm512_loadu_si512((const void *)(p1 + blk * 64));
    __asm__("" : "+v"(q0), "+v"(q1));
    /* the three indices of t3_decode: the byte, byte >> 1, and bits 0–2 of the byte with bits 1–6 of byte >> 1 */
    const __m512i h0 = _mm512_srli_epi16(q0, 1), h1 = _mm512_srli_epi16(q1, 1);
    const __m512i k0 = _mm512_ternarylogic_epi32(sel, h0, q0, 0xCA), k1 = _mm512_ternarylogic_epi32(sel, h1, q1, 0xCA);
    const uint8_t *x = c->xp + b0 * c->xstride + blk * 320;
#define T3_PLANE(I, W0, W1)                                                                        \
  {                                                                                                \
    const __m512i w0 = (W0), w1 = (W1);                                                            \
    _Pragma("GCC unroll 4") for (int b = 0; b < NB; b++) {                                         \
      __m512i xb = _mm512_loadu_si512((const void *)(x + b * c->xstride + 64 * (I)));              \
      __asm__("" : "+v"(xb)); /* one load for both rows */                                         \
      a0[b] = dpbusd_inplace(a0[b], xb, w0);                                                       \
      a1[b] = dpbusd_inplace(a1[b], xb, w1);                                                       \
    }                                                                                              \
  }
    T3_PLANE(0, _mm512_permutex2var_epi8(t->lo[0], q0, t->hi[0]), _mm512_permutex2var_epi8(t->lo[0], q1, t->hi[0]))
    T3_PLANE(1, _mm512_permutexvar_epi8(q0, t->lo[1]), _mm512_permutexvar_epi8(q1, t->lo[1]))
    T3_PLANE(2, _mm512_permutex2var_epi8(t->lo[2], h0, t->hi[2]), _mm512_permutex2var_epi8(t->lo[2], h1, t->hi[2]))
    T3_PLANE(3, _mm512_permutex2var_epi8(t->lo[3], h0, t->hi[3]), _mm512_permutex2var_epi8(t->lo[3], h1, t->hi[3]))
    T3_PLANE(4, _mm512_permutex2var_epi8(t->lo[4], k0, t->hi[4]), _mm512_permutex2var_epi8(t->lo[4], k1, t->hi[4]))
#undef T3_PLANE
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
  const int64_t blocks = c->cp / 320, tile = SB_T3_TILE_BYTES / (B * c->xstride / blocks);
  const int tiled = (!c->intel || SB_T3_TILE_INTEL) && B * c->xstride > SB_T3_TILE_ABOVE && tile > 0 && tile < blocks;
  if (c->intel && B <= SB_T3_PAIR_MAXB) { /* two rows, four tokens at a time */
    /* each chunk's token count a compile-time constant (a helper function for this loop measured 3 % slower) */
    FOR_ROW_GROUPS(2, r0, r1, ({
#pragma GCC unroll 4
                     for (int b0 = 0; b0 < B; b0 += 4) t3_pair_tokens(c, &t, r, q, n, b0, B - b0 < 4 ? B - b0 : 4);
                   }));
    return;
  }
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
  t3_ctx c = {packed, scale, wsum, planes, xu, sx, Y, rows, cp, bytes_per_row, B, xu, cp, on_intel(), 0, {{0}}};
  c.vbmi = level() == 2 && __builtin_cpu_supports("avx512vbmi");
  void *xp = NULL;
  if (c.vbmi) {
    int64_t stride;
    xp = padded_rows(xu, B, cp, &stride); /* rows of a batch 64 bytes more than cp apart; NULL: as they are */
    if (xp) c.xp = xp, c.xstride = stride;
  } else {
    for (int v = 0; v < 256; v++)
      for (int i = 0; i < 5; i++) c.trit_of[v][i] = planes[128 * i + t3_index(v, t3_skipped[i])];
  }
  parallel_rows(t3_rows, &c, rows, threads);
  free(xp);
}

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

/* ---- memory bandwidth probe ----------------------------------------------------------- */

typedef struct {
  const float *a;
  int streams;
  int64_t prefetch; /* bytes ahead of each stream, 0: none */
  _Atomic int slots;
  double sums[64];
} bw_ctx;

static void bw_range(const void *p, int64_t i0, int64_t i1) {
  bw_ctx *c = (bw_ctx *)p;
  /* `streams` concurrent streams (the range in that many parts, 128 floats from each in turn), as a kernel
     reading several rows at once does: one stream leaves DRAM bandwidth unused on a core that can keep more
     misses in flight. Eight independent accumulators keep the probe limited by memory, not by the core; the
     software prefetch (if any) runs `prefetch` bytes ahead of each stream. Which pattern reads fastest depends
     on the machine (Zen 5: 4 streams, 8 KB ahead; Ice Lake-SP: 8 streams, none), so the caller tries several. */
  const float *base = c->a + i0;
  const int S = c->streams;
  const int64_t pf = c->prefetch;
  int64_t n = i1 - i0;
  double s = 0;
  while (n > 0 && ((uintptr_t)base & 63)) s += *base++, n--; /* whole cache lines only: a misaligned
                                                               64-byte load touches two of them */
  v16 acc[8];
  memset(acc, 0, sizeof acc);
  const int64_t q = (n / S) & ~(int64_t)127;
  for (int64_t i = 0; i < q; i += 128) {
    for (int st = 0; st < S; st++) {
      const float *a = base + st * q + i;
      SB_PREFETCH(a, pf);
      SB_PREFETCH(a + 64, pf);
      for (int u = 0; u < 8; u++) {
        v16 v;
        memcpy(&v, a + 16 * u, sizeof v);
        acc[u] += v;
      }
    }
  }
  for (int u = 0; u < 8; u++)
    for (int i = 0; i < 16; i++) s += acc[u][i];
  for (int64_t i = S * q; i < n; i++) s += base[i];
  c->sums[atomic_fetch_add(&c->slots, 1)] = s;
}

/* Streaming sum of n floats split over `threads` threads of the pool (a read-bandwidth probe), each thread
   reading its part as `streams` (1–16) concurrent streams with software prefetch `prefetch_bytes` ahead. */
double sb_stream_sum(const float *a, int64_t n, int32_t threads, int32_t streams, int32_t prefetch_bytes) {
  bw_ctx c = {.a = a, .streams = streams < 1 ? 1 : streams > 16 ? 16 : streams,
              .prefetch = prefetch_bytes > 0 ? prefetch_bytes : 0};
  sb_parallel_for(bw_range, &c, n, threads, 128);
  double s = 0;
  for (int i = 0; i < c.slots; i++) s += c.sums[i];
  return s;
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
