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

static void coded_chunks(const void *p, int64_t c0, int64_t c1) {
  coded_ctx *c = (coded_ctx *)p;
  int8_t *w = aligned_alloc(64, (size_t)c->cp);
  if (!w) {
    c->status = RC_CORRUPT;
    return;
  }
  memset(w, 0, (size_t)c->cp); /* padding columns: weight 0 */
  int32_t d[MAXB];
  for (int64_t ch = c0; ch < c1; ch++) {
    const uint32_t *f = c->chunk_freq + 3 * ch;
    const uint32_t cum1 = f[0], cum2 = f[0] + f[1];
    const uint32_t cum[3] = {0, cum1, cum2};
    rc_dec dec;
    int st = rc_dec_init(&dec, c->coded + c->chunk_off[ch], c->chunk_off[ch + 1] - c->chunk_off[ch]);
    const int64_t r_end = (ch + 1) * c->chunk_rows < c->rows ? (ch + 1) * c->chunk_rows : c->rows;
    for (int64_t r = ch * c->chunk_rows; r < r_end && st == 0; r++) {
      int32_t wsum = 0;
      for (int64_t k = 0; k < c->cols && st == 0; k++) {
        const uint32_t v = rc_dec_target(&dec);
        const uint32_t s = (v >= cum1) + (v >= cum2); /* three symbols: two compares, no table */
        st = rc_dec_consume(&dec, cum[s], f[s]);
        w[k] = (int8_t)((int)s - 1);
        wsum += (int)s - 1;
      }
      if (st != 0) break;
      dots(c->xu, c->cp, c->B, w, 0, c->cp / 64, d);
      for (int b = 0; b < c->B; b++) c->Y[b * c->rows + r] = c->scale[r] * c->sx[b] * (float)(d[b] - 128 * wsum);
    }
    if (st != 0) {
      c->status = st;
      c->where = ch;
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
