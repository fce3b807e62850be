/*
 * Persistent worker pool behind sb_parallel_for (thread_pool.h). Workers are started on first need
 * and kept: each waits for the next call's generation number, spinning briefly (back-to-back GEMVs
 * of a decode loop find it awake) and then sleeping on a condition variable.
 */
#include "thread_pool.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define POOL_MAX 64
#define SPIN_PAUSES 10000 /* ~0.2 ms of pause instructions (~19 ns each here) before a worker sleeps */

typedef struct {
  sb_range_fn fn;
  const void *ctx;
  int64_t i0, i1;
  _Atomic uint64_t gen; /* the call (generation) this task belongs to, stored after the fields */
} range_task;

static pthread_mutex_t call_mu = PTHREAD_MUTEX_INITIALIZER; /* one parallel call at a time */
static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cv = PTHREAD_COND_INITIALIZER;
static _Atomic uint64_t generation;
static _Atomic int pending;
static int workers;                    /* started so far (guarded by call_mu) */
static uint64_t born_at[POOL_MAX];     /* the generation current when worker i started */
static range_task tasks[POOL_MAX];     /* worker i runs tasks[i] in the call whose generation tasks[i].gen is */

static void *worker(void *arg) {
  const int id = (int)(intptr_t)arg;
  uint64_t seen = born_at[id];
  for (;;) {
    uint64_t g;
    int spins = 0;
    while ((g = atomic_load_explicit(&generation, memory_order_acquire)) == seen) {
      if (++spins < SPIN_PAUSES) {
        _mm_pause();
        continue;
      }
      pthread_mutex_lock(&wake_mu);
      while (atomic_load(&generation) == seen) pthread_cond_wait(&wake_cv, &wake_mu);
      pthread_mutex_unlock(&wake_mu);
    }
    seen = g;
    /* Only a task of exactly this generation: a worker left out of the calls in between may wake late, while
       the caller is already writing the next call's tasks (reading tasks[id] by `id < ntasks` then ran a task
       twice or half-written, and the caller returned early with the worker still writing to its context). The
       task cannot change under us: its call waits for our pending decrement. */
    if (atomic_load_explicit(&tasks[id].gen, memory_order_acquire) == g) {
      const range_task *t = &tasks[id];
      t->fn(t->ctx, t->i0, t->i1);
      atomic_fetch_sub_explicit(&pending, 1, memory_order_release);
    }
  }
  return NULL;
}

void sb_parallel_for(sb_range_fn fn, const void *ctx, int64_t n, int threads, int64_t grain) {
  if (n <= 0) return;
  if (threads < 1) threads = 1;
  if (threads > POOL_MAX) threads = POOL_MAX;
  if (grain < 1) grain = 1;
  const int64_t per = ((n + threads - 1) / threads + grain - 1) / grain * grain;
  const int parts = (int)((n + per - 1) / per);
  if (parts <= 1) {
    fn(ctx, 0, n);
    return;
  }
  pthread_mutex_lock(&call_mu);
  while (workers < parts - 1) {
    pthread_t tid;
    born_at[workers] = atomic_load(&generation);
    if (pthread_create(&tid, NULL, worker, (void *)(intptr_t)workers) != 0) break;
    pthread_detach(tid);
    workers++;
  }
  const int helpers = workers < parts - 1 ? workers : parts - 1;
  const uint64_t g = atomic_load(&generation) + 1; /* only this function, under call_mu, changes it */
  atomic_store(&pending, helpers);
  for (int w = 0; w < helpers; w++) {
    const int64_t i0 = (w + 1) * per, i1 = i0 + per < n ? i0 + per : n;
    tasks[w].fn = fn, tasks[w].ctx = ctx, tasks[w].i0 = i0, tasks[w].i1 = i1;
    atomic_store_explicit(&tasks[w].gen, g, memory_order_release);
  }
  pthread_mutex_lock(&wake_mu);
  atomic_store_explicit(&generation, g, memory_order_release);
  pthread_cond_broadcast(&wake_cv);
  pthread_mutex_unlock(&wake_mu);
  fn(ctx, 0, per);
  for (int p = helpers + 1; p < parts; p++) { /* ranges no worker could be started for */
    const int64_t i0 = p * per, i1 = i0 + per < n ? i0 + per : n;
    fn(ctx, i0, i1);
  }
  for (long spins = 0; atomic_load_explicit(&pending, memory_order_acquire) > 0; spins++) {
    if (spins < SPIN_PAUSES) _mm_pause();
    else sched_yield();
  }
  pthread_mutex_unlock(&call_mu);
}
