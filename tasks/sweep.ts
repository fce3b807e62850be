/** deno task sweep — quantize every selected layer with every config of a grid; rows → results/<run-id>/. */
import { parseFlags, parseNumberList, partitionFlags, runMain } from "../lib/cli/main.ts";
import { resolve } from "node:path";
import { InputError } from "../lib/errors.ts";
import { parseActivations } from "../lib/model/neox.ts";
import { GRIDS, loadGrid } from "../lib/sweep/grid.ts";
import { parseGroupSize } from "../lib/quant/config_id.ts";
import { prepareOutDir, readManifest, runSweep } from "../lib/sweep/run.ts";
import { mergeShards } from "../lib/sweep/merge.ts";
import { liveStatus } from "../lib/sweep/run_state.ts";
import { parseShard } from "../lib/sweep/shard.ts";
import {
  formatSummary,
  parseCriterion,
  parseThreshold,
  summarizeByKind,
  summaryCsv,
  type SummaryOptions,
} from "../lib/sweep/summary.ts";
import type { ScaleDtype } from "../lib/quant/types.ts";
import { QUANTIZERS } from "../lib/quant/mod.ts";
import { CODERS, DEFAULT_CODERS } from "../lib/coding/mod.ts";
import { readRowRecords, writeTextAtomic } from "../lib/results/frame.ts";
import type { Row } from "../lib/results/schema.ts";

export const DEFAULT_MODEL = "models/neox-tiny";

const HELP = `deno task sweep [flags]

Quantize every selected 2-D weight of a model with every config of a grid and
write one row per (layer, config) to <out>/rows.parquet with <out>/manifest.json.

  --model PATH         model folder (config.json + *.safetensors) or .safetensors/.gguf file
                       (default ${DEFAULT_MODEL}, the embedded reference model)
  --grid NAME|FILE     named grid (${Object.keys(GRIDS).join(", ")}) or a JSON file with the keys
                       methods, bits, levels, sparsity, group_sizes, scale_dtypes, transforms, layers
                       (default: default)
  --layers GLOBS       comma list of globs over tensor names, e.g. 'gpt_neox.layers.*.mlp.*'
  --methods IDS        comma list of method ids (${[...QUANTIZERS.keys()].join(", ")}); overrides the grid
  --bits LIST          e.g. 2,3,4                       (overrides the grid)
  --levels LIST        e.g. 3,5                         (overrides the grid)
  --sparsity LIST      e.g. 0.8,0.9                     (overrides the grid)
  --group-sizes LIST   numbers, 'row' or 'tensor'       (overrides the grid)
  --scale-dtypes LIST  f16, bf16, fp8_e4m3, q8g128      (overrides the grid)
  --transforms LIST    transform chains per config, in the order had, gptq, lr<r>: none, gptq,
                       had+gptq, gptq+lr8 … (e.g. none,gptq,had+gptq); +gptq and +lr<r> use the
                       calibration inputs' Hessian (+gptq: f16/bf16 scales); +had rotates the input dimension
  --coders LIST        symbol models to try per layer, the smallest wins
                       (default: ${DEFAULT_CODERS.join(", ")};
                       also: ${[...CODERS.keys()].filter((c) => !DEFAULT_CODERS.includes(c)).join(", ")})
  --no-coding          skip entropy coding: bits_per_param from packed bits + metadata
  --no-kernels         skip the per-layer kernel latency columns (kernel, gemv_us)
  --calib FILE         calibration text for out_rel_error and +gptq (default <model>/calib.txt when present)
  --calib-bytes N      use its first N bytes (default 4096: 16 windows of the reference model)
  --no-calib           skip out_rel_error
  --eval               add delta_bpb: held-out bpb with only that layer quantized (one eval per row)
  --eval-bytes N       held-out slice for --eval, from <model>/val.txt (default 4096)
  --activations A      with --eval: fp32 (default) or int8 — the forward pass quantizes every linear
                       layer's input per token (absmax/127) before its matmul (the W×A8 model)
  --seed N             seed for every random choice (default 0)
  --out DIR            run folder (default results/<run-id>)
  --overwrite          replace the rows of an existing run folder
  --resume DIR         continue an interrupted (killed, failed) run in DIR: its own flags are read from its
                       manifest (flags given here must not change the model, grid, seed, layers or inputs),
                       every (layer, config) it already holds is kept and the rest measured
  --shard i/n          measure shard i (0 ≤ i < n) of the (layer, config) items — every machine computes
                       the same split, balanced by estimated cost; combine with deno task merge
  --workers N          run N shards as local processes (DIR/shards/shard-i) and merge them into DIR
  --criterion C        what the summary ranks configs by: delta_bpb (default when --eval measured it),
                       out_rel_error (default with calibration), else rel_error
  --threshold X        the criterion's limit for every layer of a kind (default 0.01 bpb for delta_bpb,
                       0.1 for the relative errors); the summary goes to stderr and DIR/summary.csv
  --quiet              no progress output
  -h, --help           this text

Rows and manifest are committed after every layer (temp file, fsync, rename): a run killed at any moment
keeps every finished layer, reads as "interrupted" and continues with --resume.

Exit codes: 0 done, 2 bad input (one line names the problem), 1 internal failure.`;

