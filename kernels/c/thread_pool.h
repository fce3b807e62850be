/*
 * A persistent pool of worker threads for the kernels: creating threads per call cost more than a
 * 4096×4096 low-bit GEMV takes (~0.1 ms), so two threads were slower than one.
 */
#ifndef SUBBIT_THREAD_POOL_H
#define SUBBIT_THREAD_POOL_H
#include <stdint.h>

typedef void (*sb_range_fn)(const void *ctx, int64_t i0, int64_t i1);

/* Call fn(ctx, i0, i1) over [0, n) split into ≤ threads contiguous ranges (lengths a multiple of grain,
   except the last); the calling thread runs the first range, pool workers the rest. Returns when all
   are done. Calls from several threads at once are serialised. */
void sb_parallel_for(sb_range_fn fn, const void *ctx, int64_t n, int threads, int64_t grain);
#endif
