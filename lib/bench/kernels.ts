/**
 * Kernel benchmark: the machine's read bandwidth measured first (streaming sum
 * over ≥ 1 GiB, 1 and N threads, the fastest of several read patterns), then every GEMV kernel per shape, batch and
 * thread count, with weights DRAM-resident: each timed pass rotates through
 * enough copies of the prepared weights to exceed the last-level cache.
 * Reported: ms per GEMV, GB/s of weight bytes read, the fraction of the measured
 * bandwidth, and the speedup over the fp32 kernel measured in the same run. The
 * bandwidth a kernel row is compared with (`bw_gbps`) is the median of streaming-sum
 * passes run between that row's own timed passes, so both see the same moment of a
 * shared host's memory system; the ≥ 1 GiB figure from the start is `bw_gbps_start`.
 * The WGSL kernels run on the WebGPU adapter, when there is one, against that
 * adapter's own measured bandwidth; they carry the adapter's name and no
 * speedup over the CPU's fp32 kernel (a different device).
 */
import { kernelCodes } from "../sweep/kernel_codes.ts";
import { cpuModel } from "../results/environment.ts";
import { seededGaussian } from "../random.ts";
import {
  type KernelName,
  KERNELS,
  type PreparedWeights,
  prepareWeights,
  sparseColumnsBelow,
  type WeightCodes,
} from "../kernels/formats.ts";
import { cGemv, type SyncGemvKernel } from "../kernels/gemv.ts";
import { GGML_PEER_TYPES, type GgmlPeer, type GgmlPeerType, openGgmlPeer } from "../kernels/ggml_peer.ts";
import { ensureNative, type NativeLib } from "../kernels/native.ts";
import { alignedArray, alignedWeights } from "../kernels/aligned.ts";
import { type GpuWeights, WEBGPU_KERNELS, type WebGpuKernelName, WebGpuRunner } from "../kernels/webgpu.ts";
import { median, quantile } from "../metrics/quantile.ts";
import { type BenchRecord, emit, table } from "./report.ts";
import { alignedUintB, cUintBGemv } from "../kernels/uint_b.ts";
import { quantizeWeight } from "../quant/transforms.ts";
import type { QuantConfig, WeightMatrix } from "../quant/types.ts";