function runIdNow(grid: string): string {
  const iso = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
  return `${iso}-${grid.replace(/[^A-Za-z0-9_-]/g, "_").slice(-32)}`;
}

/** Read a file; a missing file is an error only when `required`. */
async function readOptional(path: string, required: boolean): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(path);
  } catch {
    if (required) throw new InputError(`${path}: cannot read`);
    return undefined;
  }
}

/** The flags this command takes (main parses them twice on --resume: the run's own, then these over them). */
export const FLAGS = {
  model: { type: "string", default: DEFAULT_MODEL },
  grid: { type: "string", default: "default" },
  layers: { type: "string" },
  methods: { type: "string" },
  bits: { type: "string" },
  levels: { type: "string" },
  sparsity: { type: "string" },
  "group-sizes": { type: "string" },
  "scale-dtypes": { type: "string" },
  transforms: { type: "string" },
  coders: { type: "string" },
  "no-coding": { type: "boolean", default: false },
  "no-kernels": { type: "boolean", default: false },
  calib: { type: "string" },
  "calib-bytes": { type: "string", default: "4096" },
  "no-calib": { type: "boolean", default: false },
  eval: { type: "boolean", default: false },
  "eval-bytes": { type: "string", default: "4096" },
  activations: { type: "string" },
  seed: { type: "string", default: "0" },
  out: { type: "string" },
  overwrite: { type: "boolean", default: false },
  threshold: { type: "string" },
  criterion: { type: "string" },
  quiet: { type: "boolean", default: false },
  resume: { type: "string" },
  shard: { type: "string" },
  workers: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** Flags that say where and how to run, not what is measured (never carried over by --resume). */
const RUN_FLAGS = new Set(["out", "overwrite", "resume", "workers", "quiet"]);

/** argv without the given flags (and their values). */
function withoutFlags(argv: string[], drop: Set<string>): string[] {
  return partitionFlags(argv, (name) => drop.has(name), FLAGS).rest;
}

async function main(): Promise<void> {
  let argv = Deno.args;
  let { values: f } = parseFlags(argv, FLAGS);
  if (f.help) {
    console.log(HELP);
    return;
  }
  if (f.resume !== undefined) {
    if (f.out !== undefined || f.overwrite || f.workers) {
      throw new InputError("--resume DIR continues DIR: no --out, --overwrite or --workers with it");
    }
    const m = await readManifest(f.resume);
    const own = withoutFlags(m.argv.slice(3), RUN_FLAGS);
    argv = [...own, ...withoutFlags(Deno.args, new Set(["resume"])), "--out", f.resume];
    f = { ...parseFlags(argv, FLAGS).values, resume: f.resume };
    if (liveStatus(m) === "complete") {
      console.error(`sweep: ${f.resume} is complete (${m.rows} rows); nothing to resume`);
      return;
    }
  }
  const grid = await loadGrid(f.grid!);
  if (f.methods) grid.methods = f.methods.split(",").map((s) => s.trim()).filter(Boolean);
  if (f.bits) grid.bits = parseNumberList("bits", f.bits);
  if (f.levels) grid.levels = parseNumberList("levels", f.levels);
  if (f.sparsity) grid.sparsity = parseNumberList("sparsity", f.sparsity);
  if (f["group-sizes"]) grid.group_sizes = f["group-sizes"].split(",").map(parseGroupSize);
  if (f["scale-dtypes"]) grid.scale_dtypes = f["scale-dtypes"].split(",").map((s) => s.trim()) as ScaleDtype[];
  if (f.transforms) grid.transforms = f.transforms.split(",").map((s) => s.trim());
  const seed = Number(f.seed);
  if (!Number.isSafeInteger(seed)) throw new InputError(`--seed: '${f.seed}' is not an integer`);
  const summaryOpts = { criterion: parseCriterion(f.criterion), threshold: parseThreshold(f.threshold) };
  const gridName = GRIDS[f.grid!] ? f.grid! : `file:${f.grid}`;
  const runId = f.out
    ? f.out.replace(/\/+$/, "").split("/").pop()!
    : runIdNow(f.grid!.split("/").pop()!.replace(/\.json$/, ""));
  const outDir = f.out ?? `results/${runId}`;
  const calibBytes = Number(f["calib-bytes"]);
  if (!Number.isInteger(calibBytes) || calibBytes < 2) {
    throw new InputError(`--calib-bytes: '${f["calib-bytes"]}' is not an integer ≥ 2`);
  }
  const calibText = f["no-calib"]
    ? undefined
    : (await readOptional(f.calib ?? `${f.model}/calib.txt`, f.calib !== undefined))?.subarray(0, calibBytes);
  const activations = parseActivations(f.activations);
  if (f.activations !== undefined && !f.eval) {
    throw new InputError("--activations applies to --eval's delta_bpb: add --eval");
  }
  let evalText: Uint8Array | undefined;
  if (f.eval) {
    const n = Number(f["eval-bytes"]);
    if (!Number.isInteger(n) || n < 2) throw new InputError(`--eval-bytes: '${f["eval-bytes"]}' is not an integer ≥ 2`);
    evalText = (await readOptional(`${f.model}/val.txt`, true))!.subarray(0, n);
  }
  const shard = f.shard === undefined ? undefined : parseShard(f.shard);
  if (f.workers !== undefined) {
    const n = Number(f.workers);
    if (!Number.isInteger(n) || n < 1 || n > 256) throw new InputError(`--workers: '${f.workers}' is not 1…256`);
    if (shard) throw new InputError("--workers runs its own shards: no --shard with it");
    await runWorkers(n, outDir, runId, f.overwrite!, f.quiet!);
    return await writeSummary(outDir, readRowRecords(`${outDir}/rows.parquet`), summaryOpts);
  }
  const res = await runSweep({
    model: f.model!,
    grid,
    gridName,
    layers: f.layers,
    seed,
    outDir,
    runId,
    quiet: f.quiet,
    overwrite: f.overwrite,
    argv: ["deno", "task", "sweep", ...argv],
    resume: f.resume !== undefined,
    shard,
    coders: f["no-coding"] ? null : f.coders?.split(",").map((s) => s.trim()),
    kernels: !f["no-kernels"],
    calibText,
    evalText,
    activations,
  });
  await writeSummary(outDir, res.rows, summaryOpts);
  console.error(
    `${res.rows.length} rows (${
      shard ? `shard ${shard.index}/${shard.count} of ` : ""
    }${res.manifest.layers.length} layers x ${res.manifest.config_ids.length} configs) -> ${
      resolve(outDir)
    }/rows.parquet`,
  );
}

/**
 * --workers N: the same sweep as N local shard processes (DIR/shards/shard-i, each its own resumable run), then
 * merged into DIR — the rows one process would write.
 */
async function runWorkers(n: number, outDir: string, runId: string, overwrite: boolean, quiet: boolean) {
  await prepareOutDir(outDir, overwrite);
  const own = withoutFlags(Deno.args, RUN_FLAGS);
  const dirs = Array.from({ length: n }, (_, i) => `${outDir}/shards/shard-${i}`);
  if (!quiet) console.error(`sweep: ${n} workers → ${outDir}/shards/`);
  const script = new URL(import.meta.url).pathname;
  const codes = await Promise.all(dirs.map(async (dir, i) => {
    const args = ["run", "-A", script, ...own, "--shard", `${i}/${n}`, "--out", dir, "--quiet"];
    if (overwrite) args.push("--overwrite");
    const p = new Deno.Command(Deno.execPath(), { args, stdin: "null", stdout: "null", stderr: "piped" }).spawn();
    const out = await p.output();
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").pop() ?? "";
    if (!quiet) console.error(`sweep: worker ${i}/${n} ${out.success ? "done" : `failed (exit ${out.code}): ${err}`}`);
    return out.code;
  }));
  const failed = codes.flatMap((c, i) => c === 0 ? [] : [i]);
  if (failed.length) {
    throw new InputError(
      `worker(s) ${
        failed.join(", ")
      } of ${n} failed; continue each with deno task sweep --resume ${outDir}/shards/shard-<i>, then deno task merge ${outDir}/shards/shard-* --out ${outDir}`,
    );
  }
  const r = await mergeShards(dirs, outDir, {
    overwrite: true,
    runId,
    argv: ["deno", "task", "sweep", ...Deno.args],
  });
  console.error(`${r.rows} rows from ${n} workers -> ${resolve(outDir)}/rows.parquet`);
}

/** The summary, to stderr and DIR/summary.csv. */
async function writeSummary(outDir: string, rows: Row[], opts: SummaryOptions): Promise<void> {
  const summary = summarizeByKind(rows, opts);
  await writeTextAtomic(`${outDir}/summary.csv`, summaryCsv(summary));
  console.error(`\nCheapest config per layer kind (-> ${resolve(outDir)}/summary.csv)\n${formatSummary(summary)}\n`);
}

if (import.meta.main) await runMain("sweep", main);
