/*
 * The GEMV kernels' tuning knobs (gemv.c, gemv_base3.c), overridable at build time (-D) for interleaved A/B runs,
 * the software-prefetch macros, and the helpers the kernel files share.
 */
#ifndef SUBBIT_GEMV_TUNING_H
#define SUBBIT_GEMV_TUNING_H
#include <immintrin.h>
#include <stdint.h>

/* The values are the best found
   on AMD EPYC (Zen 5) with weights 64-byte aligned and DRAM-resident, with *_INTEL variants where Intel Ice
   Lake-SP measured a different best (chosen at run time by CPU vendor, `sb_on_intel()`):
   software prefetch distance in bytes ahead of each stream (0 = none: the hardware prefetcher alone;
   int8 was fastest so, ternary2 with 2.5 KB), and rows the int8 batch-1 kernel reads at once. */
#ifndef SB_PF_I8
#define SB_PF_I8 0
#endif
#ifndef SB_PF_I8_LONG /* int8: batch 1 on Intel with rows over 4 KB, and every batched call (measured before the
                         4096-column panels; not re-measured since) */
#define SB_PF_I8_LONG 2048
#endif
#ifndef SB_I8_ROWS /* int8 batch 1 on Zen 5: two rows at once and no software prefetch at every width. Interleaved A/B,
                       one thread, 40 rounds (2026-12-07, panels and huge pages): 4096 × 11008 three rows with 2 KB
                       ahead (the choice for long rows before the panels) 1.223–1.310 ms, two with none 1.185–1.196
                       (4 KiB pages: 1.231 → 1.171), four with none 1.373; 4096 × 16384 1.909 → 1.781 ms. Before:
                       four rows at every width 0.48–0.57 / 1.31–1.56 / 1.45–1.57 ms at 4096² / 11008×4096 /
                       4096×11008, two 0.46–0.51 / 1.25–1.35 / 1.39–1.48 */
#define SB_I8_ROWS 2
#endif
#ifndef SB_I8_ROWS_INTEL /* Ice Lake-SP: four rows, 0.97–1.02 of the bandwidth there (bench-2026-12-03f; not re-measured) */
#define SB_I8_ROWS_INTEL 4
#endif
#ifndef SB_F32_ROWS /* fp32 batch 1: rows at once (1: one row at a time) */
#define SB_F32_ROWS 4
#endif
#ifndef SB_PF_F32 /* Zen 5, batch 1, one thread, beside ggml's f32 (bench --peers ggml, 2026-12-06): 2 KB ahead read
                      0.84–0.85 of the bandwidth at 11008×4096 and 4096×11008 (ggml 0.93–0.95), none 0.98–1.01 */
#define SB_PF_F32 0
#endif
#ifndef SB_PF_F32_BATCH /* fp32, 2–16 tokens (not re-measured) */
#define SB_PF_F32_BATCH 2048
#endif
#ifndef SB_PF_F32_INTEL /* Ice Lake-SP: the 2 KB found before (not re-measured there) */
#define SB_PF_F32_INTEL 2048
#endif
#ifndef SB_PF_T2 /* ternary2: Intel's sixteen-accumulator batch-1 kernel and the batched one */
#define SB_PF_T2 2048
#endif
#ifndef SB_PF_T2_CHAINS /* ternary2 batch 1 on Zen 5 (t2_four_chains_vnni). Interleaved A/B, one thread, 30 rounds
                           (2026-12-07, huge pages): 4096² 1536 / 2048 / 2240 / 2304 / 2560 / 2688 / 2816 / 3072 bytes
                           ahead 0.1106 / 0.1023–0.1052 / 0.1041 / 0.1033 / 0.0993–0.1028 / 0.1036 / 0.1041 / 0.1031
                           ms, 11008 × 4096 2048 0.2748, 2560 0.2688 ms, 4096 × 11008 2048 0.2741, 2560 0.2665 ms
                           (4 KiB pages, 4096²: 0.1079 → 0.1061); 1024 and 4096 far slower */
#define SB_PF_T2_CHAINS 2560
#endif
#ifndef SB_PF_T3
#define SB_PF_T3 10240
#endif
#ifndef SB_T3_VALUES_AHEAD /* base-3 batch 1: rows ahead whose scale and Σw a row group prefetches (16: the next 64-byte
                              line of each stream). Interleaved A/B against the group's own rows, Zen 5, one thread, 30–40
                              rounds (2026-12-07): 4096² 0.0837–0.0867 → 0.0831–0.0857 ms in four runs, 11008 × 4096 0.2245
                              → 0.2188 ms; 32 and 64 rows no better. The same for ternary2's scales and int8's row biases
                              measured nothing (not re-measured on Intel) */
