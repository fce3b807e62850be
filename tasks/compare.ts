/** deno task compare DIR DIR… — several sweep runs side by side (a frame, a chart, a report). */
import { parseFlags, runMain } from "../lib/cli/main.ts";
import { makeComparison } from "../lib/plot/compare_report.ts";

const HELP = `deno task compare RUN_DIR RUN_DIR… [--out DIR]

Matches the runs' rows by config id — or, when the runs share none, by the config without its
transforms (hqq.b2.g64.f16 against hqq.b2.g64.f16+gptq) — and writes into DIR:
  compare.parquet  one row per (run, layer, config): run, run_dir, model, match, layer, layer_kind,
                   config_id, params, bits_per_param, rel_error, out_rel_error, delta_bpb
  compare.svg/png  per matched config, each layer's error (delta_bpb when every run measured it, else
                   out_rel_error, else rel_error), one bar per run
  index.html       the chart and a per-run table, self-contained
Runs that share no config are refused, naming what each holds.

  --out DIR   output folder (default results/compare-<time>)
  -h, --help`;

/** Compare `dirs` into `out` (default results/compare-<time>) and say where. */
export async function compareMain(dirs: string[], out?: string): Promise<void> {
  const dir = out ?? `results/compare-${new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "")}`;
  const r = await makeComparison(dirs, dir);
  console.error(
    `${r.rows} rows of ${dirs.length} runs -> ${dir}/ (${r.files.map((f) => f.split("/").pop()).join(", ")})`,
  );
}

async function main(): Promise<void> {
  const { values: f, positionals } = parseFlags(
    Deno.args,
    {
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    true,
    { positionalPaths: true },
  );
  if (f.help) return console.log(HELP);
  await compareMain(positionals, f.out);
}

if (import.meta.main) await runMain("compare", main);
