/*
 * Static order-0 range coder, bit-identical to lib/coding/range_coder.ts +
 * lib/coding/static_order0.ts (48-bit range, LZMA-style carry, total 2^16).
 * The TypeScript version is the reference; kernels/c tests compare the two.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "range_decoder.h"

#define TOP RC_TOP
#define SPAN RC_SPAN
#define TOTAL_BITS RC_TOTAL_BITS
#define TOTAL RC_TOTAL

typedef struct {
  uint64_t low, range, cache_size;
  uint8_t cache;
  uint8_t *out;
  int64_t pos, cap;
} enc_t;

static inline void put(enc_t *e, uint8_t b) {
  if (e->pos < e->cap) e->out[e->pos] = b;
  e->pos++;
}

static inline void shift_low(enc_t *e) {
  if (e->low < (0xFFULL << 40) || e->low >= SPAN) {
    uint8_t carry = e->low >= SPAN ? 1 : 0;
    uint8_t temp = e->cache;
    do {
      put(e, (uint8_t)(temp + carry));
      temp = 0xFF;
    } while (--e->cache_size != 0);
    e->cache = (uint8_t)((e->low >> 40) & 0xFF);
  }
  e->cache_size++;
  e->low = (e->low & (TOP - 1)) << 8;
}

/* Encode n symbols with frequencies freq[levels] summing to 2^16. Returns the
 * coded length; when it exceeds cap, nothing past cap was written and the
 * caller retries with a larger buffer. */
int64_t sb_rc_encode_static(const uint8_t *sym, int64_t n, const uint32_t *freq, int32_t levels, uint8_t *out,
                            int64_t cap) {
  uint32_t cum[257];
  cum[0] = 0;
  for (int s = 0; s < levels; s++) cum[s + 1] = cum[s] + freq[s];
  enc_t e = {0, SPAN - 1, 1, 0, out, 0, cap};
  for (int64_t i = 0; i < n; i++) {
    uint32_t s = sym[i];
    uint64_t r = e.range >> TOTAL_BITS;
    e.low += r * cum[s];
    e.range = r * freq[s];
    while (e.range < TOP) {
      e.range <<= 8;
      shift_low(&e);
    }
  }
  for (int k = 0; k < 7; k++) shift_low(&e);
  return e.pos;
}

/* Small alphabets: the symbol is the number of cumulative bounds ≤ v, K compares (bounds past the
   alphabet are 2^16, never reached), no 64 KB table to miss in. One copy per K keeps the dependency
   chain code → v → s → cum[s] → code as short as the alphabet allows. */
#define DECODE_SMALL(K)                                                                                   \
  static int decode_small_##K(rc_dec *d, int64_t n, const uint32_t *cum, const uint32_t *freq, uint8_t *out) { \
    uint32_t c[K];                                                                                      \
    for (int j = 0; j < K; j++) c[j] = cum[j + 1];                                                      \
    int status = 0;                                                                                     \
    for (int64_t i = 0; i < n && status == 0; i++) {                                                   \
      const uint32_t v = rc_dec_target(d);                                                              \
      uint32_t s = 0;                                                                                   \
      for (int j = 0; j < K; j++) s += v >= c[j];                                                       \
      status = rc_dec_consume(d, cum[s], freq[s]);                                                      \
      out[i] = (uint8_t)s;                                                                              \
    }                                                                                                   \
    return status;                                                                                      \
  }
DECODE_SMALL(1)
DECODE_SMALL(2)
DECODE_SMALL(4)
DECODE_SMALL(7)

static int decode_table(rc_dec *d, int64_t n, const uint32_t *cum, const uint32_t *freq, int levels, uint8_t *out) {
  uint8_t *sym_of = malloc(TOTAL); /* per call, so concurrent decodes never share it */
  if (!sym_of) return RC_CORRUPT;
  for (int s = 0; s < levels; s++) memset(sym_of + cum[s], s, cum[s + 1] - cum[s]);
  int status = 0;
  for (int64_t i = 0; i < n && status == 0; i++) {
    const uint32_t s = sym_of[rc_dec_target(d)];
    status = rc_dec_consume(d, cum[s], freq[s]);
    out[i] = (uint8_t)s;
  }
  free(sym_of);
  return status;
}

/* Decode n symbols. Returns 0 on success, -1 if the stream is truncated, -2 if
 * it is corrupt; *where receives the byte offset reached. */
int32_t sb_rc_decode_static(const uint8_t *in, int64_t len, int64_t n, const uint32_t *freq, int32_t levels,
                            uint8_t *out, int64_t *where) {
  uint32_t cum[257], f[256];
  cum[0] = 0;
  for (int s = 0; s < levels; s++) cum[s + 1] = cum[s] + freq[s], f[s] = freq[s];
  for (int s = levels; s < 8; s++) cum[s + 1] = TOTAL, f[s] = 0;
  rc_dec d;
  int status = rc_dec_init(&d, in, len);
  if (status == 0) {
    if (levels <= 2) status = decode_small_1(&d, n, cum, f, out);
    else if (levels <= 3) status = decode_small_2(&d, n, cum, f, out);
    else if (levels <= 5) status = decode_small_4(&d, n, cum, f, out);
    else if (levels <= 8) status = decode_small_7(&d, n, cum, f, out);
    else status = decode_table(&d, n, cum, f, levels, out);
  }
  *where = status == RC_TRUNCATED ? len : d.pos;
  return status;
}

