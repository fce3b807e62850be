/** Vega-Lite chart specs built from sweep rows (and allocator results when present). */
import type { TopLevelSpec } from "vega-lite";
import { compareLayers, shortLayerName } from "../tensor/select.ts";

type Rec = Record<string, unknown>;

export interface Chart {
  name: string;
  title: string;
  spec: TopLevelSpec;
}

/** Per (layer_kind, config): parameter-weighted bits/param and rel_error over that kind's layers. */
export function configPoints(rows: Rec[]): Rec[] {
  const acc = new Map<
    string,
    { kind: string; config: string; method: string; params: number; bits: number; err2: number; w2: number }
  >();
  for (const r of rows) {
    const key = `${r.layer_kind}|${r.config_id}`;
    const p = Number(r.params);
    const a = acc.get(key) ??
      {
        kind: String(r.layer_kind),
        config: String(r.config_id),
        method: String(r.method),
        params: 0,
        bits: 0,
        err2: 0,
        w2: 0,
      };
    a.params += p;
    a.bits += Number(r.bits_per_param) * p;
    // ‖W−Ŵ‖² summed over layers needs ‖W‖²; weight each layer's rel_error² by its size instead
    a.err2 += Number(r.rel_error) ** 2 * p;
    a.w2 += p;
    acc.set(key, a);
  }
  return [...acc.values()].map((a) => ({
    layer_kind: a.kind,
    config_id: a.config,
    method: a.method,
    bits_per_param: a.bits / a.params,
    rel_error: Math.sqrt(a.err2 / a.w2),
  }));
}

/** Mark the points no other point of the same layer kind beats on both axes. */
export function paretoFlags(points: Rec[]): Rec[] {
  return points.map((p) => ({
    ...p,
    pareto: !points.some((q) =>
      q.layer_kind === p.layer_kind && Number(q.bits_per_param) <= Number(p.bits_per_param) &&
      Number(q.rel_error) <= Number(p.rel_error) &&
      (Number(q.bits_per_param) < Number(p.bits_per_param) || Number(q.rel_error) < Number(p.rel_error))
    ),
  }));
}

export function paretoChart(rows: Rec[]): Chart {
  const values = paretoFlags(configPoints(rows));
  return {
    name: "pareto",
    title: "bits per parameter vs weight error, by layer kind",
    spec: {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: "True bits/param vs rel_error (Pareto front as a line)",
      data: { values },
      facet: { field: "layer_kind", type: "nominal", title: "layer kind" },
      columns: 3,
      spec: {
        width: 240,
        height: 180,
        layer: [
          {
            mark: { type: "point", filled: true, size: 45, opacity: 0.8 },
            encoding: {
              x: { field: "bits_per_param", type: "quantitative", title: "bits / param (coded, incl. metadata)" },
              y: { field: "rel_error", type: "quantitative", scale: { type: "log" }, title: "rel_error ‖W−Ŵ‖/‖W‖" },
              color: { field: "method", type: "nominal" },
              tooltip: [{ field: "config_id" }, { field: "bits_per_param", format: ".3f" }, {
                field: "rel_error",
                format: ".4f",
              }],
            },
          },
          {
            transform: [{ filter: "datum.pareto" }],
            mark: { type: "line", color: "#333", strokeDash: [4, 3] },
            encoding: {
              x: { field: "bits_per_param", type: "quantitative" },
              y: { field: "rel_error", type: "quantitative", scale: { type: "log" } },
            },
          },
        ],
      },
    } as TopLevelSpec,
  };
}

/** The error measure a run's charts colour by: Δbpb when measured, else out_rel_error, else rel_error. */
export function errorMeasure(rows: Rec[]): "delta_bpb" | "out_rel_error" | "rel_error" {
  const has = (c: string) => rows.some((r) => r[c] !== null && r[c] !== undefined);
  return has("delta_bpb") ? "delta_bpb" : has("out_rel_error") ? "out_rel_error" : "rel_error";
}

/**
 * Layer × config, coloured by the run's error measure (errorMeasure; a
 * symlog scale, as errors span decades and Δbpb may dip below 0) and
 * labelled with bits/param; layers by short name (L0.qkv) in model order.
 */
