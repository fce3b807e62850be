/** Benchmark output convention: one JSON object per line on stdout, a readable table on stderr. */

import { median } from "../metrics/quantile.ts";

export type BenchRecord = Record<string, string | number | boolean | null>;

/** Print one result as a JSON line (stdout). */
export function emit(rec: BenchRecord): void {
  console.log(JSON.stringify(rec));
}

/** Print records as an aligned table (stderr). */
export function table(records: BenchRecord[], columns: string[]): void {
  const cell = (v: unknown) =>
    typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v ?? "");
  const rows = records.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padStart(widths[i])).join("  ");
  console.error([fmt(columns), ...rows.map(fmt)].join("\n"));
}

/** Median wall time (ms) of `fn` over `reps` runs after one warm-up. */
export function medianMs(fn: () => void, reps: number): number {
  fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}
