/**
 * The sweep engine: grid × layers → one row per (layer, config), committed durably after every layer (rows and
 * manifest each written to a temp file, fsynced, renamed), so a run killed at any instant can be resumed; a shard
 * measures its own deterministic share of the items.
 */
import { createHash } from "node:crypto";
import type { ActivationMode } from "../model/neox.ts";
import { DEFAULT_CODERS, getCoder } from "../coding/mod.ts";
import { InputError } from "../errors.ts";
import { ensureNative } from "../kernels/native.ts";
import { prepareOutFolder } from "../out_path.ts";
import { LatencyTable } from "./latency.ts";
import { ModelEffects } from "./model_effects.ts";
import { readRowRecords, rowsToFrame, writeParquetAtomic, writeTextAtomic } from "../results/frame.ts";
import { type RunEnvironment, runEnvironment } from "../results/environment.ts";
import type { Row } from "../results/schema.ts";
import { hashModelFiles, openModel } from "../tensor/model.ts";
import { selectLayers } from "../tensor/select.ts";
import { numel } from "../tensor/types.ts";
import { expandGrid, type GridSpec } from "./grid.ts";
import { configId } from "../quant/config_id.ts";
import { measureLayer } from "./measure.ts";
import { progress } from "../cli/progress.ts";
import { currentOwner, liveStatus, peakRssBytes, type RunOwner } from "./run_state.ts";
import { assignShards, configCost, type Shard } from "./shard.ts";

export interface SweepOptions {
  model: string;
  grid: GridSpec;
  gridName: string;
  /** Comma list of layer globs; overrides grid.layers. */
  layers?: string;
  seed: number;
  outDir: string;
  runId: string;
  quiet?: boolean;
  /** Replace the rows of an existing run folder. */
  overwrite?: boolean;
  /** The command line, recorded in the manifest. */
  argv?: string[];
  /** Symbol coders to try per layer (default all); null = no coding (bits from packed sizes). */
  coders?: string[] | null;
  /** Measure kernel latency per layer (default true when the C kernels can be built). */
  kernels?: boolean;
  /** Calibration text for out_rel_error (GPT-NeoX models); absent = no column values. */
  calibText?: Uint8Array;
  /** Held-out slice for delta_bpb (--eval); absent = no Δbpb. */
  evalText?: Uint8Array;
  /** How the --eval forward pass feeds linear layers (default fp32; int8 = W×A8). */
  activations?: ActivationMode;
  /** Continue the run in outDir: keep its rows, measure only the (layer, config) items it lacks. */
  resume?: boolean;
  /** Measure only this shard's share of the (layer, config) items (shard.ts). */
  shard?: Shard;
}

export interface Manifest {
  run_id: string;
  /** As written; read it through liveStatus (run_state.ts), which tells a killed run ("interrupted"). */
  status: "running" | "complete" | "failed";
  argv: string[];
  grid_name: string;
  grid: GridSpec;
  config_ids: string[];
  seed: number;
  coders: string[] | null;
  /** The activations of delta_bpb's forward pass. */
  activations: ActivationMode;
  model: { path: string; format: string; files: string[]; sha256: string; config: Record<string, unknown> };
  layers: string[];
  /** Selected 2-D tensors with no elements (N×0, 0×N): nothing to quantize, so no rows; stored as f32 by pack. */
  skipped_layers: { name: string; shape: number[]; reason: string }[];
  rows: number;
  /** Everything else a row's values depend on: the calibration and held-out slices, whether kernels were timed. */
  measure: MeasureInputs;
  /** This run's share of the work when sharded (--shard i/n), else null. */
  shard: Shard | null;
  /** (layer, config) items this run measures: layers × configs, or the shard's share. */
  work_items: number;
  /** The process writing the run (run_state.ts: a "running" run whose owner is gone was interrupted). */
  owner: RunOwner;
  environment: RunEnvironment;
  started_at: string;
  /** When each --resume continued the run. */
  resumed_at: string[];
  finished_at: string | null;
  /** The sweep process's peak resident memory (bytes, /proc VmHWM) when it finished; null while running. */
  peak_rss_bytes?: number | null;
  error?: string;
}

export interface MeasureInputs {
  calib_sha256: string | null;
  calib_bytes: number | null;
  eval_sha256: string | null;
  eval_bytes: number | null;
  kernels: boolean;
}

export interface SweepResult {
  rows: Row[];
  outDir: string;
  manifest: Manifest;
}

