/*
 * ggml's own CPU kernels as a benchmark peer, called from the libraries npm's @node-llama-cpp/linux-x64 ships
 * (libggml-base.so + one libggml-cpu-<variant>.so), opened at run time with dlopen — nothing of ggml is compiled
 * here. Declarations below are ggml.h's and ggml-cpu.h's (struct ggml_type_traits, ggml_type_traits_cpu, the
 * vec_dot signature); sb_ggml_type_info lets the caller check the type enum and block sizes against the binary.
 *
 * One GEMV Y[B × rows] = X[B × cols] · Wᵀ the way ggml's mul_mat does it for a quantized W: each token's
 * activations converted once with the CPU traits' from_float of vec_dot_type (e.g. Q8_0 for Q8_0/Q4_0, Q8_K for
 * TQ1_0/TQ2_0/Q2_K; timed on their own), then vec_dot over every (row, token), rows outer so a row is read from
 * memory once for all tokens, rows split over the same thread pool as subbit's kernels.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "thread_pool.h"

typedef void (*ggml_to_float_t)(const void *x, float *y, int64_t k);
typedef void (*ggml_from_float_t)(const float *x, void *y, int64_t k);
typedef void (*ggml_vec_dot_t)(int n, float *s, size_t bs, const void *x, size_t bx, const void *y, size_t by,
                               int nrc);

struct ggml_type_traits {
  const char *type_name;
  int64_t blck_size;
  int64_t blck_size_interleave;
  size_t type_size;
  bool is_quantized;
  ggml_to_float_t to_float;
  ggml_from_float_t from_float_ref;
};

struct ggml_type_traits_cpu {
  ggml_from_float_t from_float;
  ggml_vec_dot_t vec_dot;
  int vec_dot_type; /* enum ggml_type */
  int64_t nrows;
};

static struct {
  void *base, *cpu;
  char info[256]; /* "version commit", kept for later callers (each Deno isolate opens the peer anew) */
  const struct ggml_type_traits *(*traits)(int);
  const struct ggml_type_traits_cpu *(*traits_cpu)(int);
  size_t (*quantize_chunk)(int, const float *, void *, int64_t, int64_t, int64_t, const float *);
  bool (*requires_imatrix)(int);
} G;

/* The score ggml's backend loader gives a CPU variant library on this machine (0: it cannot run here). */
int32_t sb_ggml_variant_score(const char *cpu_path) {
  void *h = dlopen(cpu_path, RTLD_NOW | RTLD_LOCAL);
  if (!h) return -1;
  int (*score)(void) = (int (*)(void))dlsym(h, "ggml_backend_score");
  const int s = score ? score() : 0;
  dlclose(h);
  return s;
}

/* Open libggml-base and a CPU variant; 0 on success, else a message in err. info gets "version commit". */
int32_t sb_ggml_open(const char *base_path, const char *cpu_path, char *info, int64_t info_len) {
  if (G.cpu) return snprintf(info, (size_t)info_len, "%s", G.info), 0;
  G.base = dlopen(base_path, RTLD_NOW | RTLD_GLOBAL);
  if (!G.base) return snprintf(info, (size_t)info_len, "%s", dlerror()), -1;
  G.cpu = dlopen(cpu_path, RTLD_NOW | RTLD_GLOBAL);
  if (!G.cpu) return snprintf(info, (size_t)info_len, "%s", dlerror()), -1;
  G.traits = (const struct ggml_type_traits *(*)(int))dlsym(G.base, "ggml_get_type_traits");
  G.quantize_chunk = (size_t (*)(int, const float *, void *, int64_t, int64_t, int64_t, const float *))dlsym(
      G.base, "ggml_quantize_chunk");
  G.requires_imatrix = (bool (*)(int))dlsym(G.base, "ggml_quantize_requires_imatrix");
  G.traits_cpu = (const struct ggml_type_traits_cpu *(*)(int))dlsym(G.cpu, "ggml_get_type_traits_cpu");
  void (*cpu_init)(void) = (void (*)(void))dlsym(G.cpu, "ggml_cpu_init");
  const char *(*version)(void) = (const char *(*)(void))dlsym(G.base, "ggml_version");
  const char *(*commit)(void) = (const char *(*)(void))dlsym(G.base, "ggml_commit");
  if (!G.traits || !G.quantize_chunk || !G.traits_cpu || !cpu_init) {
    G.cpu = NULL;
    return snprintf(info, (size_t)info_len, "a ggml entry point is missing"), -1;
  }
  cpu_init();
  snprintf(G.info, sizeof G.info, "%s %s", version ? version() : "?", commit ? commit() : "?");
  snprintf(info, (size_t)info_len, "%s", G.info);
  return 0;
}

