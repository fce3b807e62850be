/** deno task plots [results/<run>] — charts (SVG + PNG) and a self-contained HTML report for a sweep run. */
import { liveStatus } from "../lib/sweep/run_state.ts";
import { parseFlags, runMain } from "../lib/cli/main.ts";
import { InputError } from "../lib/errors.ts";
import { htmlReport } from "../lib/plot/report.ts";
import { svgToPng, toSvg } from "../lib/plot/render.ts";
import { budgetChart, type Chart, heatmapChart, levelHistogramChart, paretoChart } from "../lib/plot/specs.ts";
import { readRows } from "../lib/results/frame.ts";
import { formatSummary, summarizeByKind } from "../lib/sweep/summary.ts";
import type { Row } from "../lib/results/schema.ts";

const HELP = `deno task plots [RUN_DIR] [--threshold X]

Reads RUN_DIR/rows.parquet (default: the newest run folder under results/) and writes
RUN_DIR/plots/*.svg, *.png and RUN_DIR/plots/index.html (charts interactive, everything
inlined: opens offline). Allocator output (allocate.jsonl in RUN_DIR) adds a bpb-vs-budget chart.

  --threshold X   rel_error threshold of the summary table (default 0.1)
  -h, --help`;

/** The newest folder under results/ that holds rows.parquet. */
export async function newestRun(root = "results"): Promise<string> {
  let best: { path: string; t: number } | null = null;
  try {
    for await (const e of Deno.readDir(root)) {
      if (!e.isDirectory) continue;
      try {
        const st = await Deno.stat(`${root}/${e.name}/rows.parquet`);
        const t = st.mtime?.getTime() ?? 0;
        if (!best || t > best.t) best = { path: `${root}/${e.name}`, t };
      } catch { /* not a run */ }
    }
  } catch { /* no results/ */ }
  if (!best) {
    throw new InputError(`no run folder with rows.parquet under ${root}/ (run deno task sweep first, or give RUN_DIR)`);
  }
  return best.path;
}

export async function makePlots(run: string, threshold = 0.1): Promise<{ files: string[] }> {
  let rows: Row[];
  try {
    rows = readRows(`${run}/rows.parquet`).toRecords() as Row[];
  } catch (e) {
    throw new InputError(`${run}/rows.parquet: cannot read: ${(e as Error).message.split("\n")[0]}`);
  }
  if (!rows.length) throw new InputError(`${run}/rows.parquet has no rows`);
  let alloc: Record<string, unknown>[] = [];
  try {
    alloc = (await Deno.readTextFile(`${run}/allocate.jsonl`)).trim().split("\n").filter(Boolean).map((l) =>
      JSON.parse(l)
    );
  } catch { /* no allocator output */ }
  const charts = [paretoChart(rows), heatmapChart(rows), levelHistogramChart(rows), budgetChart(alloc)].filter((
    c,
  ): c is Chart => c !== null);
  const dir = `${run}/plots`;
  await Deno.mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const c of charts) {
    const svg = await toSvg(c.spec);
    await Deno.writeTextFile(`${dir}/${c.name}.svg`, svg);
    await Deno.writeFile(`${dir}/${c.name}.png`, svgToPng(svg));
    files.push(`${dir}/${c.name}.svg`, `${dir}/${c.name}.png`);
  }
  const summary = summarizeByKind(rows, threshold);
  let manifest: Record<string, unknown> = {};
  try {
    manifest = JSON.parse(await Deno.readTextFile(`${run}/manifest.json`));
  } catch { /* optional */ }
  // a killed sweep's manifest still says "running": its report says what it is (interrupted, rows so far)
  const status = manifest.status ? liveStatus(manifest as { status: string }) : "unknown";
  if (status !== "complete") console.error(`plots: ${run} is ${status} — charts of the ${rows.length} rows so far`);
  const html = await htmlReport(`subbit run ${manifest.run_id ?? run}`, charts, [{
    title: `Cheapest config per layer kind with every layer's rel_error ≤ ${threshold}`,
    columns: ["layer_kind", "layers", "best config", "bits/param", "max rel_error"],
    rows: summary.map((s) => [s.layer_kind, s.layers, s.best_config ?? "(none)", s.bits_per_param, s.max_rel_error]),
  }], {
    status,
    model: String((manifest.model as Record<string, unknown>)?.path ?? ""),
    grid: String(manifest.grid_name ?? ""),
    rows: String(rows.length),
    seed: String(manifest.seed ?? ""),
    git: String((manifest.environment as Record<string, unknown>)?.git_commit ?? ""),
  });
  await Deno.writeTextFile(`${dir}/index.html`, html);
  files.push(`${dir}/index.html`);
  console.error(formatSummary(summary, threshold));
  return { files };
}

async function main(): Promise<void> {
  const { values: f, positionals } = parseFlags(Deno.args, {
    threshold: { type: "string", default: "0.1" },
    help: { type: "boolean", short: "h", default: false },
  }, true);
  if (f.help) return console.log(HELP);
  const run = positionals[0] ?? (await newestRun());
  const { files } = await makePlots(run, Number(f.threshold));
  console.error(`${files.length} files -> ${run}/plots/`);
}

if (import.meta.main) await runMain("plots", main);
