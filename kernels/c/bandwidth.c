/*
 * The read-bandwidth probe of `deno task bench kernels`: a streaming sum over the pool's threads.
 */
#include <immintrin.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemv_common.h"
#include "gemv_tuning.h"

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

