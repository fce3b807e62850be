/**
 * A self-contained HTML report: every chart interactive through vega-embed,
 * with vega, vega-lite and vega-embed inlined so the file opens offline from
 * disk, plus the run's summary tables.
 */
import type { Chart } from "./specs.ts";
import { CHART_CONFIG } from "./render.ts";

const ROOT = new URL("../../node_modules/", import.meta.url);

async function lib(path: string): Promise<string> {
  // "</script" inside an inlined library would end the tag early
  return (await Deno.readTextFile(new URL(path, ROOT))).replaceAll("</script", "<\\/script");
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

export interface ReportTable {
  title: string;
  columns: string[];
  rows: (string | number | null)[][];
}

export async function htmlReport(
  title: string,
  charts: Chart[],
  tables: ReportTable[],
  meta: Record<string, string>,
  /** A line shown above everything (e.g. that the run is interrupted). */
  banner?: string,
): Promise<string> {
  const scripts = await Promise.all(
    ["vega/build/vega.min.js", "vega-lite/build/vega-lite.min.js", "vega-embed/build/vega-embed.min.js"].map(lib),
  );
  const fmt = (
    v: string | number | null,
  ) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : esc(String(v ?? "")));
  const tableHtml = tables.map((t) =>
    `<h2>${esc(t.title)}</h2><table><thead><tr>${
      t.columns.map((c) => `<th>${esc(c)}</th>`).join("")
    }</tr></thead><tbody>${
      t.rows.map((r) => `<tr>${r.map((v) => `<td>${fmt(v)}</td>`).join("")}</tr>`).join("")
    }</tbody></table>`
  ).join("\n");
  const specs = charts.map((c) => ({
    id: `chart-${c.name}`,
    spec: { ...c.spec, config: { ...CHART_CONFIG, ...(c.spec.config ?? {}) } },
  }));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:"DejaVu Sans",sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}th{background:#f3f3f3}.chart{margin:1.5em 0}
.banner{background:#fff3cd;border:1px solid #e0b400;padding:8px 12px;font-weight:bold}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:13px}</style>
${scripts.map((s) => `<script>${s}</script>`).join("\n")}
</head><body>
${banner ? `<p class="banner">${esc(banner)}</p>\n` : ""}<h1>${esc(title)}</h1>
<dl>${Object.entries(meta).map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>
${charts.map((c) => `<h2>${esc(c.title)}</h2><div class="chart" id="chart-${c.name}"></div>`).join("\n")}
${tableHtml}
<script>
const SPECS = ${JSON.stringify(specs)};
for (const s of SPECS) vegaEmbed("#" + s.id, s.spec, { actions: false, renderer: "svg" }).catch((e) => console.error(e));
</script>
</body></html>
`;
}
