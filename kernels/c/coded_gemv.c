/*
 * Decode-then-multiply GEMV over arithmetic-coded ternary weights: the cost of
 * entropy decoding per token, set against the packed kernels (gemv.c).
 *
 * Layout (lib/kernels/formats.ts, kernel "coded_ternary"): the codes w+1 ∈ {0,1,2}
 * of each chunk of `chunk_rows` rows are one static order-0 range-coded stream
 * (lib/coding/static_order0.ts: frequencies summing to 2^16, here given as three
 * u32 per chunk, the payload from chunk_off[c] to chunk_off[c+1]). Independent
 * chunks let threads split the work. Each row is decoded into an int8 buffer and
 * multiplied with the int8 activations exactly as the int8 kernel does:
 *   Σ (x+128)·w = Σ x·w + 128·Σ w   (the bias removed with Σw counted while decoding).
 */
#include <stdlib.h>
#include <string.h>

#include "gemv_common.h"
#include "range_decoder.h"

typedef struct {
  const uint8_t *coded;
  const int64_t *chunk_off;
  const uint32_t *chunk_freq;
  int64_t chunk_rows;
  const float *scale;
  const uint8_t *xu;
  const float *sx;
  float *Y;
  int64_t rows, cols, cp;
  int B;
  int status;     /* first error, 0 when none (written only on failure) */
  int64_t where;  /* the chunk that failed */
} coded_ctx;

/* One chunk's static model: the three frequencies and their cumulative starts. */
typedef struct {
  uint32_t cum[3], freq[3];
} tri_model;

static inline tri_model model_of(const coded_ctx *c, int64_t ch) {
  const uint32_t *f = c->chunk_freq + 3 * ch;
  return (tri_model){{0, f[0], f[0] + f[1]}, {f[0], f[1], f[2]}};
}

/* Decode one symbol (three symbols: two compares, no table) into w[k]; the status of the decoder. */
static inline int decode_one(rc_dec *d, const tri_model *m, int8_t *w, int32_t *wsum) {
  const uint32_t v = rc_dec_target(d);
  const uint32_t s = (v >= m->cum[1]) + (v >= m->cum[2]);
  *w = (int8_t)((int)s - 1);
  *wsum += (int)s - 1;
  return rc_dec_consume(d, m->cum[s], m->freq[s]);
}

static inline void emit_row(const coded_ctx *c, int64_t r, const int8_t *w, int32_t wsum) {
  int32_t d[MAXB];
  dots(c->xu, c->cp, c->B, w, 0, c->cp / 64, d);
  for (int b = 0; b < c->B; b++) c->Y[b * c->rows + r] = c->scale[r] * c->sx[b] * (float)(d[b] - 128 * wsum);
}

static inline int64_t chunk_end(const coded_ctx *c, int64_t ch) {
  return (ch + 1) * c->chunk_rows < c->rows ? (ch + 1) * c->chunk_rows : c->rows;
}

static inline int open_chunk(const coded_ctx *c, int64_t ch, rc_dec *d) {
  return rc_dec_init(d, c->coded + c->chunk_off[ch], c->chunk_off[ch + 1] - c->chunk_off[ch]);
}

/* One chunk, row by row; 0 or the decoder's error. */
static int one_chunk(const coded_ctx *c, int64_t ch, int8_t *w) {
  const tri_model m = model_of(c, ch);
  rc_dec dec;
  int st = open_chunk(c, ch, &dec);
  for (int64_t r = ch * c->chunk_rows; r < chunk_end(c, ch) && st == 0; r++) {
    int32_t wsum = 0;
    for (int64_t k = 0; k < c->cols && st == 0; k++) st = decode_one(&dec, &m, w + k, &wsum);
    if (st == 0) emit_row(c, r, w, wsum);
  }
  return st;
}

/* Two full chunks at once, their rows decoded in lockstep: each symbol of a range decoder waits on the one
   before (a divide, a multiply, the renormalisation), so two independent streams keep the core busier. Returns 0,
   or the error with *bad set to the chunk (ch or ch + 1) that failed. */
static int two_chunks(const coded_ctx *c, int64_t ch, int8_t *wa, int8_t *wb, int64_t *bad) {
  const tri_model ma = model_of(c, ch), mb = model_of(c, ch + 1);
  rc_dec da, db;
  int sa = open_chunk(c, ch, &da), sb = open_chunk(c, ch + 1, &db);
  for (int64_t i = 0; i < c->chunk_rows && sa == 0 && sb == 0; i++) {
    int32_t wsa = 0, wsb = 0;
    for (int64_t k = 0; k < c->cols && sa == 0 && sb == 0; k++) {
      sa = decode_one(&da, &ma, wa + k, &wsa);
      sb = decode_one(&db, &mb, wb + k, &wsb);
    }
    if (sa == 0 && sb == 0) {
      emit_row(c, ch * c->chunk_rows + i, wa, wsa);
      emit_row(c, (ch + 1) * c->chunk_rows + i, wb, wsb);
    }
  }
  *bad = sa != 0 ? ch : ch + 1;
  return sa != 0 ? sa : sb;
}

static void coded_chunks(const void *p, int64_t c0, int64_t c1) {
  coded_ctx *c = (coded_ctx *)p;
  int8_t *w = aligned_alloc(64, (size_t)(2 * c->cp));
  if (!w) {
    c->status = RC_CORRUPT;
    return;
  }
  memset(w, 0, (size_t)(2 * c->cp)); /* padding columns: weight 0 */
  for (int64_t ch = c0; ch < c1;) {
    int64_t bad = ch;
    int st;
    if (ch + 1 < c1 && chunk_end(c, ch + 1) - (ch + 1) * c->chunk_rows == c->chunk_rows) {
      st = two_chunks(c, ch, w, w + c->cp, &bad);
      ch += 2;
    } else {
      st = one_chunk(c, ch, w);
      ch += 1;
    }
    if (st != 0) {
      c->status = st;
      c->where = bad;
      break;
    }
  }
  free(w);
}

/* 0, or RC_TRUNCATED / RC_CORRUPT with *bad_chunk set to a chunk that failed. */
int32_t sb_gemv_coded_ternary(const uint8_t *coded, const int64_t *chunk_off, const uint32_t *chunk_freq,
                              int64_t chunk_rows, const float *scale, const uint8_t *xu, const float *sx, float *Y,
                              int64_t rows, int64_t cols, int64_t cp, int32_t B, int32_t threads, int64_t *bad_chunk) {
  coded_ctx c = {coded, chunk_off, chunk_freq, chunk_rows, scale, xu, sx, Y, rows, cols, cp, B, 0, -1};
  const int64_t chunks = (rows + chunk_rows - 1) / chunk_rows;
  parallel_rows(coded_chunks, &c, chunks, threads);
  *bad_chunk = c.where;
  return c.status;
}
