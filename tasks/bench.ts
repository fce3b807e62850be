/** deno task bench <suite> — benchmarks: one JSON object per line on stdout, a table on stderr. */
import { benchCoder } from "../lib/bench/coder.ts";
import { benchEval } from "../lib/bench/eval.ts";
import {
  BENCH_KERNELS,
  type BenchKernel,
  benchKernels,
  DEFAULT_KERNEL_BENCH,
  type KernelBenchOptions,
} from "../lib/bench/kernels.ts";
import { emit } from "../lib/bench/report.ts";
import { runEnvironment } from "../lib/results/environment.ts";
import { benchQuant } from "../lib/bench/quant.ts";
import { DEFAULT_MODEL } from "./sweep.ts";
import { parseFlags, runMain } from "../lib/cli/main.ts";
import { InputError } from "../lib/errors.ts";

const SUITES = ["quant", "coder", "eval", "kernels"];

const HELP = `deno task bench <suite> [flags]

Suites:
  quant    quantizer throughput (M params/s) per method on a rows x cols f32 tensor,
           beside a memory-streaming baseline (read pass, copy) measured in the same run
  coder    per layer of a model: entropy, coded size, zstd -19 / xz -9e sizes, and
           TS / C / zstd decode speeds (needs Debian zstd and xz-utils)
  kernels  measured read bandwidth, then every GEMV kernel (fp32, int8, ternary2,
           ternary_base3, sparse_ternary, coded_ternary) at 4096x4096, 11008x4096, 4096x11008,
           batch 1 and 8, 1 and N threads, weights DRAM-resident; bw_fraction against
           streaming-sum passes run between each row's own (two buffers of 4x the LLC in turn)
  eval     fp32 held-out eval by subbit and by PyTorch (when /usr/bin/python3 has torch),
           same windows, one run

Flags:
  --rows N     (default 4096)
  --cols N     (default 4096)
  --reps N     repetitions, median reported (default 5; kernels suite: per variant and round)
  --rounds N   kernels suite: rounds over all variants of a shape, batch and thread count,
               the median over every round's passes reported (default 3; coded_ternary: 1)
  --seed N     seed of the random tensor (default 0)
  --model PATH model for the coder suite (default ${DEFAULT_MODEL})
  --layers G   layer globs for the coder suite (default every 2-D weight)
  --bytes N    eval suite: first N bytes of val.txt (default all)
  --shapes L   kernels suite: e.g. 4096x4096,1024x1024 (default the three above)
  --kernels L  kernels suite: a subset, e.g. fp32,ternary2,coded_ternary (default all)
  --batches L  kernels suite: tokens per GEMV, each 1–16 (default 1,8); sparse_ternary is
               prepared for each batch (its layout, recorded as sparse_layout, depends on it)
  --threads L  kernels suite: thread counts (default 1 and the machine's cores)
  --sparsities L kernels suite: zero fractions sparse_ternary runs at
               (default 0.5,0.8,0.9,0.95,0.98,0.99; ternary2's time does not depend on them)
  --backends L kernels suite: c, webgpu or c,webgpu (default both; webgpu runs the WGSL
               int8/ternary2/ternary_base3 kernels on the first adapter, reported by name;
               on a software adapter such as llvmpipe that part alone takes ~15 min)
  --peers L    kernels suite: ggml — after each C kernel, llama.cpp's ggml kernel for the same
               job (same shape, batch, threads, DRAM rotation and rounds; npm's
               @node-llama-cpp/linux-x64, the CPU variant llama.cpp would pick): f32 after fp32,
               q8_0 and q4_0 after int8, tq2_0 and q2_K after ternary2, tq1_0 after
               ternary_base3. Peer rows carry peer: "ggml", ggml_version, ggml_variant and act_ms
               (ggml's activation conversion, inside ms); subbit rows gain vs_peer = peer ms /
               subbit ms against fp32↔f32, int8↔q8_0, ternary2↔tq2_0, ternary_base3↔tq1_0,
               and vs_peer_q1 / vs_peer_q3, the quartiles of the pass-by-pass ratios
  -h, --help`;

