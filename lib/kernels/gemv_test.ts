import { strict as assert } from "node:assert";
import { kernelCodes } from "../sweep/kernel_codes.ts";
import fc from "../../tests/fixtures/fc.ts";
import { seededGaussian } from "../random.ts";
import { KERNELS, prepareWeights, quantizeActivations } from "./formats.ts";
import { alignedWeights } from "./aligned.ts";
import { cGemv, tsGemv } from "./gemv.ts";
import { ensureNative, nativeVariant } from "./native.ts";
import { libraryPath, type Variant } from "./build.ts";

const lib = await ensureNative();

function compare(
  rows: number,
  cols: number,
  batch: number,
  seed: number,
  threads: number,
  level: number,
  extreme = false,
) {
  const data = seededGaussian(rows * cols, seed, 0.05);
  if (extreme) { for (let i = 0; i < data.length; i += 7) data[i] *= 40; // outliers
   }
  const x = seededGaussian(batch * cols, seed + 1, 1);
  if (extreme) x[0] = 1000;
  const w = { name: "w", rows, cols, data };
  lib!.sb_gemv_level(level);
  for (const k of KERNELS) {
    // sparse_ternary at 99 % zeros: the columns layout (formats.ts), at 90 % the blocks layout
    const sparsities = k === "sparse_ternary" ? [undefined, 0.9, 0.99] : k.includes("ternary") ? [undefined, 0.9] : [
      undefined,
    ];
    for (const sparsity of sparsities) {
      const ref = tsGemv(k), c = cGemv(k, lib!);
      const p = c.prepare(kernelCodes(k, w, sparsity));
      // y2 starts as garbage: a kernel must write every output, never add to what was there
      const y1 = new Float32Array(batch * rows), y2 = new Float32Array(batch * rows).fill(12345);
      ref.run(p, x, y1, batch);
      c.run(p, x, y2, batch, threads);
      const scale = Math.max(1e-6, ...Array.from(y1, Math.abs));
      for (let i = 0; i < y1.length; i++) {
        assert.ok(
          Math.abs(y1[i] - y2[i]) <= 2e-5 * scale,
          `${k} ${"layout" in p ? p.layout : ""} s=${sparsity} ${rows}x${cols} B${batch} L${level} t${threads} @${i}: ${
            y2[i]
          } vs ${y1[i]}`,
        );
      }
    }
  }
}

/** Run a property over every CPU path (forced levels 0…detected) under both tunings (Zen 5's and Intel's knobs:
 * prefetch distances, row groups, column tiles), restoring the detected level and tuning after. */
function onEveryCpuPath<T extends unknown[]>(
  arbs: { [K in keyof T]: fc.Arbitrary<T[K]> },
  check: (level: number, ...v: T) => void,
) {
  const top = lib!.sb_gemv_level(-1), tuning = lib!.sb_tuning(-1);
  try {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: top }),
        fc.integer({ min: 0, max: 1 }),
        ...arbs,
        (level: number, intel: number, ...v: T) => {
          lib!.sb_tuning(intel);
          check(level, ...v);
        },
      ),
      { numRuns: 60 },
    );
  } finally {
    lib!.sb_gemv_level(top);
    lib!.sb_tuning(tuning);
  }
}

Deno.test({
  name:
    "GEMV kernels (fp32, int8, ternary2, base3, sparse, coded) equal the TS reference: random ragged shapes, batches, threads, every CPU path",
  ignore: !lib,
  fn() {
    onEveryCpuPath(
      [
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 1, max: 16 }),
        fc.nat(1000),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
      ],
      (level, rows, cols, batch, seed, threads, extreme) => compare(rows, cols, batch, seed, threads, level, extreme),
    );
  },
});

Deno.test({
  name: "GEMV kernels, batch 1 (the decode paths: several rows at once, remainders, threads) equal the TS reference",
  ignore: !lib,
  fn() {
    onEveryCpuPath(
      [
        fc.integer({ min: 1, max: 23 }),
        fc.integer({ min: 1, max: 1100 }),
        fc.nat(1000),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
      ],
      (level, rows, cols, seed, threads, extreme) => compare(rows, cols, 1, seed, threads, level, extreme),
    );
  },
});

/** Run `fn` under Zen 5's tuning and under Intel's (sb_tuning 0 and 1), restoring the tuning in use. */
function underBothTunings(fn: () => void): void {
  for (const intel of [0, 1]) {
    const before = lib!.sb_tuning(intel);
    try {
      fn();
    } finally {
      lib!.sb_tuning(before);
    }
  }
}