export function heatmapChart(rows: Rec[]): Chart {
  const measure = errorMeasure(rows);
  const names = [...new Set(rows.map((r) => String(r.layer)))].sort(compareLayers);
  const short = new Map(names.map((n) => [n, shortLayerName(n)]));
  // two weights with one short name (an unusual model): keep the full names
  const label = new Set(short.values()).size === names.length ? (n: string) => short.get(n)! : (n: string) => n;
  const values = rows.map((r) => ({
    layer: label(String(r.layer)),
    tensor: r.layer,
    config_id: r.config_id,
    bits_per_param: r.bits_per_param,
    bits_label: Number(r.bits_per_param).toFixed(2),
    [measure]: r[measure],
  }));
  const y = { field: "layer", type: "nominal", title: "layer", sort: names.map(label) };
  // symlog is linear within ±constant and logarithmic beyond: put the bend two decades under the largest error
  const constant = Math.max(1e-9, 0.01 * Math.max(...rows.map((r) => Math.abs(Number(r[measure]) || 0))));
  const x = { field: "config_id", type: "nominal", title: "config", axis: { labelAngle: -60 } };
  return {
    name: "heatmap",
    title: `${measure} per layer × config (label: bits/param)`,
    spec: {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: `${measure} per layer × config (cell label: bits/param)`,
      data: { values },
      encoding: { x, y },
      layer: [
        {
          mark: "rect",
          encoding: {
            color: {
              field: measure,
              type: "quantitative",
              scale: { type: "symlog", constant, scheme: "viridis" },
              title: measure,
            },
            tooltip: [{ field: "tensor" }, { field: "config_id" }, { field: "bits_per_param", format: ".3f" }, {
              field: measure,
              format: ".4g",
            }],
          },
        },
        { mark: { type: "text", fontSize: 8 }, encoding: { text: { field: "bits_label" }, color: { value: "white" } } },
      ],
    } as TopLevelSpec,
  };
}

/**
 * A level's value in units of its scale: symmetric odd level sets are
 * integers around 0 (ternary −1, 0, +1); `sign`'s two levels are ±1.
 */
export function levelValue(i: number, levels: number): number {
  const centred = i - (levels - 1) / 2;
  return levels % 2 ? centred : 2 * centred;
}

/** Level histograms (fraction of weights per level) of ternary / forced-sparsity configs, over all layers. */
export function levelHistogramChart(rows: Rec[]): Chart | null {
  const sel = rows.filter((r) => ["ternary_absmean", "sparse_klevel", "sign"].includes(String(r.method)));
  if (!sel.length) return null;
  const totals = new Map<string, number[]>();
  for (const r of sel) {
    const h = r.level_hist as number[];
    const t = totals.get(String(r.config_id)) ?? new Array(h.length).fill(0);
    h.forEach((c, i) => (t[i] += Number(c)));
    totals.set(String(r.config_id), t);
  }
  const values: Rec[] = [];
  for (const [config_id, t] of totals) {
    const n = t.reduce((a, b) => a + b, 0);
    t.forEach((c, i) => values.push({ config_id, level: levelValue(i, t.length), fraction: c / n }));
  }
  return {
    name: "levels",
    title: "level histograms of ternary and sparse configs",
    spec: {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: "Fraction of weights per level (all layers)",
      data: { values },
      facet: { field: "config_id", type: "nominal", title: null },
      columns: 3,
      spec: {
        width: 200,
        height: 140,
        mark: "bar",
        encoding: {
          x: { field: "level", type: "ordinal", title: "level (× scale)" },
          y: { field: "fraction", type: "quantitative", axis: { format: "%" } },
          tooltip: [{ field: "level" }, { field: "fraction", format: ".2%" }],
        },
      },
    } as TopLevelSpec,
  };
}

/** bpb against bit budget from allocator output lines (allocate.jsonl), when present. */
export function budgetChart(alloc: Rec[]): Chart | null {
  if (!alloc.length) return null;
  const values = alloc.flatMap((a) => [
    { budget: a.budget, bits_per_param: a.bits_per_param, bpb: a.bpb_measured, series: "allocated plan (measured)" },
    { budget: a.budget, bits_per_param: a.bits_per_param, bpb: a.bpb_predicted, series: "allocated plan (predicted)" },
    ...(a.best_uniform_bpb == null ? [] : [{
      budget: a.budget,
      bits_per_param: a.bits_per_param,
      bpb: a.best_uniform_bpb,
      series: "next uniform config",
    }]),
    { budget: a.budget, bits_per_param: a.bits_per_param, bpb: a.fp32_bpb, series: "fp32" },
  ]);
  return {
    name: "budget",
    title: "bits per byte vs bit budget",
    spec: {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: "Held-out bits/byte vs budget",
      data: { values },
      mark: { type: "line", point: true },
      width: 360,
      height: 220,
      encoding: {
        x: { field: "bits_per_param", type: "quantitative", title: "bits / param (whole model)" },
        y: { field: "bpb", type: "quantitative", scale: { zero: false }, title: "bits / byte" },
        color: { field: "series", type: "nominal" },
      },
    } as TopLevelSpec,
  };
}

