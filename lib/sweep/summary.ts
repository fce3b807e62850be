/** End-of-sweep summary: per layer kind, the cheapest config that keeps every layer of that kind under an error threshold. */
import type { Row } from "../results/schema.ts";

export interface KindSummary {
  layer_kind: string;
  layers: number;
  best_config: string | null;
  bits_per_param: number | null;
  max_rel_error: number | null;
}

export function summarizeByKind(rows: Row[], threshold: number): KindSummary[] {
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
    let best: KindSummary = {
      layer_kind: kind,
      layers: 0,
      best_config: null,
      bits_per_param: null,
      max_rel_error: null,
    };
    for (const [cid, rs] of configs) {
      best.layers = rs.length;
      const maxErr = Math.max(...rs.map((r) => Number(r.rel_error)));
      const bits = rs.reduce((s, r) => s + Number(r.bits_per_param) * Number(r.params), 0) /
        rs.reduce((s, r) => s + Number(r.params), 0);
      if (maxErr <= threshold && (best.bits_per_param === null || bits < best.bits_per_param)) {
        best = { layer_kind: kind, layers: rs.length, best_config: cid, bits_per_param: bits, max_rel_error: maxErr };
      }
    }
    out.push(best);
  }
  return out;
}

/** A plain-text table of the summary. */
export function formatSummary(s: KindSummary[], threshold: number): string {
  const head = ["layer_kind", "layers", `best config (rel_error <= ${threshold})`, "bits/param", "max rel_error"];
  const body = s.map((k) => [
    k.layer_kind,
    String(k.layers),
    k.best_config ?? "(none meets the threshold)",
    k.bits_per_param === null ? "-" : k.bits_per_param.toFixed(3),
    k.max_rel_error === null ? "-" : k.max_rel_error.toFixed(4),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ");
  return [fmt(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(fmt)].join("\n");
}
