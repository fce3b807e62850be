/** deno task sweep — quantize every selected layer with every config of a grid; rows → results/<run-id>/. */
import { parseFlags, parseNumberList, runMain } from "../lib/cli/main.ts";
import { InputError } from "../lib/errors.ts";
import { GRIDS, loadGrid, parseGroupSize } from "../lib/sweep/grid.ts";
import { runSweep } from "../lib/sweep/run.ts";
import { formatSummary, summarizeByKind } from "../lib/sweep/summary.ts";
import type { ScaleDtype } from "../lib/quant/types.ts";
import { QUANTIZERS } from "../lib/quant/mod.ts";
import { CODERS } from "../lib/coding/mod.ts";

export const DEFAULT_MODEL = "models/neox-tiny";

const HELP = `deno task sweep [flags]

Quantize every selected 2-D weight of a model with every config of a grid and
write one row per (layer, config) to <out>/rows.parquet with <out>/manifest.json.

  --model PATH         model folder (config.json + *.safetensors) or .safetensors/.gguf file
                       (default ${DEFAULT_MODEL}, the embedded reference model)
  --grid NAME|FILE     named grid (${Object.keys(GRIDS).join(", ")}) or a JSON file with the keys
                       methods, bits, levels, sparsity, group_sizes, scale_dtypes, layers (default: default)
  --layers GLOBS       comma list of globs over tensor names, e.g. 'gpt_neox.layers.*.mlp.*'
  --methods IDS        comma list of method ids (${[...QUANTIZERS.keys()].join(", ")}); overrides the grid
  --bits LIST          e.g. 2,3,4                       (overrides the grid)
  --levels LIST        e.g. 3,5                         (overrides the grid)
  --sparsity LIST      e.g. 0.8,0.9                     (overrides the grid)
  --group-sizes LIST   numbers, 'row' or 'tensor'       (overrides the grid)
  --scale-dtypes LIST  f16, bf16, fp8_e4m3, q8g128      (overrides the grid)
  --coders LIST        symbol models to try per layer, the smallest wins
                       (default all: ${[...CODERS.keys()].join(", ")})
  --no-coding          skip entropy coding: bits_per_param from packed bits + metadata
  --no-kernels         skip the per-layer kernel latency columns (kernel, gemv_us)
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
    coders: { type: "string" },
    "no-coding": { type: "boolean", default: false },
    "no-kernels": { type: "boolean", default: false },
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
  const seed = Number(f.seed);
  if (!Number.isSafeInteger(seed)) throw new InputError(`--seed: '${f.seed}' is not an integer`);
  const threshold = Number(f.threshold);
  if (!(threshold > 0)) throw new InputError(`--threshold: '${f.threshold}' is not a positive number`);
  const gridName = GRIDS[f.grid!] ? f.grid! : `file:${f.grid}`;
  const runId = f.out
    ? f.out.replace(/\/+$/, "").split("/").pop()!
    : runIdNow(f.grid!.split("/").pop()!.replace(/\.json$/, ""));
  const outDir = f.out ?? `results/${runId}`;
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
  });
  console.error(`\n${formatSummary(summarizeByKind(res.rows, threshold), threshold)}\n`);
  console.error(
    `${res.rows.length} rows (${res.manifest.layers.length} layers x ${res.manifest.config_ids.length} configs) -> ${outDir}/rows.parquet`,
  );
}

if (import.meta.main) await runMain("sweep", main);
