/**
 * One run's charts and report: RUN/plots/*.svg, *.png, summary.csv and a
 * self-contained index.html; an allocate folder's budget chart and
 * sensitivity heatmap.
 */
import { InputError } from "../errors.ts";
import { readRowRecords, readRows } from "../results/frame.ts";
import type { Row } from "../results/schema.ts";
import { liveStatus } from "../sweep/run_state.ts";
import { formatSummary, summarizeByKind, summaryCsv, type SummaryOptions } from "../sweep/summary.ts";
import { htmlReport } from "./report.ts";
import { svgToPng, toSvg } from "./render.ts";
import { budgetChart, type Chart, heatmapChart, levelHistogramChart, paretoChart } from "./specs.ts";

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

/** allocate.jsonl of a folder: one object per budget ([] when absent). */
async function readAllocateLines(run: string): Promise<Record<string, unknown>[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${run}/allocate.jsonl`);
  } catch {
    return [];
  }
  return text.trim().split("\n").filter(Boolean).map((l, i) => {
    try {
      return JSON.parse(l);
    } catch {
      throw new InputError(`${run}/allocate.jsonl: line ${i + 1} is not JSON`);
    }
  });
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** Write each chart as SVG and PNG into dir; the files written. */
export async function renderCharts(charts: Chart[], dir: string): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const c of charts) {
    const svg = await toSvg(c.spec);
    await Deno.writeTextFile(`${dir}/${c.name}.svg`, svg);
    await Deno.writeFile(`${dir}/${c.name}.png`, svgToPng(svg));
    files.push(`${dir}/${c.name}.svg`, `${dir}/${c.name}.png`);
  }
  return files;
}

/** An allocate folder without sweep rows: the bpb-vs-budget chart and the sensitivity heatmap (Δbpb). */
async function makeAllocatePlots(run: string, alloc: Record<string, unknown>[]): Promise<{ files: string[] }> {
  const charts: Chart[] = [budgetChart(alloc)!];
  if (await exists(`${run}/sensitivity.parquet`)) {
    const sens = readRowRecords(`${run}/sensitivity.parquet`).map((r) => ({ ...r, bits_per_param: r.bits }));
    if (sens.length) charts.push(heatmapChart(sens));
  }
  const dir = `${run}/plots`;
  const files = await renderCharts(charts, dir);
  const html = await htmlReport(`subbit allocation ${run}`, charts, [{
    title: "Plans per budget",
    columns: ["budget", "bits/param", "bpb measured", "bpb predicted", "best uniform config", "its bpb"],
    rows: alloc.map((a) =>
      [a.budget, a.bits_per_param, a.bpb_measured, a.bpb_predicted, a.best_uniform_config, a.best_uniform_bpb].map((
        v,
      ) => (v ?? null) as string | number | null)
    ),
  }], { folder: run });
  await Deno.writeTextFile(`${dir}/index.html`, html);
  return { files: [...files, `${dir}/index.html`] };
}

export async function makePlots(run: string, opts: SummaryOptions = {}): Promise<{ files: string[] }> {
  const alloc = await readAllocateLines(run);
  if (!(await exists(`${run}/rows.parquet`)) && alloc.length) return await makeAllocatePlots(run, alloc);
  let rows: Row[];
  try {
    rows = readRows(`${run}/rows.parquet`).toRecords() as Row[];
  } catch (e) {
    throw new InputError(`${run}/rows.parquet: cannot read: ${(e as Error).message.split("\n")[0]}`);
  }
  if (!rows.length) throw new InputError(`${run}/rows.parquet has no rows`);
  const charts = [paretoChart(rows), heatmapChart(rows), levelHistogramChart(rows), budgetChart(alloc)].filter((
    c,
  ): c is Chart => c !== null);
  const dir = `${run}/plots`;
  const files = await renderCharts(charts, dir);
  const summary = summarizeByKind(rows, opts);
  await Deno.writeTextFile(`${dir}/summary.csv`, summaryCsv(summary));
  files.push(`${dir}/summary.csv`);
  let manifest: Record<string, unknown> = {};
  try {
    manifest = JSON.parse(await Deno.readTextFile(`${run}/manifest.json`));
  } catch { /* optional */ }
  // a killed sweep's manifest still says "running": its report says what it is (interrupted, rows so far)
  const status = manifest.status ? liveStatus(manifest as { status: string }) : "unknown";
  if (status !== "complete") console.error(`plots: ${run} is ${status} — charts of the ${rows.length} rows so far`);
  const html = await htmlReport(
    `subbit run ${manifest.run_id ?? run}`,
    charts,
    [{
      title: "Cheapest config per layer kind with every layer within the criterion",
      columns: ["layer_kind", "layers", "criterion", "best config", "bits/param", "worst layer"],
      rows: summary.map((
        s,
      ) => [
        s.layer_kind,
        s.layers,
        `${s.criterion} ≤ ${s.threshold}`,
        s.best_config ?? "(none)",
        s.bits_per_param,
        s.max_value,
      ]),
    }],
    {
      status,
      model: String((manifest.model as Record<string, unknown>)?.path ?? ""),
      grid: String(manifest.grid_name ?? ""),
      rows: String(rows.length),
      seed: String(manifest.seed ?? ""),
      git: String((manifest.environment as Record<string, unknown>)?.git_commit ?? ""),
    },
    status === "complete"
      ? undefined
      : `This run is ${status}: the charts show the ${rows.length} rows written so far.`,
  );
  await Deno.writeTextFile(`${dir}/index.html`, html);
  files.push(`${dir}/index.html`);
  console.error(formatSummary(summary));
  return { files };
}