/** The last-level cache's size: sysfs's largest cache of CPU 0, else 32 MiB. */
export function llcBytes(): number {
  let best = 0;
  for (let i = 0; i < 8; i++) {
    try {
      const text = Deno.readTextFileSync(`/sys/devices/system/cpu/cpu0/cache/index${i}/size`).trim();
      const m = /^(\d+)([KMG]?)$/.exec(text);
      if (m) best = Math.max(best, Number(m[1]) * ({ "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 }[m[2]] ?? 1));
    } catch {
      break;
    }
  }
  return best > 0 ? best : 32 * 2 ** 20;
}

export const LLC_BYTES = llcBytes();

/** Size of the streaming-sum pass run between a kernel's timed passes (4× the LLC). */
export const PROBE_NEAR_BYTES = 4 * LLC_BYTES;

/** A read pattern of the streaming-sum probe: concurrent streams per thread, software prefetch distance. */
export interface ProbePattern {
  streams: number;
  prefetch: number;
}

/** The patterns tried: which reads fastest depends on the machine (measured: Zen 5 4 streams 8 KB ahead,
 * Ice Lake-SP 12 streams and no software prefetch, 15.7 GB/s against 14.8 with 8 and 13.6 with 4), and the
 * bandwidth a kernel is compared with should be the best this core can read, not one pattern's: with only 4 or 8
 * streams, base-3 reading 6 rows at once measured `bw_fraction` 1.1 on the Intel host. */
export const PROBE_PATTERNS: readonly ProbePattern[] = [4, 8, 12, 16].flatMap((streams) =>
  [0, 2048, 8192].map((prefetch) => ({ streams, prefetch }))
);

/** GB/s of one streaming-sum pass over `a`. */
function streamGbps(lib: NativeLib, a: Float32Array, threads: number, p: ProbePattern): number {
  const t0 = performance.now();
  lib.sb_stream_sum(a, BigInt(a.length), threads, p.streams, p.prefetch);
  return a.byteLength / (performance.now() - t0) / 1e6;
}

/**
 * The probes beside the kernels read two buffers in turn. One buffer, read after every pass, was partly still in the
 * last-level cache from its read one pass before: in the same run (rounds alternating one buffer and two; Zen 5,
 * batch 1, one thread, 2026-12-07) it read 0–4 % faster beside passes that fill the cache and 4–6 % beside
 * ternary2's non-temporal prefetches, which leave it alone. Two buffers read 0.98–1.05 × as fast as three (medians
 * 1.003 and 1.012 in two such runs): what may be left is about 1 %, in the kernels' disfavour.
 */
class NearProbe {
  private readonly buffers: Float32Array[];
  private next = 0;

  constructor(readonly bytes: number = PROBE_NEAR_BYTES, readonly count = 2) {
    this.buffers = Array.from({ length: count }, () => alignedArray(Float32Array, bytes / 4).fill(1));
  }

  /** GB/s of one streaming-sum pass over the buffer read least recently. */
  gbps(lib: NativeLib, threads: number, pattern: ProbePattern): number {
    const a = this.buffers[this.next];
    this.next = (this.next + 1) % this.count;
    return streamGbps(lib, a, threads, pattern);
  }
}

/** The machine's read bandwidth over `gib` GiB with `threads` threads: the fastest of two passes of every probe
 * pattern, and that pattern (the one the bench's probes beside each kernel then use). */
export function measureBandwidth(
  lib: NativeLib,
  threads: number,
  gib = 1,
): { gbps: number; pattern: ProbePattern } {
  const a = alignedArray(Float32Array, (gib * 2 ** 30) / 4).fill(1);
  lib.sb_stream_sum(a, BigInt(a.length), threads, 4, 0); // warm: page faults
  let best = { gbps: 0, pattern: PROBE_PATTERNS[0] };
  for (let pass = 0; pass < 2; pass++) {
    for (const pattern of PROBE_PATTERNS) {
      const gbps = streamGbps(lib, a, threads, pattern);
      if (gbps > best.gbps) best = { gbps, pattern };
    }
  }
  return best;
}

/** The quartiles of `peer[k] / own[k]` over the passes both made (pass k of each: the same round and rep, a few ms
 * apart): how far this host's drift moves the ratio whose medians give `vs_peer`. */
export function pairedRatioQuartiles(peer: number[], own: number[]): { q1: number; q3: number } {
  const ratios = own.slice(0, peer.length).map((ms, k) => peer[k] / ms);
  return { q1: quantile(ratios, 0.25), q3: quantile(ratios, 0.75) };
}

export interface KernelBenchOptions {
  shapes: [number, number][];
  batches: number[];
  threads: number[];
  sparsities: number[];
  /** subbit's kernels; "uint_b" times the 2-, 3-, 4- and 8-bit uniform kernel (groups of UINT_B_BENCH_GROUP). */
  kernels: BenchKernel[];
  /** Timed passes per variant and round (the median over all of them is reported). */
  reps: number;
  /** Rounds over all variants of a shape, batch and thread count (coded_ternary: one). */
  rounds: number;
  backends: ("c" | "webgpu")[];
  /** Other libraries' kernels timed beside subbit's, in the same rounds: "ggml" (llama.cpp's CPU kernels). */
  peers: "ggml"[];
}

type Variant = { kernel: KernelName; sparsity: number | null };

/** The kernels the bench can time: the f32-prepared formats and uint_b (prepared from a quantizer's codes). */
export type BenchKernel = KernelName | "uint_b" | "klevel5";
export const BENCH_KERNELS: readonly BenchKernel[] = [...KERNELS, "uint_b", "klevel5"];
/** klevel5's bench weights: sparse_klevel's 5 levels at 80 % zeros, groups of 64 (the default grid's). */
export const KLEVEL5_BENCH: QuantConfig = {
  method: "sparse_klevel",
  levels: 5,
  sparsity: 0.8,
  groupSize: 64,
  scaleDtype: "f16",
};
/** uint_b's bench weights: rtn_asym codes at these bits, groups of 128 columns (rtn_asym: fast to quantize; hqq's
 * codes run the same kernel with other offsets). */
export const UINT_B_BENCH_BITS = [2, 3, 4, 8] as const;
export const UINT_B_BENCH_GROUP = 128;

/** sparse_ternary at every sparsity; coded_ternary dense and at 90 % zeros; the rest once (uint_b: separately). */
function variantsOf(kernels: BenchKernel[], sparsities: number[]): Variant[] {
  return kernels.filter((k): k is KernelName => k !== "uint_b" && k !== "klevel5").flatMap((kernel): Variant[] => {
    if (kernel === "sparse_ternary") return sparsities.map((sparsity) => ({ kernel, sparsity }));
    if (kernel === "coded_ternary") return [{ kernel, sparsity: null }, { kernel, sparsity: 0.9 }];
    return [{ kernel, sparsity: null }];
  });
}

const benchWeights = (rows: number, cols: number) => ({
  name: "bench",
  rows,
  cols,
  data: seededGaussian(rows * cols, rows + cols, 0.02),
});

/** How many copies of `bytes` of weights together exceed 4× the LLC (at most 64). */
const copiesFor = (bytes: number) => Math.min(64, Math.ceil((4 * LLC_BYTES) / bytes));

export async function benchKernels(o: KernelBenchOptions): Promise<BenchRecord[]> {
  const out: BenchRecord[] = [];
  if (o.backends.includes("c")) out.push(...await benchC(o));
  if (o.backends.includes("webgpu")) out.push(...await benchWebGpu(o));
  table(out.filter((r) => r.kernel !== "stream_sum"), [
    "backend",
    "kernel",
    "rows",
    "cols",
    "batch",
    "threads",
    "sparsity",
    "bits",
    "ms",
    "gbps",
    "bw_fraction",
    "speedup_vs_fp32",
    ...(o.peers.length ? ["peer", "vs_peer"] : []),
  ]);
  for (const r of out.filter((r) => r.kernel === "stream_sum")) {
    console.error(
      `bandwidth (${r.backend}, ${r.adapter}, ${r.threads ?? "-"} thread(s)): ${Number(r.bw_gbps).toFixed(1)} GB/s`,
    );
  }
  const peers = peerSummary(out);
  if (peers) console.error(peers);
  return out;
}

/** One line on the subbit rows that carry `vs_peer`: in how many subbit was faster, and the lowest vs_peer; null when
 * none carries it. */
export function peerSummary(records: BenchRecord[]): string | null {
  const paired = records.filter((r) => r.peer === null && typeof r.vs_peer === "number");
  if (!paired.length) return null;
  const faster = paired.filter((r) => Number(r.vs_peer) > 1).length;
  const clear = paired.filter((r) => typeof r.vs_peer_q1 === "number" && r.vs_peer_q1 > 1).length;
  const worst = paired.reduce((a, b) => Number(b.vs_peer) < Number(a.vs_peer) ? b : a);
  return `vs ggml: subbit faster in ${faster} of ${paired.length} pairs (${clear} with vs_peer_q1 > 1: faster in ` +
    `three passes of four); lowest vs_peer: ${worst.kernel} ` +
    `${worst.rows}×${worst.cols}, batch ${worst.batch}, ${worst.threads} thread(s), ${
      Number(worst.vs_peer).toFixed(2)
    }×`;
}

/** ggml's kernels timed after each subbit kernel (--peers ggml), the first of each list its vs_peer counterpart. */
export const GGML_PEERS: Partial<Record<string, GgmlPeerType[]>> = {
  fp32: ["f32"],
  int8: ["q8_0", "q4_0"],
  ternary2: ["tq2_0", "q2_K"],
  ternary_base3: ["tq1_0"],
  "uint_b.b2": ["q2_K"],
  "uint_b.b3": ["q3_K"],
  "uint_b.b4": ["q4_0"],
  "uint_b.b8": ["q8_0"],
};

/** One timed entry of a round: a subbit kernel variant, or a ggml peer after its subbit counterpart. */
interface Timed {
  kernel: string;
  /** uint_b's bits a code (null for the other kernels). */
  bits: number | null;
  sparsity: number | null;
  peer: GgmlPeerType | null;
  /** The subbit kernel a peer follows (its vs_peer counterpart when first in GGML_PEERS): a kernel, or uint_b.b<bits>. */
  after: string;
  bytes: number;
  copies: number;
  layout: string | null;
  warm(x: Float32Array, y: Float32Array, batch: number, threads: number): void;
  /** One pass over every copy; returns ms per GEMV and (peers) the activation conversion's ms per GEMV. */
  pass(x: Float32Array, y: Float32Array, batch: number, threads: number): { ms: number; actMs: number | null };
}

function subbitTimed(v: Variant & { kern: SyncGemvKernel; copies: PreparedWeights[]; first: PreparedWeights }): Timed {
  const runAll = (x: Float32Array, y: Float32Array, batch: number, threads: number) => {
    for (const c of v.copies) v.kern.run(c, x, y, batch, threads);
  };
  return {
    kernel: v.kernel,
    bits: null,
    sparsity: v.sparsity,
    peer: null,
    after: v.kernel,
    bytes: v.first.bytes,
    copies: v.copies.length,
    // sparse_ternary's layout at this sparsity and batch (formats.ts: "columns" when very sparse), else null
    layout: v.first.kernel === "sparse_ternary" ? v.first.layout : null,
    warm: runAll,
    pass(x, y, batch, threads) {
      const t0 = performance.now();
      runAll(x, y, batch, threads);
      return { ms: (performance.now() - t0) / v.copies.length, actMs: null };
    },
  };
}

/**
 * A packed-code kernel prepared from a quantizer's Quantized of the bench weights (uint_b: rtn_asym at `bits`,
 * groups of UINT_B_BENCH_GROUP; klevel5: KLEVEL5_BENCH in 3 bits); DRAM copies of packed + metadata.
 */
function packedTimed(lib: NativeLib, w: WeightMatrix, kernel: "uint_b" | "klevel5", bits: number): Timed {
  const c: QuantConfig = kernel === "klevel5"
    ? KLEVEL5_BENCH
    : { method: "rtn_asym", bits, groupSize: UINT_B_BENCH_GROUP, scaleDtype: "f16" };
  const q = quantizeWeight(w, c);
  const k = cUintBGemv(lib), first = k.prepare(q, w.rows, w.cols, bits, c.groupSize);
  const copies = Array.from({ length: copiesFor(first.bytes) }, () => alignedUintB(first, true));
  const runAll = (x: Float32Array, y: Float32Array, batch: number, threads: number) => {
    for (const c of copies) k.run(c, x, y, batch, threads);
  };
  return {
    kernel,
    bits,
    sparsity: kernel === "klevel5" ? KLEVEL5_BENCH.sparsity! : null,
    peer: null,
    after: kernel === "klevel5" ? kernel : `uint_b.b${bits}`,
    bytes: first.bytes,
    copies: copies.length,
    layout: null,
    warm: runAll,
    pass(x, y, batch, threads) {
      const t0 = performance.now();
      runAll(x, y, batch, threads);
      return { ms: (performance.now() - t0) / copies.length, actMs: null };
    },
  };
}

function peerTimed(
  peer: GgmlPeer,
  type: GgmlPeerType,
  after: string,
  w: { rows: number; cols: number; data: Float32Array },
): Timed {
  const first = peer.prepare(type, w.rows, w.cols, w.data);
  const copies = Array.from({ length: copiesFor(first.bytes) }, () => peer.copy(first));
  return {
    kernel: type,
    bits: null,
    sparsity: null,
    peer: type,
    after,
    bytes: first.bytes,
    copies: copies.length,
    layout: null,
    warm(x, y, batch, threads) {
      for (const c of copies) peer.run(c, x, y, batch, threads);
    },
    pass(x, y, batch, threads) {
      let act = 0;
      const t0 = performance.now();
      for (const c of copies) act += peer.run(c, x, y, batch, threads).actMs;
      return { ms: (performance.now() - t0) / copies.length, actMs: act / copies.length };
    },
  };
}

async function benchC(o: KernelBenchOptions): Promise<BenchRecord[]> {
  const lib = await ensureNative();
  if (!lib) throw new Error("the C kernels are not built (deno task build:kernels)");
  const cpu = cpuModel();
  const peer = o.peers.includes("ggml") ? openGgmlPeer(lib) : null;
  const bw = new Map<number, { gbps: number; pattern: ProbePattern }>();
  const out: BenchRecord[] = [];
  const probe = new NearProbe();
  for (const t of o.threads) {
    const m = measureBandwidth(lib, t);
    bw.set(t, m);
    const r: BenchRecord = {
      backend: "c",
      adapter: cpu,
      kernel: "stream_sum",
      threads: t,
      bw_gbps: m.gbps,
      probe_streams: m.pattern.streams,
      probe_prefetch: m.pattern.prefetch,
      llc_bytes: LLC_BYTES,
      probe_bytes: probe.bytes,
      probe_buffers: probe.count,
    };
    emit(r);
    out.push(r);
  }
  for (const [rows, cols] of o.shapes) {
    const w = benchWeights(rows, cols);
    // every variant's DRAM copies prepared up front, so that the rounds below can visit them in turn
    // each variant's codes, quantized once per shape (sparse_ternary is prepared again per batch from the same codes)
    const codeCache = new Map<string, WeightCodes>();
    const codesOf = (v: Variant) => {
      const key = `${v.kernel}/${v.sparsity}`;
      if (!codeCache.has(key)) codeCache.set(key, kernelCodes(v.kernel, w, v.sparsity ?? undefined));
      return codeCache.get(key)!;
    };
    const prepareVariant = (v: Variant, batch: number) => {
      const kern = cGemv(v.kernel, lib);
      const first = kern.prepare(codesOf(v), { batch });
      // copies of the prepared weights (each on whole huge pages; the prepared ones not among them), together
      // larger than 4× the LLC; decoding is compute-bound (~5 ns a weight): enough copies to pass the LLC once,
      // not four times
      const need = v.kernel === "coded_ternary" ? Math.ceil(LLC_BYTES / first.bytes) + 1 : copiesFor(first.bytes);
      const copies: PreparedWeights[] = Array.from({ length: need }, () => alignedWeights(first, true));
      return { ...v, kern, first, copies, batch };
    };
    const variants = variantsOf(o.kernels, o.sparsities).map((v) => prepareVariant(v, o.batches[0]));
    // each subbit variant, then (--peers ggml) ggml's kernels for the same job, in the order the rounds visit them
    const timed: Timed[] = [];
    const slot: number[] = [];
    const withPeers = (t: Timed) => {
      timed.push(t);
      if (peer && t.sparsity === null) {
        for (const type of GGML_PEERS[t.after] ?? []) {
          if (cols % GGML_PEER_TYPES[type].block === 0) timed.push(peerTimed(peer, type, t.after, w));
        }
      }
    };
    variants.forEach((v, i) => {
      slot[i] = timed.length;
      withPeers(subbitTimed(v));
    });
    if (o.kernels.includes("uint_b")) {
      for (const bits of UINT_B_BENCH_BITS) withPeers(packedTimed(lib, w, "uint_b", bits));
    }
    if (o.kernels.includes("klevel5")) withPeers(packedTimed(lib, w, "klevel5", 3));
    for (const batch of o.batches) {
      // sparse_ternary's layout depends on the tokens per call (formats.ts sparseColumnsBelow): prepared again for
      // this batch where its threshold differs from the one the weights were prepared for
      variants.forEach((v, i) => {
        if (v.kernel === "sparse_ternary" && sparseColumnsBelow(batch) !== sparseColumnsBelow(v.batch)) {
          variants[i] = prepareVariant(v, batch);
          timed[slot[i]] = subbitTimed(variants[i]);
        }
      });
      const x = seededGaussian(batch * cols, 7, 1), y = new Float32Array(batch * rows);
      for (const threads of o.threads) {
        const times = timed.map(() => [] as number[]), bws = timed.map(() => [] as number[]);
        const acts = timed.map(() => [] as number[]);
        // rounds visit every variant in turn (this host's speed drifts over minutes: a variant measured in one
        // stretch can land in a slow one); within a round, each rep is one pass over the copies followed by one
        // streaming-sum pass (same threads), so the bandwidth a kernel is compared with is measured next to it
        for (let round = 0; round < o.rounds; round++) {
          timed.forEach((v, i) => {
            if (v.kernel === "coded_ternary" && round > 0) return; // ~1000× slower than memory: one round
            if (round === 0) v.warm(x, y, batch, threads);
            for (let rep = 0; rep < o.reps; rep++) {
              const p = v.pass(x, y, batch, threads);
              times[i].push(p.ms);
              if (p.actMs !== null) acts[i].push(p.actMs);
              bws[i].push(probe.gbps(lib, threads, bw.get(threads)!.pattern));
            }
          });
        }
        const fp32 = timed.findIndex((v) => v.kernel === "fp32");
        const fp32Ms = fp32 >= 0 ? median(times[fp32]) : null;
        const int8At = timed.findIndex((v) => v.kernel === "int8" && v.peer === null);
        const int8Of = int8At >= 0 ? { ms: median(times[int8At]), bytes: timed[int8At].bytes } : null;
        /** The index in `timed` of the peer `type` timed after the subbit kernel `after`, or -1. */
        const peerAt = (type: string, after: string) => timed.findIndex((v) => v.peer === type && v.after === after);
        timed.forEach((v, i) => {
          const ms = median(times[i]), bwNear = median(bws[i]), gbps = v.bytes / ms / 1e6;
          const counterpart = v.peer === null && v.sparsity === null ? GGML_PEERS[v.after]?.[0] : undefined;
          const peerI = counterpart ? peerAt(counterpart, v.after) : -1;
          const peerMs = peerI >= 0 ? median(times[peerI]) : null;
          const spread = peerI >= 0 ? pairedRatioQuartiles(times[peerI], times[i]) : null;
          const r: BenchRecord = {
            backend: "c",
            adapter: cpu,
            kernel: v.kernel,
            rows,
            cols,
            batch,
            threads,
            sparsity: v.sparsity,
            ...(v.bits === null ? {} : {
              bits: v.bits,
              group_size: v.kernel === "klevel5" ? KLEVEL5_BENCH.groupSize : UINT_B_BENCH_GROUP,
            }),
            // klevel5's target: faster than int8 by ≥ 0.8 × the ratio of their bytes (same run, same shape)
            ...(v.kernel === "klevel5" && int8Of !== null
              ? { vs_int8: int8Of.ms / ms, int8_byte_ratio: int8Of.bytes / v.bytes }
              : {}),
            ms,
            gbps,
            bw_gbps: bwNear,
            bw_fraction: gbps / bwNear,
            speedup_vs_fp32: fp32Ms === null ? null : fp32Ms / ms,
            bw_gbps_start: bw.get(threads)!.gbps,
            weight_bytes: v.bytes,
            copies: v.copies,
            passes: times[i].length,
            sparse_layout: v.layout,
            ...(peer
              ? v.peer
                ? {
                  peer: "ggml",
                  peer_of: v.after,
                  ggml_version: peer.version,
                  ggml_variant: peer.variant,
                  act_ms: median(acts[i]),
                }
                : {
                  peer: null,
                  peer_kernel: counterpart ?? null,
                  vs_peer: peerMs === null ? null : peerMs / ms,
                  vs_peer_q1: spread?.q1 ?? null,
                  vs_peer_q3: spread?.q3 ?? null,
                }
              : {}),
          };
          emit(r);
          out.push(r);
        });
      }
    }
  }
  return out;
}

async function benchWebGpu(o: KernelBenchOptions): Promise<BenchRecord[]> {
  const gpu = await WebGpuRunner.open();
  if (!gpu) {
    console.error("bench kernels: no WebGPU adapter (install mesa-vulkan-drivers for llvmpipe); webgpu skipped");
    return [];
  }
  const out: BenchRecord[] = [];
  const base = { backend: "webgpu", adapter: gpu.adapterName, fallback_adapter: gpu.isFallbackAdapter };
  const bw = await gpu.measureBandwidth();
  const probe: BenchRecord = { ...base, kernel: "stream_sum", threads: null, bw_gbps: bw };
  emit(probe);
  out.push(probe);
  try {
    for (const [rows, cols] of o.shapes) {
      const w = benchWeights(rows, cols);
      for (const v of variantsOf(o.kernels, o.sparsities)) {
        if (!WEBGPU_KERNELS.includes(v.kernel as WebGpuKernelName)) continue;
        const p = prepareWeights(v.kernel, kernelCodes(v.kernel, w, v.sparsity ?? undefined));
        const copies: GpuWeights[] = Array.from({ length: copiesFor(p.bytes) }, () => gpu.upload(p));
        for (const batch of o.batches) {
          const x = seededGaussian(batch * cols, 7, 1);
          const times: number[] = [];
          for (let rep = 0; rep < Math.min(o.reps, 3); rep++) times.push(await gpu.timeGemv(copies, x, batch, 2));
          const ms = median(times), gbps = p.bytes / ms / 1e6;
          const r: BenchRecord = {
            ...base,
            kernel: v.kernel,
            rows,
            cols,
            batch,
            threads: null,
            sparsity: v.sparsity,
            ms,
            gbps,
            bw_gbps: bw,
            bw_fraction: gbps / bw,
            speedup_vs_fp32: null, // no fp32 WGSL kernel; the CPU's fp32 is another device
            weight_bytes: p.bytes,
            copies: copies.length,
            timing: "wall clock of one submit (dispatch overhead included)",
          };
          emit(r);
          out.push(r);
        }
        for (const c of copies) gpu.release(c);
      }
    }
  } finally {
    gpu.destroy();
  }
  return out;
}

export const DEFAULT_KERNEL_BENCH: KernelBenchOptions = {
  shapes: [[4096, 4096], [11008, 4096], [4096, 11008]],
  batches: [1, 8],
  threads: [1, navigator.hardwareConcurrency || 1].filter((v, i, a) => a.indexOf(v) === i),
  sparsities: [0.5, 0.8, 0.9, 0.95, 0.98, 0.99],
  kernels: [...BENCH_KERNELS],
  reps: 5,
  rounds: 3,
  backends: ["c", "webgpu"],
  peers: [],
};