/** Kernel latency against the weight bits each format reads per parameter. */
export function kernelLatencyChart(results: Rec[]): Chart {
  const values = results.map((r) => ({
    ...r,
    label: r.sparsity == null ? String(r.kernel) : `${r.kernel} ${r.sparsity}`,
  }));
  return {
    name: "kernels",
    title: "GEMV latency vs bits per weight",
    spec: {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: "GEMV latency (batch 1, 1 thread) vs weight bits read per parameter",
      data: { values },
      width: 380,
      height: 240,
      layer: [
        {
          mark: { type: "point", filled: true, size: 70 },
          encoding: {
            x: {
              field: "weight_bits_per_param",
              type: "quantitative",
              title: "weight bits / param (incl. scales, indices)",
            },
            y: { field: "us", type: "quantitative", title: "µs per GEMV", scale: { type: "log" } },
            color: { field: "kernel", type: "nominal" },
          },
        },
        {
          mark: { type: "text", dx: 6, align: "left", fontSize: 10 },
          encoding: {
            x: { field: "weight_bits_per_param", type: "quantitative" },
            y: { field: "us", type: "quantitative", scale: { type: "log" } },
            text: { field: "label" },
          },
        },
      ],
    } as TopLevelSpec,
  };
}

/** QAT vs post-training frontier (frontier.jsonl of `deno task qat:frontier`): bpb against whole-model bits/param. */
export function frontierChart(points: Rec[]): Chart | null {
  const curves = points.filter((p) => p.series !== "fp32");
  if (!curves.length) return null;
  const fp32 = points.find((p) => p.series === "fp32");
  const layers: Rec[] = [{
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "bits_per_param", type: "quantitative", title: "bits / param (whole .subbit file)" },
      y: { field: "bpb", type: "quantitative", scale: { zero: false }, title: "held-out bits / byte (first 64 KB)" },
      color: { field: "series", type: "nominal" },
      tooltip: [{ field: "series" }, { field: "budget" }, { field: "bits_per_param", format: ".4f" }, {
        field: "bpb",
        format: ".4f",
      }],
    },
  }];
  if (fp32) {
    layers.push({
      data: { values: [{ bpb: fp32.bpb, label: `fp32 ${(fp32.bpb as number).toFixed(4)}` }] },
      mark: { type: "rule", strokeDash: [4, 4], color: "gray" },
      encoding: { y: { field: "bpb", type: "quantitative" } },
    });
  }
  return {
    name: "qat_frontier",
    title: "QAT vs post-training quantization",
    spec: {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: "Held-out bits/byte vs bits/param: QAT vs PTQ",
      data: { values: curves },
      width: 420,
      height: 260,
      layer: layers,
    } as unknown as TopLevelSpec,
  };
}

/**
 * Runs side by side (compareRuns' rows): per matched config, each layer's
 * error measure — the first of Δbpb, out_rel_error, rel_error that every run
 * measured — one bar per run, layers by short name in model order.
 */
export function compareChart(rows: Rec[]): Chart {
  const runs = [...new Set(rows.map((r) => String(r.run)))];
  const measure = (["delta_bpb", "out_rel_error", "rel_error"] as const).find((m) =>
    runs.every((run) => rows.some((r) => r.run === run && r[m] !== null && r[m] !== undefined))
  )!;
  const names = [...new Set(rows.map((r) => String(r.layer)))].sort(compareLayers);
  const values = rows.map((r) => ({
    layer: shortLayerName(String(r.layer)),
    series: r.match === r.config_id ? r.run : `${r.run}: ${r.config_id}`,
    match: r.match,
    bits_per_param: r.bits_per_param,
    [measure]: r[measure],
  }));
  return {
    name: "compare",
    title: `${measure} per layer, runs side by side`,
    spec: {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: `${measure} per layer, runs side by side (tooltip: bits/param)`,
      data: { values },
      facet: { row: { field: "match", type: "nominal", title: "config" } },
      spec: {
        width: Math.max(240, 14 * names.length * runs.length),
        height: 140,
        mark: "bar",
        encoding: {
          x: { field: "layer", type: "nominal", sort: [...new Set(names.map(shortLayerName))], title: "layer" },
          xOffset: { field: "series", type: "nominal" },
          y: { field: measure, type: "quantitative", title: measure },
          color: { field: "series", type: "nominal", title: "run" },
          tooltip: [{ field: "series" }, { field: "layer" }, { field: measure, format: ".4g" }, {
            field: "bits_per_param",
            format: ".3f",
          }],
        },
      },
      resolve: { scale: { y: "independent" } },
    } as TopLevelSpec,
  };
}
