/**
 * Rich display for the Deno Jupyter kernel: objects whose
 * [Symbol.for("Jupyter.display")]() returns a MIME bundle render as such
 * when they are a cell's last expression.
 */
import type pl from "nodejs-polars";
import { toSvg } from "./render.ts";
import type { Chart } from "./specs.ts";

export type MimeBundle = Record<string, string>;
export interface Displayable {
  [key: symbol]: () => MimeBundle;
}

function displayable(bundle: MimeBundle): Displayable {
  return { [Symbol.for("Jupyter.display")]: () => bundle };
}

function esc(s: string): string {
  return s.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]!);
}

/** A Polars frame as an HTML table (plus its text form). */
export function showFrame(df: pl.DataFrame, digits = 4): Displayable {
  const recs = df.toRecords() as Record<string, unknown>[];
  const cell = (v: unknown) =>
    typeof v === "number" && !Number.isInteger(v)
      ? v.toPrecision(digits)
      : esc(Array.isArray(v) ? JSON.stringify(v) : String(v));
  const html = `<table><thead><tr>${df.columns.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>${
    recs.map((r) => `<tr>${df.columns.map((c) => `<td>${cell(r[c])}</td>`).join("")}</tr>`).join("")
  }</tbody></table>`;
  return displayable({ "text/html": html, "text/plain": df.toString() });
}

/** A chart (from specs.ts) rendered to SVG — static, so it survives headless execution and nbconvert. */
export async function showChart(chart: Chart): Promise<Displayable> {
  return displayable({ "image/svg+xml": await toSvg(chart.spec), "text/plain": `[chart: ${chart.title}]` });
}
