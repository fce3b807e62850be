/** deno task sweep — quantize every selected layer with every config of a grid; rows → results/<run-id>/. */
import { parseFlags, parseNumberList, runMain } from "../lib/cli/main.ts";
import { InputError } from "../lib/errors.ts";
import { parseActivations } from "../lib/model/neox.ts";
import { GRIDS, loadGrid, parseGroupSize } from "../lib/sweep/grid.ts";
import { runSweep } from "../lib/sweep/run.ts";
import { formatSummary, summarizeByKind } from "../lib/sweep/summary.ts";
import type { ScaleDtype } from "../lib/quant/types.ts";
import { QUANTIZERS } from "../lib/quant/mod.ts";
import { CODERS, DEFAULT_CODERS } from "../lib/coding/mod.ts";

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
  --threshold X        rel_error threshold of the summary table (default 0.1)
  --quiet              no progress output
  -h, --help           this text

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

async function main(): Promise<void> {
  const { values: f } = parseFlags(Deno.args, {
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
    threshold: { type: "string", default: "0.1" },
    quiet: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (f.help) {
    console.log(HELP);
    return;
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
  const threshold = Number(f.threshold);
  if (!(threshold > 0)) throw new InputError(`--threshold: '${f.threshold}' is not a positive number`);
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
    argv: ["deno", "task", "sweep", ...Deno.args],
    coders: f["no-coding"] ? null : f.coders?.split(",").map((s) => s.trim()),
    kernels: !f["no-kernels"],
    calibText,
    evalText,
    activations,
  });
  console.error(`\n${formatSummary(summarizeByKind(res.rows, threshold), threshold)}\n`);
  console.error(
    `${res.rows.length} rows (${res.manifest.layers.length} layers x ${res.manifest.config_ids.length} configs) -> ${outDir}/rows.parquet`,
  );
}

if (import.meta.main) await runMain("sweep", main);