#define SB_T3_VALUES_AHEAD 16
#endif
#ifndef SB_T3_TILE_BYTES /* base-3, 2–16 tokens: activation bytes per column tile */
#define SB_T3_TILE_BYTES 24576
#endif
#ifndef SB_T3_TILE_ABOVE
#define SB_T3_TILE_ABOVE 49152
#endif
#ifndef SB_T3_TILE_INTEL /* Ice Lake-SP: base-3's column tiles measured slower at every size (1 MB L2 holds the
                            activations): 8 × 11008 4.5 → 6.8 ms, 16 × 4096 3.1 → 3.7 ms. 0: no tiles there */
#define SB_T3_TILE_INTEL 0
#endif
#ifndef SB_PF_I8_INTEL /* Ice Lake-SP, rows up to 4 KB: 11.3 → 12.2 GB/s at 4096² */
#define SB_PF_I8_INTEL 1024
#endif
#ifndef SB_T3_PAIR_MAXB /* Intel, base-3 batches up to this many tokens: two rows, four tokens at a time */
#define SB_T3_PAIR_MAXB 16
#endif
#ifndef SB_PF_T3_INTEL /* Ice Lake-SP: 10.1 → 11.1 GB/s at 4096² (10240 ahead was best on Zen 5) */
#define SB_PF_T3_INTEL 3072
#endif
#ifndef SB_PF_SP /* sparse_ternary: bytes ahead in its positions / counts / column lists. Ice Lake-SP, 4096², one
                     thread, batch 1, interleaved A/B against none: 0.61 vs 0.73 ms at 80 % zeros, equal at 90–95 %;
                     4 KB measured as 2 KB */
#define SB_PF_SP 2048
#endif
#ifndef SB_PF_T2_CHAINS_HINT /* ternary2 batch 1 on Zen 5: the prefetch hint. NTA against T0, interleaved A/B, one
                                thread, 30–40 rounds (2026-12-07, huge pages, 2.5 KB ahead): 4096² 0.1046 → 0.1028 ms,
                                4096 × 11008 0.2811 → 0.2766, 11008 × 4096 0.2823 → 0.2809 (2 / 3 / 4 KB ahead with NTA
                                slower). The same hint in base-3: ≤ 0.5 %, not adopted */
#define SB_PF_T2_CHAINS_HINT _MM_HINT_NTA
#endif
/* Prefetch `ahead` bytes past p (0: none), into every cache level (T0) or with another _MM_HINT_*. */
#define SB_PREFETCH_AS(p, ahead, hint) \
  do {                                 \
    if (ahead) _mm_prefetch((const char *)(p) + (ahead), hint); \
  } while (0)
#define SB_PREFETCH(p, ahead) SB_PREFETCH_AS(p, ahead, _MM_HINT_T0)

/* Start fetching the 4-byte per-row values (scale, Σw, bias) that a group of n rows, `stride` apart, uses only at
   its end: with rows a quarter of the range apart the hardware prefetcher does not follow these arrays, and a miss
   there stalled every 16th group (~7 % of a base-3 GEMV when each layer has its own arrays). Base-3 passes rows
   SB_T3_VALUES_AHEAD on, so that the line arrives well before its group. */
#define SB_PREFETCH_ROW_VALUES(arr, r, stride, n)                                   \
  do {                                                                              \
    for (int k_ = 0; k_ < (n); k_++) _mm_prefetch((const char *)((arr) + (r) + k_ * (stride)), _MM_HINT_T0); \
  } while (0)

/* Use the *_INTEL tuning knobs: sb_tuning's override, else whether the CPU is Intel's (gemv.c). */
__attribute__((visibility("hidden"))) int sb_on_intel(void);

/* For B > 1 tokens: a copy of B rows of row_bytes each, rows row_bytes + 64 apart (64-byte aligned); NULL (B = 1,
   or no memory): use the rows as they are (gemv.c). */
__attribute__((visibility("hidden"))) void *sb_padded_rows(const void *src, int B, int64_t row_bytes,
                                                           int64_t *stride_bytes);
#endif
