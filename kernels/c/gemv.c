/*
 * Low-bit GEMV / small GEMM kernels: Y[b, r] = Σ_k W[r, k]·X[b, k] for B ≤ 16
 * tokens, weights in one of several formats (prepared by lib/kernels/formats.ts,
 * whose TypeScript reference lib/kernels/reference.ts these are tested against):
 *
 *   fp32      W f32 [rows × cols]
 *   int8      q int8 [rows × cp], f32 scale per 64 columns, Σq per 64 columns
 *   ternary2  2-bit codes (w+1) 4 per byte, 256-column blocks interleaved so a shift
 *             yields 64 consecutive weights; f32 scale and Σw per row
 *   base3     5 trits per byte (w+1 digits, base 3); f32 scale and Σw per row
 *   sparse    column indices of the +1 and −1 weights per row (CSR); f32 scale per row
 *
 * Activations for the integer kernels are int8 per token (absmax/127 scale, as
 * BitNet does), stored biased as uint8 (x + 128) so that AVX-512 VNNI vpdpbusd
 * (u8 × s8 → s32) applies; the bias is removed with the precomputed Σw:
 *   Σ (x+128)·w = Σ x·w + 128·Σ w.
 * Paths: AVX-512 VNNI, AVX2 (vpmaddubsw + vpmaddwd), scalar; chosen at run time.
 * Threads split the rows.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemv_common.h"

int sb_cpu_level = -1;

/* 0 scalar, 1 avx2, 2 avx512-vnni; a negative argument reports the detected level, else forces it (≤ detected). */
int32_t sb_gemv_level(int32_t force) {
  int l = level();
  if (force >= 0 && force <= l) sb_cpu_level = force;
  return sb_cpu_level;
}

/* ---- fp32 ---------------------------------------------------------------------------- */

typedef float v16 __attribute__((vector_size(64)));
typedef struct {
  const float *W, *X;
  float *Y;
  int64_t rows, cols;
  int B;
} f32_ctx;

static void f32_rows(const void *p, int64_t r0, int64_t r1) {
  const f32_ctx *c = p;
  const int64_t K = c->cols, K16 = K & ~(int64_t)15;
  for (int64_t r = r0; r < r1; r++) {
    const float *w = c->W + r * K;
    v16 acc[MAXB];
    memset(acc, 0, sizeof acc);
    for (int64_t k = 0; k < K16; k += 16) {
      v16 wv;
      memcpy(&wv, w + k, sizeof wv);
      for (int b = 0; b < c->B; b++) {
        v16 xv;
        memcpy(&xv, c->X + b * K + k, sizeof xv);
        acc[b] += wv * xv;
      }
    }
    for (int b = 0; b < c->B; b++) {
      float s = 0;
      for (int i = 0; i < 16; i++) s += acc[b][i];
      for (int64_t k = K16; k < K; k++) s += w[k] * c->X[b * K + k];
      c->Y[b * c->rows + r] = s;
    }
  }
}

void sb_gemv_f32(const float *W, const float *X, float *Y, int64_t rows, int64_t cols, int32_t B, int32_t threads) {
  f32_ctx c = {W, X, Y, rows, cols, B};
  parallel_rows(f32_rows, &c, rows, threads);
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
} int_ctx;