export async function prepareOutDir(dir: string, overwrite: boolean): Promise<void> {
  await prepareOutFolder("out", dir);
  for (const f of ["rows.parquet", "manifest.json"]) {
    try {
      await Deno.stat(`${dir}/${f}`);
      if (!overwrite) {
        throw new InputError(`--out ${dir}: already holds a run (${f}); choose another folder or pass --overwrite`);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  // what was made from the replaced run's rows would describe rows it no longer holds
  if (overwrite) {
    for (const stale of STALE_OUTPUTS) await Deno.remove(`${dir}/${stale}`, { recursive: true }).catch(() => {});
  }
}

/** What tasks derive from a run folder's rows (plots, the summary): removed when --overwrite replaces them. */
export const STALE_OUTPUTS = ["plots", "summary.csv"];

export async function writeManifest(dir: string, m: Manifest): Promise<void> {
  await writeTextAtomic(`${dir}/manifest.json`, JSON.stringify(m, null, 2) + "\n");
}

/** A run folder's manifest, or a clear error. */
export async function readManifest(dir: string): Promise<Manifest> {
  try {
    return JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
  } catch (e) {
    throw new InputError(`${dir}: no readable manifest.json (${(e as Error).message.split("\n")[0]})`);
  }
}

function sha256(b: Uint8Array | undefined): string | null {
  return b ? createHash("sha256").update(b).digest("hex") : null;
}

/**
 * The first setting in which two runs' rows would differ — model (sha256), grid, seed, layers, coders,
 * activations, measurement inputs, and (unless ignored, as between shards) the shard — or null when they agree.
 */
export function runMismatch(a: Manifest, b: Manifest, o: { ignoreShard?: boolean } = {}): string | null {
  const fields: [string, unknown, unknown][] = [
    ["model (sha256)", a.model.sha256, b.model.sha256],
    ["grid (config ids)", a.config_ids, b.config_ids],
    ["seed", a.seed, b.seed],
    ["layers", a.layers, b.layers],
    ["coders", a.coders, b.coders],
    ["activations", a.activations, b.activations],
    ["calibration/held-out slices or kernel timing", a.measure, b.measure],
  ];
  if (!o.ignoreShard) fields.push(["shard", a.shard, b.shard]);
  for (const [name, x, y] of fields) {
    if (JSON.stringify(x ?? null) !== JSON.stringify(y ?? null)) return name;
  }
  return null;
}

/** Rows in grid order: by layer (as the manifest lists them), then by config id. */
export function gridOrder(layers: readonly string[], ids: readonly string[]): (a: Row, b: Row) => number {
  const li = new Map(layers.map((l, i) => [l, i])), ci = new Map(ids.map((c, i) => [c, i]));
  const key = (r: Row) => li.get(String(r.layer))! * ids.length + ci.get(String(r.config_id))!;
  return (a, b) => key(a) - key(b);
}

/** Run a sweep (or continue one with `resume`); rows.parquet and manifest.json are committed after every layer. */
export async function runSweep(o: SweepOptions): Promise<SweepResult> {
  const configs = expandGrid(o.grid);
  const ids = configs.map(configId);
  for (const id of o.coders ?? []) getCoder(id);
  const src = await openModel(o.model);
  const selected = selectLayers(src.tensors, o.layers ?? o.grid.layers);
  const layers = selected.filter((t) => numel(t.shape) > 0);
  const skipped = selected.filter((t) => numel(t.shape) === 0).map((t) => ({
    name: t.name,
    shape: t.shape,
    reason: "empty tensor: nothing to quantize",
  }));
  if (!layers.length) {
    throw new InputError(`${o.model}: every selected 2-D weight is empty (${skipped.map((t) => t.name).join(", ")})`);
  }
  for (const t of skipped) {
    if (!o.quiet) console.error(`sweep: skipping ${t.name} [${t.shape.join(", ")}]: ${t.reason}`);
  }
  const previous = o.resume ? await readManifest(o.outDir) : null;
  if (previous && liveStatus(previous) === "running") {
    throw new InputError(
      `--resume ${o.outDir}: a sweep is still writing this run (pid ${previous.owner?.pid} on ${previous.owner?.hostname})`,
    );
  }
  if (!o.resume) await prepareOutDir(o.outDir, o.overwrite ?? false);
  // every (layer, config) item in grid order, and which of them this run measures
  const items = layers.flatMap((l, li) => configs.map((c, ci) => ({ li, ci, cost: numel(l.shape) * configCost(c) })));
  const shardOf = o.shard ? assignShards(items.map((it) => it.cost), o.shard.count) : null;
  const mine = items.filter((_, k) => !shardOf || shardOf[k] === o.shard!.index);
  const lib = o.kernels === false ? null : await ensureNative();
  const runId = previous?.run_id ?? o.runId;
  const manifest: Manifest = {
    run_id: runId,
    status: "running",
    argv: o.argv ?? [],
    grid_name: o.gridName,
    grid: o.grid,
    config_ids: ids,
    seed: o.seed,
    coders: o.coders === null ? null : o.coders ?? [...DEFAULT_CODERS],
    activations: o.activations ?? "fp32",
    model: {
      path: o.model,
      format: src.format,
      files: src.files,
      sha256: await hashModelFiles(src.files),
      config: src.config,
    },
    layers: layers.map((l) => l.name),
    skipped_layers: skipped,
    rows: 0,
    measure: {
      calib_sha256: sha256(o.calibText),
      calib_bytes: o.calibText?.length ?? null,
      eval_sha256: sha256(o.evalText),
      eval_bytes: o.evalText?.length ?? null,
      kernels: lib !== null,
    },
    shard: o.shard ?? null,
    work_items: mine.length,
    owner: currentOwner(),
    environment: await runEnvironment(),
    started_at: previous?.started_at ?? new Date().toISOString(),
    resumed_at: previous ? [...(previous.resumed_at ?? []), new Date().toISOString()] : [],
    finished_at: null,
  };
  if (previous) {
    const diff = runMismatch(previous, manifest);
    if (diff) {
      throw new InputError(
        `--resume ${o.outDir}: the run was made with another ${diff}; resume it with its own settings`,
      );
    }
  }
  // rows already committed (resume): kept, and their items skipped
  const rows: Row[] = previous ? await committedRows(o.outDir, manifest) : [];
  const done = new Set(rows.map((r) => `${r.layer}\0${r.config_id}`));
  const todo = mine.filter((it) => !done.has(`${layers[it.li].name}\0${ids[it.ci]}`));
  manifest.rows = rows.length;
  await writeManifest(o.outDir, manifest);
  const latency = lib ? new LatencyTable(lib) : undefined;
  const effects = (await ModelEffects.create(src, {
    calibText: o.calibText,
    evalText: o.evalText,
    activations: o.activations,
  })) ?? undefined;
  const bar = progress(mine.length, "sweep", { quiet: o.quiet });
  const order = gridOrder(manifest.layers, ids);
  try {
    for (const li of forwardOrder(layers, effects)) {
      const here = todo.filter((it) => it.li === li);
      if (!here.length) continue;
      const info = layers[li];
      await effects?.prepare(info.name);
      const t = await src.read(info.name);
      const w = { name: info.name, rows: info.shape[0], cols: info.shape[1], data: t.data };
      for (const it of here) {
        rows.push(
          await measureLayer(w, configs[it.ci], {
            runId,
            model: o.model,
            seed: o.seed,
            coders: o.coders,
            latency,
            effects,
            evalDelta: !!o.evalText,
            activations: o.activations ?? "fp32",
          }),
        );
        bar.tick(rows.length, `${info.name} ${ids[it.ci]}`);
      }
      rows.sort(order);
      await writeParquetAtomic(rowsToFrame(rows), `${o.outDir}/rows.parquet`);
      manifest.rows = rows.length;
      await writeManifest(o.outDir, manifest);
    }
    if (!todo.length) await writeParquetAtomic(rowsToFrame(rows), `${o.outDir}/rows.parquet`);
  } catch (e) {
    bar.finish();
    manifest.status = "failed";
    manifest.error = (e as Error).message;
    manifest.finished_at = new Date().toISOString();
    await writeManifest(o.outDir, manifest);
    throw e;
  }
  bar.finish();
  manifest.status = "complete";
  manifest.finished_at = new Date().toISOString();
  manifest.peak_rss_bytes = peakRssBytes();
  await writeManifest(o.outDir, manifest);
  return { rows, outDir: o.outDir, manifest };
}

/**
 * The order layers are measured in: as listed, or — when model effects stream
 * the forward pass — by forward stage (stable), so the streams only move ahead.
 */
function forwardOrder(layers: { name: string }[], effects?: ModelEffects): number[] {
  const order = layers.map((_, i) => i);
  if (!effects) return order;
  const stage = (i: number) => effects.stageOf(layers[i].name) ?? Infinity;
  return order.sort((a, b) => stage(a) - stage(b) || a - b);
}

/** The rows a run folder holds, each a (layer, config) item of this run, none twice. */
export async function committedRows(dir: string, m: Manifest): Promise<Row[]> {
  let rows: Row[];
  try {
    await Deno.stat(`${dir}/rows.parquet`);
  } catch {
    return [];
  }
  try {
    rows = readRowRecords(`${dir}/rows.parquet`);
  } catch (e) {
    throw new InputError(`${dir}/rows.parquet: unreadable (${(e as Error).message.split("\n")[0]})`);
  }
  const seen = new Set<string>();
  for (const r of rows) {
    const key = `${r.layer}\0${r.config_id}`;
    if (!m.layers.includes(String(r.layer)) || !m.config_ids.includes(String(r.config_id)) || seen.has(key)) {
      throw new InputError(`${dir}/rows.parquet: row ${r.layer} ${r.config_id} does not belong to this run`);
    }
    seen.add(key);
  }
  return rows;
}