Deno.test({
  name: "GEMV kernels, long rows (base-3's column tiles at 15–16 tokens; int8's long-row path at batch 1 and its " +
    "4096-column panels on every CPU path) equal the TS reference",
  ignore: !lib,
  fn() {
    const top = lib!.sb_gemv_level(-1);
    try {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: top }),
          fc.integer({ min: 1, max: 11 }),
          fc.integer({ min: 3300, max: 5000 }), // ≥ 15 rows of ≥ 3264 bytes: over the 48 KB above which base-3 tiles
          fc.constantFrom(1, 15, 16),
          fc.nat(1000),
          fc.integer({ min: 1, max: 2 }),
          // Zen 5's tuning: base-3 in column tiles; Intel's: no tiles, int8 2 KB ahead over 4096 columns
          (level, rows, cols, batch, seed, threads) =>
            underBothTunings(() => compare(rows, cols, batch, seed, threads, level)),
        ),
        { numRuns: 18 },
      );
    } finally {
      lib!.sb_gemv_level(top);
    }
  },
});

Deno.test({
  name: "GEMV kernels: zero weights and zero activations give exact zeros",
  ignore: !lib,
  fn() {
    const w = { name: "z", rows: 8, cols: 300, data: new Float32Array(8 * 300) };
    for (const k of KERNELS) {
      const c = cGemv(k, lib!), p = c.prepare(kernelCodes(k, w)), y = new Float32Array(16).fill(7);
      c.run(p, new Float32Array(2 * 300), y, 2);
      assert.ok(y.every((v) => v === 0), `${k}: ${y}`);
    }
  },
});

Deno.test({
  name:
    "sparse_ternary: blocks with 0, 1–63, 64, 65–127 and 128 non-zeros (every lookup path: none, one, two; both layouts) equal the TS reference",
  ignore: !lib,
  fn() {
    const top = lib!.sb_gemv_level(-1);
    try {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 400 }),
          fc.integer({ min: 2, max: 16 }),
          fc.integer({ min: 1, max: 3 }),
          fc.nat(999),
          (cols, tokens, threads, seed) => {
            // row r: non-zeros (±1, the sign from a hash) at the first (r · 23) mod 129 columns of every block
            const rows = 12, data = new Float32Array(rows * cols);
            for (let r = 0; r < rows; r++) {
              const per = r === 0 ? 128 : r === 1 ? 64 : r === 2 ? 0 : (r * 23 + seed) % 129;
              for (let k = 0; k < cols; k++) {
                if (k % 128 < per) data[r * cols + k] = ((k * 31 + r * 17 + seed) >> 2) % 2 ? 1 : -1;
              }
            }
            // batch 1, and 2–16 tokens by either strategy (transposed activations, per-token lookups)
            const runs = [[1, -1], [tokens, 0], [tokens, 1]];
            for (let level = 0; level <= top; level++) {
              for (const [batch, strategy] of runs) {
                for (const sparseLayout of ["blocks", "columns"] as const) {
                  const x = seededGaussian(batch * cols, seed, 1);
                  lib!.sb_gemv_level(level);
                  lib!.sb_sparse_strategy(strategy);
                  const c = cGemv("sparse_ternary", lib!);
                  const w = { name: "s", rows, cols, data };
                  const p = alignedWeights(
                    prepareWeights("sparse_ternary", kernelCodes("sparse_ternary", w), { sparseLayout }),
                  );
                  assert.equal(p.layout, sparseLayout);
                  const y1 = new Float32Array(batch * rows), y2 = new Float32Array(batch * rows);
                  tsGemv("sparse_ternary").run(p, x, y1, batch);
                  c.run(p, x, y2, batch, threads);
                  const scale = Math.max(1e-6, ...Array.from(y1, Math.abs));
                  for (let i = 0; i < y1.length; i++) {
                    const at = `${sparseLayout} ${cols} B${batch} L${level} S${strategy} @${i}: ${y2[i]} vs ${y1[i]}`;
                    assert.ok(Math.abs(y1[i] - y2[i]) <= 2e-5 * scale, at);
                  }
                }
              }
            }
          },
        ),
        { numRuns: 40 },
      );
    } finally {
      lib!.sb_gemv_level(top);
      lib!.sb_sparse_strategy(-1);
    }
  },
});

/** Activations whose x/s lands on or next to a rounding boundary: amax = 127 (so s = 1), values k + 0.5 and
 * the floats just below and above it, signs mixed. */
function roundingEdges(cols: number, seed: number): Float32Array {
  const x = new Float32Array(cols), one = new Float32Array(1), bits = new Int32Array(one.buffer);
  for (let k = 0; k < cols; k++) {
    one[0] = ((k * 7 + seed) % 126) + 0.5;
    bits[0] += (k % 3) - 1; // just below, on, just above the half
    x[k] = (k + seed) % 2 ? -one[0] : one[0];
  }
  x[seed % cols] = 127;
  return x;
}

