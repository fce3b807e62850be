/**
 * Runs side by side: the rows of several sweep runs (other models, other
 * transforms) matched by config, as one long frame with a `run` column.
 */
import { InputError } from "../errors.ts";
import { type Column, type Row, ROW_COLUMNS } from "./schema.ts";

export interface RunRows {
  /** A short name for the run (its folder's name, made unique). */
  label: string;
  dir: string;
  rows: Row[];
}

/** How rows of different runs are matched: the same config id, or the same config without its transforms. */
export type MatchKey = "config_id" | "base_config";

/** The row columns a comparison keeps, as the row schema defines them. */
const KEPT = [
  "layer",
  "layer_kind",
  "config_id",
  "params",
  "bits_per_param",
  "rel_error",
  "out_rel_error",
  "delta_bpb",
];
const rowColumn = (name: string) => ROW_COLUMNS.find((c) => c.name === name)!;

export const COMPARE_COLUMNS: readonly Column[] = [
  { name: "run", type: "str", doc: "the run's label (its folder name)" },
  { name: "run_dir", type: "str", doc: "the run folder" },
  rowColumn("model"),
  { name: "match", type: "str", doc: "what rows are matched on: the config id (or it without its +transforms)" },
  ...KEPT.map(rowColumn),
];

/** A config id without its transform chain: `hqq.b2.g64.f16+had+gptq` → `hqq.b2.g64.f16`. */
export function baseConfig(id: string): string {
  return id.split("+")[0];
}

/** Folder names as labels, made unique with the run's position when two share a name. */
export function runLabels(dirs: string[]): string[] {
  const names = dirs.map((d) => d.replace(/\/+$/, "").split("/").pop() || d);
  return names.map((n, i) => names.indexOf(n) === names.lastIndexOf(n) ? n : `${n}#${i + 1}`);
}

function intersect(sets: Set<string>[]): string[] {
  return [...sets[0]].filter((x) => sets.every((s) => s.has(x))).sort();
}

/**
 * Match the runs' rows: on config_id when every run holds one of them, else on
 * the config without transforms (e.g. `hqq…` in one run against `hqq…+gptq`
 * in another); refuse runs that share neither, naming what each holds.
 */
export function compareRuns(runs: RunRows[]): { rows: Row[]; match: MatchKey; shared: string[] } {
  if (runs.length < 2) throw new InputError("compare: give at least two run folders");
  for (const r of runs) if (!r.rows.length) throw new InputError(`${r.dir}: the run has no rows`);
  const ids = (f: (id: string) => string) => runs.map((r) => new Set(r.rows.map((x) => f(String(x.config_id)))));
  let match: MatchKey = "config_id", shared = intersect(ids((x) => x));
  if (!shared.length) [match, shared] = ["base_config", intersect(ids(baseConfig))];
  if (!shared.length) {
    const held = runs.map((r) => {
      const cs = [...new Set(r.rows.map((x) => String(x.config_id)))];
      return `${r.label}: ${cs.slice(0, 4).join(", ")}${cs.length > 4 ? ` (+${cs.length - 4})` : ""}`;
    });
    throw new InputError(`compare: the runs share no config, even without transforms (${held.join("; ")})`);
  }
  const keyOf = (id: string) => match === "config_id" ? id : baseConfig(id);
  const keep = new Set(shared);
  const rows: Row[] = [];
  for (const run of runs) {
    for (const r of run.rows) {
      const key = keyOf(String(r.config_id));
      if (!keep.has(key)) continue;
      rows.push({
        run: run.label,
        run_dir: run.dir,
        model: r.model,
        match: key,
        ...Object.fromEntries(KEPT.map((c) => [c, r[c] ?? null])),
      });
    }
  }
  return { rows, match, shared };
}