/* A type's name, block size, bytes per block and vec_dot activation type, as the binary defines them. */
int32_t sb_ggml_type_info(int32_t type, char *name, int64_t name_len, int64_t *out) {
  const struct ggml_type_traits *t = G.traits(type);
  const struct ggml_type_traits_cpu *c = G.traits_cpu(type);
  if (!t || !t->type_name) return -1;
  snprintf(name, (size_t)name_len, "%s", t->type_name);
  out[0] = t->blck_size;
  out[1] = (int64_t)t->type_size;
  out[2] = c ? c->vec_dot_type : -1;
  out[3] = c && c->vec_dot ? 1 : 0;
  out[4] = G.requires_imatrix && G.requires_imatrix(type) ? 1 : 0;
  return 0;
}

/* rows × cols weights quantized by ggml (ggml_quantize_chunk, no importance matrix); returns bytes written. */
int64_t sb_ggml_quantize(int32_t type, const float *src, uint8_t *dst, int64_t rows, int64_t cols) {
  if (type == 0) {
    memcpy(dst, src, (size_t)(rows * cols) * sizeof(float));
    return rows * cols * (int64_t)sizeof(float);
  }
  return (int64_t)G.quantize_chunk(type, src, dst, 0, rows, cols, NULL);
}

/* ggml's own dequantization of n values (to_float), for checking our encoders against the binary. */
int32_t sb_ggml_dequantize(int32_t type, const uint8_t *src, float *dst, int64_t n) {
  const struct ggml_type_traits *t = G.traits(type);
  if (!t || !t->to_float) return -1;
  t->to_float(src, dst, n);
  return 0;
}

static size_t row_bytes(int type, int64_t cols) {
  const struct ggml_type_traits *t = G.traits(type);
  return (size_t)(cols / t->blck_size) * t->type_size;
}

typedef struct {
  ggml_vec_dot_t dot;
  const uint8_t *w;
  size_t wrow;
  const uint8_t *xq;
  size_t xrow;
  float *y;
  int64_t rows, cols;
  int32_t batch;
} peer_ctx;

static void peer_rows(const void *p, int64_t r0, int64_t r1) {
  const peer_ctx *c = (const peer_ctx *)p;
  for (int64_t r = r0; r < r1; r++) {
    for (int32_t b = 0; b < c->batch; b++) {
      c->dot((int)c->cols, &c->y[b * c->rows + r], 0, c->w + (size_t)r * c->wrow, 0, c->xq + (size_t)b * c->xrow, 0,
             1);
    }
  }
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One GEMV on ggml's kernels; xq: scratch of ≥ batch × row_bytes(vec_dot_type, cols) bytes.
   times[0] = activation conversion ms, times[1] = the vec_dot loop's ms. Returns 0, or -1 for an unusable type. */
int32_t sb_ggml_gemv(int32_t type, const uint8_t *w, int64_t rows, int64_t cols, const float *x, int32_t batch,
                     float *y, int32_t threads, uint8_t *xq, double *times) {
  const struct ggml_type_traits_cpu *c = G.traits_cpu(type);
  if (!c || !c->vec_dot) return -1;
  const int vt = c->vec_dot_type;
  const size_t xrow = row_bytes(vt, cols);
  const double t0 = now_ms();
  const ggml_from_float_t conv = G.traits_cpu(vt)->from_float;
  for (int32_t b = 0; b < batch; b++) {
    if (conv) conv(x + (size_t)b * cols, xq + (size_t)b * xrow, cols);
    else memcpy(xq + (size_t)b * xrow, x + (size_t)b * cols, xrow); /* f32 activations as they are */
  }
  const double t1 = now_ms();
  peer_ctx ctx = {c->vec_dot, w, row_bytes(type, cols), xq, xrow, y, rows, cols, batch};
  sb_parallel_for(peer_rows, &ctx, rows, threads, 1);
  times[0] = t1 - t0;
  times[1] = now_ms() - t1;
  return 0;
}