Deno.test({
  name: "activation quantization in C equals the TS reference bit for bit (every CPU path, rounding edges)",
  ignore: !lib,
  fn() {
    onEveryCpuPath(
      [fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 300 }), fc.nat(999)],
      (level, B, cols, seed) => {
        lib!.sb_gemv_level(level);
        const xs = seed % 4 === 1 ? new Float32Array(B * cols) : seededGaussian(B * cols, seed, seed % 3 ? 2 : 1e-3);
        if (seed % 4 === 1) { for (let b = 0; b < B; b++) xs.set(roundingEdges(cols, seed + b), b * cols); }
        if (seed % 5 === 0) xs.fill(0);
        const cp = Math.ceil(cols / 64) * 64;
        const ref = quantizeActivations(xs, B, cols, cp);
        const xu = new Uint8Array(B * cp), sx = new Float32Array(B);
        lib!.sb_quantize_acts(xs, B, BigInt(cols), BigInt(cp), xu, sx);
        assert.deepEqual(sx, ref.sx, `level ${level}`);
        assert.deepEqual(xu, ref.xu, `level ${level}`);
      },
    );
  },
});

Deno.test({
  name: "bandwidth probe: the streaming sum adds every element (any length, thread count and read pattern)",
  ignore: !lib,
  fn() {
    for (const n of [0, 1, 127, 128, 129, 1000, 100003]) {
      const a = Float32Array.from({ length: n }, (_, i) => i % 7);
      const want = a.reduce((x, y) => x + y, 0);
      for (const t of [1, 2, 5]) {
        for (
          const [streams, prefetch] of [[4, 8192], [8, 0], [12, 0], [1, 0], [3, 512], [16, 2048], [0, -1], [99, 0]]
        ) {
          const got = lib!.sb_stream_sum(a, BigInt(n), t, streams, prefetch);
          assert.equal(got, want, `n=${n} t=${t} streams=${streams} prefetch=${prefetch}`);
        }
      }
    }
  },
});

Deno.test({
  name: "thread pool: thousands of calls with changing thread counts each run every range exactly once",
  ignore: !lib,
  fn() {
    // A worker left out of one call could wake late and run the next call's task twice or half-written (the
    // caller then returned with the worker still writing to its context): wrong sums here, 1 run in 3 at 50 000.
    const a = Float32Array.from({ length: 6000 }, (_, i) => i % 7);
    const prefix = [0];
    for (const v of a) prefix.push(prefix[prefix.length - 1] + v);
    let seed = 1;
    const next = (k: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % k);
    for (let i = 0; i < 15000; i++) {
      const n = next(a.length), t = 1 + next(6);
      assert.equal(lib!.sb_stream_sum(a, BigInt(n), t, 4, 0), prefix[n], `call ${i}: n=${n} threads=${t}`);
    }
  },
});

Deno.test({
  name: "native library: closing every handle does not unload it (its worker threads live in it)",
  ignore: !lib,
  fn() {
    // a private copy, so that this test's handles are its only ones
    const dir = Deno.makeTempDirSync(), path = `${dir}/libsubbit_copy.so`;
    Deno.copyFileSync(libraryPath(nativeVariant() as Variant), path);
    const open = () => Deno.dlopen(path, { sb_tuning: { parameters: ["i32"], result: "i32" } });
    try {
      const first = open();
      first.symbols.sb_tuning(1);
      first.close();
      const again = open();
      assert.equal(again.symbols.sb_tuning(-1), 1, "the library was unloaded and its state re-initialised");
      again.close();
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "coded_ternary: a corrupt or truncated chunk is an error naming the chunk and byte offset, never a crash",
  ignore: !lib,
  fn() {
    const rows = 40, cols = 200;
    const w = { name: "w", rows, cols, data: seededGaussian(rows * cols, 3, 0.05) };
    const k = cGemv("coded_ternary", lib!), p = k.prepare(kernelCodes("coded_ternary", w));
    if (p.kernel !== "coded_ternary") throw new Error(`prepared ${p.kernel}`);
    assert.equal(p.chunkOff.length, Math.ceil(rows / 16) + 1);
    const x = seededGaussian(cols, 4, 1), y = new Float32Array(rows);
    k.run(p, x, y, 1); // intact
    const bad = { ...p, coded: p.coded.slice() };
    bad.coded[Number(p.chunkOff[1])] = 1; // a chunk stream's first byte is always 0
    assert.throws(() => k.run(bad, x, y, 1, 2), /corrupt stream in chunk 1 \(byte offset \d+\)/);
    const cut = { ...p, chunkOff: p.chunkOff.slice() };
    cut.chunkOff[2] = cut.chunkOff[1] + 3n; // chunk 1 cut to 3 bytes
    assert.throws(() => k.run(cut, x, y, 1), /truncated stream in chunk 1/);
    fc.assert(
      fc.property(fc.nat(p.coded.length - 1), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const noisy = { ...p, coded: p.coded.slice() };
        noisy.coded[at] ^= flip;
        try {
          k.run(noisy, x, y, 1); // a flip may decode to other symbols: only no crash, no hang
        } catch (e) {
          assert.match(String(e), /coded_ternary: (corrupt|truncated) stream in chunk \d+/);
        }
      }),
      { numRuns: 200 },
    );
  },
});
