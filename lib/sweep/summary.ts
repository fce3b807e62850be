/**
 * End-of-sweep summary: per layer kind, the cheapest config that keeps every
 * layer of that kind within a threshold of one criterion — the accuracy a
 * user came for when the run measured it (delta_bpb, then out_rel_error),
 * else the weight error.
 */
import { InputError } from "../errors.ts";
import type { Row } from "../results/schema.ts";

export type Criterion = "delta_bpb" | "out_rel_error" | "rel_error";
/** In order of preference: what the model loses, then what the layer's output loses, then the weights. */
export const CRITERIA: readonly Criterion[] = ["delta_bpb", "out_rel_error", "rel_error"];
/** Default thresholds: Δbpb per layer in bits per byte; the relative errors as fractions. */
export const DEFAULT_THRESHOLDS: Record<Criterion, number> = { delta_bpb: 0.01, out_rel_error: 0.1, rel_error: 0.1 };

export interface SummaryOptions {
  /** Rank by this criterion (default: the first of CRITERIA the rows measured). */
  criterion?: Criterion;
  /** Threshold of the criterion (default DEFAULT_THRESHOLDS). */
  threshold?: number;
}

export interface KindSummary {
  layer_kind: string;
  layers: number;
  /** The criterion this kind was ranked by (another than asked when its rows lack it: see summarizeByKind). */
  criterion: Criterion;
  threshold: number;
  best_config: string | null;
  bits_per_param: number | null;
  /** The best config's worst layer under the criterion. */
  max_value: number | null;
}

/** --criterion's value, checked; undefined stays undefined (the default applies). */
export function parseCriterion(v: string | undefined): Criterion | undefined {
  if (v === undefined) return undefined;
  if (!CRITERIA.includes(v as Criterion)) {
    throw new InputError(`--criterion: '${v}' is not one of ${CRITERIA.join(", ")}`);
  }
  return v as Criterion;
}

/** --threshold's value, checked (undefined: the criterion's default). */
export function parseThreshold(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === "" || !Number.isFinite(x) || x < 0) {
    throw new InputError(`--threshold: '${v}' is not a number ≥ 0`);
  }
  return x;
}

function measured(rows: Row[], c: Criterion): boolean {
  return rows.some((r) => r[c] !== null && r[c] !== undefined);
}

/** The criterion a run is ranked by when none is asked for: the first of CRITERIA its rows measured. */
export function defaultCriterion(rows: Row[]): Criterion {
  return CRITERIA.find((c) => measured(rows, c)) ?? "rel_error";
}

/**
 * Per layer kind, the config of fewest bits/param (parameter-weighted) whose
 * every layer has the criterion ≤ threshold. A kind whose rows lack the
 * criterion (e.g. out_rel_error of an embedding, which no matmul reads) is
 * ranked by the next measured one at its default threshold, and says so.
 */
export function summarizeByKind(rows: Row[], opts: SummaryOptions = {}): KindSummary[] {
  const asked = opts.criterion ?? defaultCriterion(rows);
  const byKind = new Map<string, Map<string, Row[]>>();
  for (const r of rows) {
    const k = String(r.layer_kind), c = String(r.config_id);
    if (!byKind.has(k)) byKind.set(k, new Map());
    const m = byKind.get(k)!;
    if (!m.has(c)) m.set(c, []);
    m.get(c)!.push(r);
  }
  const out: KindSummary[] = [];
  for (const [kind, configs] of [...byKind].sort(([a], [b]) => a.localeCompare(b))) {
    const all = [...configs.values()].flat();
    const criterion = measured(all, asked)
      ? asked
      : CRITERIA.slice(CRITERIA.indexOf(asked)).find((c) => measured(all, c)) ?? "rel_error";
    const threshold = criterion === asked && opts.threshold !== undefined
      ? opts.threshold
      : DEFAULT_THRESHOLDS[criterion];
    let best: KindSummary = {
      layer_kind: kind,
      layers: Math.max(...[...configs.values()].map((rs) => rs.length)),
      criterion,
      threshold,
      best_config: null,
      bits_per_param: null,
      max_value: null,
    };
    for (const [cid, rs] of configs) {
      const values = rs.map((r) => r[criterion] as number | null);
      if (values.some((v) => v === null || !Number.isFinite(v))) continue; // not judged on every layer
      const worst = Math.max(...(values as number[]));
      const bits = rs.reduce((s, r) => s + Number(r.bits_per_param) * Number(r.params), 0) /
        rs.reduce((s, r) => s + Number(r.params), 0);
      if (worst <= threshold && (best.bits_per_param === null || bits < best.bits_per_param)) {
        best = { ...best, layers: rs.length, best_config: cid, bits_per_param: bits, max_value: worst };
      }
    }
    out.push(best);
  }
  return out;
}

const criterionLabel = (k: KindSummary) => `${k.criterion} <= ${k.threshold}`;

/** A plain-text table of the summary. */
export function formatSummary(s: KindSummary[]): string {
  const head = ["layer_kind", "layers", "criterion", "best config", "bits/param", "worst layer"];
  const body = s.map((k) => [
    k.layer_kind,
    String(k.layers),
    criterionLabel(k),
    k.best_config ?? "(none meets the threshold)",
    k.bits_per_param === null ? "-" : k.bits_per_param.toFixed(3),
    k.max_value === null ? "-" : k.max_value.toPrecision(4),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [fmt(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(fmt)].join("\n");
}

/** The summary as CSV (one row per layer kind; empty cells where no config qualifies). */
export function summaryCsv(s: KindSummary[]): string {
  const cols: (keyof KindSummary)[] = [
    "layer_kind",
    "layers",
    "criterion",
    "threshold",
    "best_config",
    "bits_per_param",
    "max_value",
  ];
  const cell = (v: unknown) => {
    if (v === null || v === undefined) return "";
    const t = String(v);
    return /[",\n]/.test(t) ? `"${t.replaceAll('"', '""')}"` : t;
  };
  return [cols.join(","), ...s.map((k) => cols.map((c) => cell(k[c])).join(","))].join("\n") + "\n";
}