/** The kernels suite's options from its flags, checked before anything is written. */
function kernelBenchOptions(
  f: Partial<
    Record<
      "shapes" | "backends" | "kernels" | "sparsities" | "batches" | "threads" | "rounds" | "reps" | "peers",
      string
    >
  >,
  int: (name: string, v: string) => number,
): KernelBenchOptions {
  const shapes = f.shapes
    ? f.shapes.split(",").map((s) => {
      const m = s.trim().match(/^(\d+)x(\d+)$/);
      if (!m) throw new InputError(`--shapes: '${s}' is not ROWSxCOLS`);
      return [Number(m[1]), Number(m[2])] as [number, number];
    })
    : DEFAULT_KERNEL_BENCH.shapes;
  const backends = (f.backends ?? "c,webgpu").split(",").map((b) => b.trim());
  for (const b of backends) {
    if (b !== "c" && b !== "webgpu") throw new InputError(`--backends: '${b}' is not c or webgpu`);
  }
  const kernels = f.kernels ? f.kernels.split(",").map((k) => k.trim()) : DEFAULT_KERNEL_BENCH.kernels;
  for (const k of kernels) {
    if (!(BENCH_KERNELS as readonly string[]).includes(k)) {
      throw new InputError(`--kernels: '${k}' is not one of ${BENCH_KERNELS.join(", ")}`);
    }
  }
  const sparsities = f.sparsities
    ? f.sparsities.split(",").map((v) => {
      const x = Number(v.trim());
      if (!(x >= 0 && x < 1)) throw new InputError(`--sparsities: '${v}' is not a zero fraction in [0, 1)`);
      return x;
    })
    : DEFAULT_KERNEL_BENCH.sparsities;
  const list = (name: string, v: string, max: number) =>
    v.split(",").map((item) => {
      const n = Number(item.trim());
      if (!Number.isInteger(n) || n < 1 || n > max) {
        throw new InputError(`--${name}: '${item}' is not an integer in 1…${max}`);
      }
      return n;
    });
  const peers = f.peers ? f.peers.split(",").map((p) => p.trim()) : [];
  for (const p of peers) if (p !== "ggml") throw new InputError(`--peers: '${p}' is not a known peer (ggml)`);
  return {
    ...DEFAULT_KERNEL_BENCH,
    peers: peers as "ggml"[],
    batches: f.batches ? list("batches", f.batches, 16) : DEFAULT_KERNEL_BENCH.batches,
    threads: f.threads ? list("threads", f.threads, 64) : DEFAULT_KERNEL_BENCH.threads,
    kernels: kernels as BenchKernel[],
    sparsities,
    rounds: int("rounds", f.rounds!),
    shapes,
    reps: int("reps", f.reps!),
    backends: backends as ("c" | "webgpu")[],
  };
}

async function main(): Promise<void> {
  const { values: f, positionals } = parseFlags(Deno.args, {
    rows: { type: "string", default: "4096" },
    cols: { type: "string", default: "4096" },
    reps: { type: "string", default: "5" },
    seed: { type: "string", default: "0" },
    model: { type: "string", default: DEFAULT_MODEL },
    layers: { type: "string" },
    bytes: { type: "string" },
    shapes: { type: "string" },
    backends: { type: "string" },
    kernels: { type: "string" },
    sparsities: { type: "string" },
    batches: { type: "string" },
    threads: { type: "string" },
    peers: { type: "string" },
    rounds: { type: "string", default: String(DEFAULT_KERNEL_BENCH.rounds) },
    help: { type: "boolean", short: "h", default: false },
  }, true);
  if (f.help || positionals.length === 0) {
    console.log(HELP);
    if (!f.help) Deno.exit(2);
    return;
  }
  const int = (name: string, v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InputError(`--${name}: '${v}' is not a positive integer`);
    return n;
  };
  const suite = positionals[0];
  if (!SUITES.includes(suite)) throw new InputError(`unknown suite '${suite}' (one of ${SUITES.join(", ")})`);
  const kernelOptions = suite === "kernels" ? kernelBenchOptions(f, int) : null;
  // first line of every suite's output: where, when and with what it ran (versions, commit, CPU, arguments)
  emit({
    record: "environment",
    suite,
    argv: Deno.args.join(" "),
    started_at: new Date().toISOString(),
    ...await runEnvironment(),
  });
  if (suite === "quant") {
    benchQuant({
      rows: int("rows", f.rows!),
      cols: int("cols", f.cols!),
      reps: int("reps", f.reps!),
      seed: Number(f.seed),
    });
  } else if (suite === "coder") {
    await benchCoder({ model: f.model!, layers: f.layers });
  } else if (suite === "eval") {
    await benchEval({ model: f.model!, bytes: f.bytes ? int("bytes", f.bytes) : null });
  } else {
    await benchKernels(kernelOptions!);
  }
}

if (import.meta.main) await runMain("bench", main);