/* ---- two interleaved streams (model static_o0_x2) -----------------------------------------
 * The first ⌈n/2⌉ symbols are stream A, the rest stream B, both coded with the same table.
 * Decoding alternates between them: two independent dependency chains (divide → lookup →
 * update) that the out-of-order core overlaps, where one stream leaves it waiting. */
#define DECODE_X2(NAME, LOOKUP)                                                                                   \
  static int NAME(rc_dec *a, rc_dec *b, int64_t n, const uint32_t *cum, const uint32_t *freq, const uint8_t *sym_of, \
                  uint8_t *out, int *failed) {                                                                    \
    (void)sym_of;                                                                                                 \
    const int64_t h = (n + 1) / 2, m = n - h;                                                                     \
    int sa = 0, sb = 0;                                                                                           \
    for (int64_t i = 0; i < m && sa == 0 && sb == 0; i++) {                                                       \
      const uint32_t va = rc_dec_target(a), vb = rc_dec_target(b);                                                \
      const uint32_t ya = LOOKUP(va), yb = LOOKUP(vb);                                                            \
      sa = rc_dec_consume(a, cum[ya], freq[ya]);                                                                  \
      sb = rc_dec_consume(b, cum[yb], freq[yb]);                                                                  \
      out[i] = (uint8_t)ya;                                                                                       \
      out[h + i] = (uint8_t)yb;                                                                                   \
    }                                                                                                             \
    if (sa == 0 && sb == 0 && h > m) {                                                                            \
      const uint32_t y = LOOKUP(rc_dec_target(a));                                                                \
      sa = rc_dec_consume(a, cum[y], freq[y]);                                                                    \
      out[h - 1] = (uint8_t)y;                                                                                    \
    }                                                                                                             \
    *failed = sa != 0 ? 0 : sb != 0 ? 1 : -1;                                                                     \
    return sa != 0 ? sa : sb;                                                                                     \
  }
#define LOOKUP_3(v) ((uint32_t)((v) >= cum[1]) + ((v) >= cum[2]))
#define LOOKUP_5(v) ((uint32_t)((v) >= cum[1]) + ((v) >= cum[2]) + ((v) >= cum[3]) + ((v) >= cum[4]))
#define LOOKUP_8(v)                                                                                   \
  ((uint32_t)((v) >= cum[1]) + ((v) >= cum[2]) + ((v) >= cum[3]) + ((v) >= cum[4]) + ((v) >= cum[5]) + \
   ((v) >= cum[6]) + ((v) >= cum[7]))
#define LOOKUP_TABLE(v) ((uint32_t)sym_of[v])
DECODE_X2(decode_x2_3, LOOKUP_3)
DECODE_X2(decode_x2_5, LOOKUP_5)
DECODE_X2(decode_x2_8, LOOKUP_8)
DECODE_X2(decode_x2_table, LOOKUP_TABLE)

/* Decode n symbols from streams A (⌈n/2⌉ symbols) and B. Returns 0, -1 (truncated) or -2 (corrupt);
 * *where receives the byte offset reached, counted from the start of A (B follows A). */
int32_t sb_rc_decode_static_x2(const uint8_t *in_a, int64_t len_a, const uint8_t *in_b, int64_t len_b, int64_t n,
                               const uint32_t *freq, int32_t levels, uint8_t *out, int64_t *where) {
  uint32_t cum[257], f[256];
  cum[0] = 0;
  for (int s = 0; s < levels; s++) cum[s + 1] = cum[s] + freq[s], f[s] = freq[s];
  for (int s = levels; s < 8; s++) cum[s + 1] = TOTAL, f[s] = 0;
  rc_dec a, b;
  int status = rc_dec_init(&a, in_a, len_a), failed = 0;
  if (status != 0) {
    *where = status == RC_TRUNCATED ? len_a : 0;
    return status;
  }
  if ((status = rc_dec_init(&b, in_b, len_b)) != 0) {
    *where = len_a + (status == RC_TRUNCATED ? len_b : 0);
    return status;
  }
  uint8_t *sym_of = NULL;
  if (levels > 8) {
    if (!(sym_of = malloc(TOTAL))) return RC_CORRUPT;
    for (int s = 0; s < levels; s++) memset(sym_of + cum[s], s, cum[s + 1] - cum[s]);
  }
  status = levels <= 3   ? decode_x2_3(&a, &b, n, cum, f, sym_of, out, &failed)
           : levels <= 5 ? decode_x2_5(&a, &b, n, cum, f, sym_of, out, &failed)
           : levels <= 8 ? decode_x2_8(&a, &b, n, cum, f, sym_of, out, &failed)
                         : decode_x2_table(&a, &b, n, cum, f, sym_of, out, &failed);
  free(sym_of);
  if (status == 0) *where = len_a + b.pos;
  else if (failed == 0) *where = status == RC_TRUNCATED ? len_a : a.pos;
  else *where = len_a + (status == RC_TRUNCATED ? len_b : b.pos);
  return status;
}
