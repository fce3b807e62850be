/*
 * The range decoder's inner steps (48-bit range, total 2^16), shared by the
 * static order-0 decoder (range_coder.c) and the decode-then-multiply GEMV
 * (coded_gemv.c). Bit-identical to lib/coding/range_coder.ts's RangeDecoder.
 */
#ifndef SUBBIT_RANGE_DECODER_H
#define SUBBIT_RANGE_DECODER_H
#include <stdint.h>

#define RC_TOP (1ULL << 40)
#define RC_SPAN (1ULL << 48)
#define RC_TOTAL_BITS 16
#define RC_TOTAL (1u << RC_TOTAL_BITS)
#define RC_TRUNCATED (-1)
#define RC_CORRUPT (-2)

/* ⌊n / d⌋ with a 64-by-32-bit divide (x86 divl), cheaper than a 64-bit one. Safe here: the decoder
   keeps code < 2^48 and r = range >> 16 ≥ 2^24, so the quotient is < 2^24 and never overflows. */
static inline uint32_t rc_div_64_32(uint64_t n, uint32_t d) {
#if defined(__x86_64__)
  uint32_t q, rem;
  __asm__("divl %4" : "=a"(q), "=d"(rem) : "a"((uint32_t)n), "d"((uint32_t)(n >> 32)), "rm"(d));
  return q;
#else
  return (uint32_t)(n / d);
#endif
}

typedef struct {
  const uint8_t *in;
  int64_t len, pos, overrun;
  uint64_t code, range, r;
} rc_dec;

/* Start decoding `len` bytes: 0, or RC_TRUNCATED / RC_CORRUPT (the first byte is always 0). */
static inline int rc_dec_init(rc_dec *d, const uint8_t *in, int64_t len) {
  *d = (rc_dec){in, len, 1, 0, 0, RC_SPAN - 1, 0};
  if (len < 7) return RC_TRUNCATED;
  if (in[0] != 0) return RC_CORRUPT;
  for (int k = 0; k < 6; k++) d->code = (d->code << 8) | in[d->pos++];
  return 0;
}

/* The next symbol's position in [0, 2^16): look it up in the cumulative table, then rc_dec_consume. */
static inline uint32_t rc_dec_target(rc_dec *d) {
  d->r = d->range >> RC_TOTAL_BITS;
  uint32_t v = rc_div_64_32(d->code, (uint32_t)d->r);
  return v >= RC_TOTAL ? RC_TOTAL - 1 : v;
}

/* Remove the decoded symbol [cum, cum + freq) and renormalise: 0, or RC_TRUNCATED / RC_CORRUPT. */
static inline int rc_dec_consume(rc_dec *d, uint32_t cum, uint32_t freq) {
  d->code -= d->r * cum;
  d->range = d->r * freq;
  if (d->code >= d->range) return RC_CORRUPT;
  while (d->range < RC_TOP) {
    uint8_t b = 0;
    if (d->pos < d->len) b = d->in[d->pos++];
    else if (++d->overrun > 6) return RC_TRUNCATED;
    d->code = (d->code << 8) | b;
    d->range <<= 8;
  }
  return 0;
}
#endif