/* VNNI: per 64 columns one vpdpbusd from zero, converted to float and scaled into a float
   accumulator, so the horizontal sum happens once per row; the +128 bias is removed at the end
   as Σ_g s_g·128·Σq_g. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void i8_rows_vnni(const int_ctx *c, int64_t r0, int64_t r1) {
  const int64_t groups = c->cp / 64;
  if (c->B == 1) { /* the decode case: two float accumulators in registers */
    for (int64_t r = r0; r < r1; r++) {
      __m512 f0 = _mm512_setzero_ps(), f1 = f0;
      float bias = 0;
      const int8_t *q = (const int8_t *)c->w + r * c->cp;
      const float *sc = c->scale + r * groups;
      const int32_t *ws = c->wsum + r * groups;
      int64_t g = 0;
      for (; g + 1 < groups; g += 2) {
        _mm_prefetch((const char *)(q + g * 64 + 8 * c->cp), _MM_HINT_T0);
        _mm_prefetch((const char *)(q + g * 64 + 64 + 8 * c->cp), _MM_HINT_T0);
        __m512i d0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_loadu_si512((const void *)(c->xu + g * 64)),
                                         _mm512_loadu_si512((const void *)(q + g * 64)));
        __m512i d1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_loadu_si512((const void *)(c->xu + g * 64 + 64)),
                                         _mm512_loadu_si512((const void *)(q + g * 64 + 64)));
        f0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d0), _mm512_set1_ps(sc[g]), f0);
        f1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d1), _mm512_set1_ps(sc[g + 1]), f1);
        bias += sc[g] * 128.0f * (float)ws[g] + sc[g + 1] * 128.0f * (float)ws[g + 1];
      }
      for (; g < groups; g++) {
        __m512i d0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_loadu_si512((const void *)(c->xu + g * 64)),
                                         _mm512_loadu_si512((const void *)(q + g * 64)));
        f0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d0), _mm512_set1_ps(sc[g]), f0);
        bias += sc[g] * 128.0f * (float)ws[g];
      }
      c->Y[r] = (_mm512_reduce_add_ps(_mm512_add_ps(f0, f1)) - bias) * c->sx[0];
    }
    return;
  }
  for (int64_t r = r0; r < r1; r++) {
    __m512 acc[MAXB];
    for (int b = 0; b < c->B; b++) acc[b] = _mm512_setzero_ps();
    float bias = 0;
    const int8_t *q = (const int8_t *)c->w + r * c->cp;
    for (int64_t g = 0; g < groups; g++) {
      const float s = c->scale[r * groups + g];
      bias += s * 128.0f * (float)c->wsum[r * groups + g];
      const __m512i w = _mm512_loadu_si512((const void *)(q + g * 64));
      const __m512 sv = _mm512_set1_ps(s);
      for (int b = 0; b < c->B; b++) {
        __m512i d = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_loadu_si512((const void *)(c->xu + b * c->cp + g * 64)), w);
        acc[b] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), sv, acc[b]);
      }
    }
    for (int b = 0; b < c->B; b++) c->Y[b * c->rows + r] = (_mm512_reduce_add_ps(acc[b]) - bias) * c->sx[b];
  }
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
      const int32_t bias = 128 * c->wsum[r * groups + g];
      for (int b = 0; b < c->B; b++) acc[b] += s * (float)(d[b] - bias);
    }
    for (int b = 0; b < c->B; b++) c->Y[b * c->rows + r] = acc[b] * c->sx[b];
  }
}

void sb_gemv_int8(const int8_t *q, const float *scale, const int32_t *wsum, const uint8_t *xu, const float *sx, float *Y,
                  int64_t rows, int64_t cp, int32_t B, int32_t threads) {
  int_ctx c = {q, scale, wsum, xu, sx, Y, rows, cp, B};
  parallel_rows(i8_rows, &c, rows, threads);
}

