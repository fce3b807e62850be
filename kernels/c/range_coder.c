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

/* Decode n symbols. Returns 0 on success, -1 if the stream is truncated, -2 if
 * it is corrupt; *where receives the byte offset reached. */
int32_t sb_rc_decode_static(const uint8_t *in, int64_t len, int64_t n, const uint32_t *freq, int32_t levels,
                            uint8_t *out, int64_t *where) {
  uint32_t cum[257];
  cum[0] = 0;
  for (int s = 0; s < levels; s++) cum[s + 1] = cum[s] + freq[s];
  uint8_t *sym_of = malloc(TOTAL); /* per call, so concurrent decodes never share it */
  if (!sym_of) return -2;
  for (int s = 0; s < levels; s++) memset(sym_of + cum[s], s, cum[s + 1] - cum[s]);
  rc_dec d;
  int status = rc_dec_init(&d, in, len);
  for (int64_t i = 0; i < n && status == 0; i++) {
    uint32_t sym = sym_of[rc_dec_target(&d)];
    status = rc_dec_consume(&d, cum[sym], freq[sym]);
    out[i] = (uint8_t)sym;
  }
  free(sym_of);
  *where = status == RC_TRUNCATED ? len : d.pos;
  return status;
}
