/** deno task plots [results/<run>] — charts (SVG + PNG) and a self-contained HTML report for a sweep run. */
import { parseFlags, runMain } from "../lib/cli/main.ts";
import { InputError } from "../lib/errors.ts";
import { makePlots, newestRun } from "../lib/plot/run_report.ts";
import { parseCriterion, parseThreshold } from "../lib/sweep/summary.ts";
import { compareMain } from "./compare.ts";

const HELP = `deno task plots [RUN_DIR…] [--criterion C] [--threshold X] [--out DIR]

Reads RUN_DIR/rows.parquet (default: the newest run folder under results/) and writes
RUN_DIR/plots/*.svg, *.png, summary.csv and index.html (charts interactive, everything
inlined: opens offline). Allocator output (allocate.jsonl in RUN_DIR) adds a bpb-vs-budget chart;
an allocate folder alone (allocate.jsonl, sensitivity.parquet) gets that chart and its sensitivity heatmap.
Several RUN_DIRs are compared side by side, as deno task compare does (into --out).

  --criterion C   what the summary ranks configs by: delta_bpb, out_rel_error or rel_error
                  (default: the first of these the run measured)
  --threshold X   the criterion's limit for every layer of a kind (default 0.01 for delta_bpb, else 0.1)
  --out DIR       with several runs: the comparison's folder (default results/compare-<time>)
  -h, --help`;

async function main(): Promise<void> {
  const { values: f, positionals } = parseFlags(
    Deno.args,
    {
      threshold: { type: "string" },
      criterion: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    true,
    { positionalPaths: true },
  );
  if (f.help) return console.log(HELP);
  if (positionals.length > 1) return await compareMain(positionals, f.out);
  if (f.out !== undefined) {
    throw new InputError("--out applies to several runs (a comparison); one run's plots go to RUN_DIR/plots");
  }
  const run = positionals[0] ?? (await newestRun());
  const opts = { criterion: parseCriterion(f.criterion), threshold: parseThreshold(f.threshold) };
  const { files } = await makePlots(run, opts);
  console.error(`${files.length} files -> ${run}/plots/`);
}

if (import.meta.main) await runMain("plots", main);