/* ---- ternary, 2-bit packed ------------------------------------------------------------ */

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void t2_rows_vnni(const int_ctx *c, int64_t r0, int64_t r1) {
  const int64_t bytes = c->cp / 4;
  const __m512i three = _mm512_set1_epi8(3), one = _mm512_set1_epi8(1);
  if (c->B == 1) { /* the decode case: accumulators in registers, not a runtime-sized array */
    /* Multiply by the codes (w + 1 ∈ {0,1,2}) and correct once per row:
       Σ xu·w = Σ xu·code − Σ xu, which saves the per-block subtraction. */
    int32_t xsum = 0;
    for (int64_t k = 0; k < c->cp; k++) xsum += c->xu[k];
    for (int64_t r = r0; r < r1; r++) {
      const uint8_t *pk = (const uint8_t *)c->w + r * bytes;
      __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
      for (int64_t blk = 0; blk < c->cp / 256; blk++) {
        _mm_prefetch((const char *)(pk + blk * 64 + 16 * bytes), _MM_HINT_T0); /* 16 rows ahead: hide DRAM latency */
        const __m512i v = _mm512_loadu_si512((const void *)(pk + blk * 64));
        const uint8_t *x = c->xu + blk * 256;
        a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512((const void *)x), _mm512_and_si512(v, three));
        a1 = _mm512_dpbusd_epi32(a1, _mm512_loadu_si512((const void *)(x + 64)), _mm512_and_si512(_mm512_srli_epi16(v, 2), three));
        a2 = _mm512_dpbusd_epi32(a2, _mm512_loadu_si512((const void *)(x + 128)), _mm512_and_si512(_mm512_srli_epi16(v, 4), three));
        a3 = _mm512_dpbusd_epi32(a3, _mm512_loadu_si512((const void *)(x + 192)), _mm512_and_si512(_mm512_srli_epi16(v, 6), three));
      }
      const int32_t d = _mm512_reduce_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3))) - xsum -
                        128 * c->wsum[r];
      c->Y[r] = c->scale[r] * c->sx[0] * (float)d;
    }
    return;
  }
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *pk = (const uint8_t *)c->w + r * bytes;
    /* one accumulator per shift: four independent vpdpbusd chains instead of one */
    __m512i acc[MAXB][4];
    for (int b = 0; b < c->B; b++)
      for (int s = 0; s < 4; s++) acc[b][s] = _mm512_setzero_si512();
    for (int64_t blk = 0; blk < c->cp / 256; blk++) {
      __m512i v = _mm512_loadu_si512((const void *)(pk + blk * 64));
      for (int s = 0; s < 4; s++) {
        /* codes of columns blk·256 + s·64 … +63, minus 1 → {−1, 0, 1} */
        __m512i w = _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(v, 2 * s), three), one);
        for (int b = 0; b < c->B; b++)
          acc[b][s] = _mm512_dpbusd_epi32(acc[b][s], _mm512_loadu_si512((const void *)(c->xu + b * c->cp + blk * 256 + s * 64)), w);
      }
    }
    for (int b = 0; b < c->B; b++) {
      __m512i a = _mm512_add_epi32(_mm512_add_epi32(acc[b][0], acc[b][1]), _mm512_add_epi32(acc[b][2], acc[b][3]));
      int32_t d = _mm512_reduce_add_epi32(a) - 128 * c->wsum[r];
      c->Y[b * c->rows + r] = c->scale[r] * c->sx[b] * (float)d;
    }
  }
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
  int_ctx c = {packed, scale, wsum, xu, sx, Y, rows, cp, B};
  parallel_rows(t2_rows, &c, rows, threads);
}

/* ---- ternary, base-3 (5 trits per byte) ---------------------------------------------- */

static int8_t trits[256][5];
static int trits_ready = 0;
static void init_trits(void) {
  if (trits_ready) return;
  for (int v = 0; v < 243; v++) {
    int x = v;
    for (int i = 0; i < 5; i++) {
      trits[v][i] = (int8_t)(x % 3 - 1);
      x /= 3;
    }
  }
  trits_ready = 1;
}

typedef struct {
  const uint8_t *packed;
  const float *scale;
  const int32_t *wsum;
  const uint8_t *xu;
  const float *sx;
  float *Y;
  int64_t rows, cp, bytes_per_row;
  int B;
} t3_ctx;

static void t3_rows(const void *p, int64_t r0, int64_t r1) {
  const t3_ctx *c = p;
  int8_t *w = aligned_alloc(64, (size_t)c->cp + 64);
  int32_t d[MAXB];
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *pk = c->packed + r * c->bytes_per_row;
    for (int64_t j = 0; j < c->bytes_per_row; j++) memcpy(w + 5 * j, trits[pk[j]], 5);
    for (int64_t k = 5 * c->bytes_per_row; k < c->cp; k++) w[k] = 0;
    dots(c->xu, c->cp, c->B, w, 0, c->cp / 64, d);
    for (int b = 0; b < c->B; b++) c->Y[b * c->rows + r] = c->scale[r] * c->sx[b] * (float)(d[b] - 128 * c->wsum[r]);
  }
  free(w);
}

