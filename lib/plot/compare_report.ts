/** Several runs side by side: DIR/compare.parquet, the compare chart (SVG, PNG) and DIR/index.html. */
import { InputError } from "../errors.ts";
import { COMPARE_COLUMNS, compareRuns, runLabels } from "../results/compare.ts";
import { readRowRecords, rowsToFrame, writeParquetAtomic } from "../results/frame.ts";
import type { Row } from "../results/schema.ts";
import { htmlReport } from "./report.ts";
import { svgToPng, toSvg } from "./render.ts";
import { compareChart } from "./specs.ts";

export async function makeComparison(dirs: string[], out: string): Promise<{ files: string[]; rows: number }> {
  const labels = runLabels(dirs);
  const runs = dirs.map((dir, i) => {
    let rows: Row[];
    try {
      rows = readRowRecords(`${dir}/rows.parquet`);
    } catch (e) {
      throw new InputError(`${dir}/rows.parquet: cannot read (${(e as Error).message.split("\n")[0]})`);
    }
    return { label: labels[i], dir, rows };
  });
  const { rows, match, shared } = compareRuns(runs);
  await Deno.mkdir(out, { recursive: true });
  const files = [`${out}/compare.parquet`];
  await writeParquetAtomic(rowsToFrame(rows, COMPARE_COLUMNS), files[0]);
  const chart = compareChart(rows);
  const svg = await toSvg(chart.spec);
  await Deno.writeTextFile(`${out}/compare.svg`, svg);
  await Deno.writeFile(`${out}/compare.png`, svgToPng(svg));
  // per run and matched config: parameter-weighted bits/param and the runs' error measures
  const table = runs.flatMap((run) =>
    shared.map((key) => {
      const rs = rows.filter((r) => r.run === run.label && r.match === key);
      const params = rs.reduce((s, r) => s + Number(r.params), 0);
      const mean = (c: string) =>
        rs.every((r) => r[c] !== null) && rs.length
          ? rs.reduce((s, r) => s + Number(r[c]) * Number(r.params), 0) / params
          : null;
      return [run.label, key, rs.length, params ? mean("bits_per_param") : null, mean("rel_error"), mean("delta_bpb")];
    })
  );
  const html = await htmlReport(`subbit: ${labels.join(" vs ")}`, [chart], [{
    title: `Per run and config (${match === "config_id" ? "same config ids" : "configs matched without transforms"})`,
    columns: ["run", "config", "layers", "bits/param", "rel_error (param-weighted)", "delta_bpb (param-weighted mean)"],
    rows: table,
  }], Object.fromEntries(runs.map((r) => [r.label, r.dir])));
  await Deno.writeTextFile(`${out}/index.html`, html);
  files.push(`${out}/compare.svg`, `${out}/compare.png`, `${out}/index.html`);
  return { files, rows: rows.length };
}