void sb_gemv_base3(const uint8_t *packed, const float *scale, const int32_t *wsum, const uint8_t *xu, const float *sx,
                   float *Y, int64_t rows, int64_t cp, int64_t bytes_per_row, int32_t B, int32_t threads) {
  init_trits();
  t3_ctx c = {packed, scale, wsum, xu, sx, Y, rows, cp, bytes_per_row, B};
  parallel_rows(t3_rows, &c, rows, threads);
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

static void sp_rows(const void *p, int64_t r0, int64_t r1) {
  const sp_ctx *c = p;
  for (int64_t r = r0; r < r1; r++) {
    for (int b = 0; b < c->B; b++) {
      const float *x = c->X + b * c->cols;
      float s = 0;
      for (int32_t i = c->pos_off[r]; i < c->pos_off[r + 1]; i++) s += x[c->pos[i]];
      for (int32_t i = c->neg_off[r]; i < c->neg_off[r + 1]; i++) s -= x[c->neg[i]];
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
  int64_t n;
  double sum;
} bw_job;

static void *bw_thread(void *p) {
  bw_job *j = p;
  /* eight independent accumulators (no add-latency chain) and a software prefetch
     ahead of the stream, so the probe is limited by memory, not by the core */
  v16 acc[8];
  memset(acc, 0, sizeof acc);
  const int64_t n128 = j->n & ~(int64_t)127;
  for (int64_t i = 0; i < n128; i += 128) {
    _mm_prefetch((const char *)(j->a + i + 2048), _MM_HINT_T0);
    _mm_prefetch((const char *)(j->a + i + 2048 + 64), _MM_HINT_T0);
    for (int u = 0; u < 8; u++) {
      v16 v;
      memcpy(&v, j->a + i + 16 * u, sizeof v);
      acc[u] += v;
    }
  }
  double s = 0;
  for (int u = 0; u < 8; u++)
    for (int i = 0; i < 16; i++) s += acc[u][i];
  for (int64_t i = n128; i < j->n; i++) s += j->a[i];
  j->sum = s;
  return NULL;
}

/* Streaming sum of n floats split over `threads` threads (a read-bandwidth probe). */
double sb_stream_sum(const float *a, int64_t n, int32_t threads) {
  if (threads < 1) threads = 1;
  if (threads > 64) threads = 64;
  bw_job jobs[64];
  pthread_t tid[64];
  int started[64] = {0};
  int64_t per = ((n + threads - 1) / threads + 127) & ~(int64_t)127;
  for (int i = 0; i < threads; i++) {
    int64_t lo = i * per < n ? i * per : n, hi = lo + per < n ? lo + per : n;
    jobs[i] = (bw_job){a + lo, hi - lo, 0};
    if (i < threads - 1) started[i] = pthread_create(&tid[i], NULL, bw_thread, &jobs[i]) == 0;
    if (!started[i]) bw_thread(&jobs[i]);
  }
  double s = 0;
  for (int i = 0; i < threads; i++) {
    if (started[i]) pthread_join(tid[i], NULL);
    s += jobs[i].sum;
  }
  return s;
}

/* Per-token absmax int8 activations, biased to uint8: sx[b] = max|x|/127,
   xu[b, k] = round(x/sx) + 128 for k < cols, 128 (zero) for the padding up to cp.
   Bit-identical to quantizeActivations in lib/kernels/formats.ts (round half away from zero). */
void sb_quantize_acts(const float *x, int32_t B, int64_t cols, int64_t cp, uint8_t *xu, float *sx) {
  for (int b = 0; b < B; b++) {
    const float *r = x + b * cols;
    float amax = 0;
    for (int64_t k = 0; k < cols; k++) amax = fmaxf(amax, fabsf(r[k]));
    const float s = amax / 127.0f;
    sx[b] = s;
    uint8_t *o = xu + b * cp;
    if (s > 0) {
      for (int64_t k = 0; k < cols; k++) {
        float q = r[k] / s;
        q = q < -127.0f ? -127.0f : q > 127.0f ? 127.0f : q;
        o[k] = (uint8_t)((int)lroundf(q) + 128);
      }
    } else {
      memset(o, 128, (size_t)cols);
    }
    memset(o + cols, 128, (size_t)(cp - cols));
  }
}
