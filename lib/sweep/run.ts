/** The sweep engine: grid × layers → one row per (layer, config), written as it goes. */
import type { ActivationMode } from "../model/neox.ts";
import { DEFAULT_CODERS, getCoder } from "../coding/mod.ts";
import { InputError } from "../errors.ts";
import { ensureNative } from "../kernels/native.ts";
import { prepareOutFolder } from "../out_path.ts";
import { LatencyTable } from "./latency.ts";
import { ModelEffects } from "./model_effects.ts";
import { rowsToFrame, writeParquetAtomic } from "../results/frame.ts";
import { type RunEnvironment, runEnvironment } from "../results/environment.ts";
import type { Row } from "../results/schema.ts";
import { hashModelFiles, openModel } from "../tensor/model.ts";
import { selectLayers } from "../tensor/select.ts";
import { numel } from "../tensor/types.ts";
import { configId, expandGrid, type GridSpec } from "./grid.ts";
import { measureLayer } from "./measure.ts";
import { progress } from "./progress.ts";

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
}

export interface Manifest {
  run_id: string;
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
  environment: RunEnvironment;
  started_at: string;
  finished_at: string | null;
  error?: string;
}

export interface SweepResult {
  rows: Row[];
  outDir: string;
  manifest: Manifest;
}

async function prepareOutDir(dir: string, overwrite: boolean): Promise<void> {
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
}

async function writeManifest(dir: string, m: Manifest): Promise<void> {
  const tmp = `${dir}/manifest.json.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(m, null, 2) + "\n");
  await Deno.rename(tmp, `${dir}/manifest.json`);
}

/** Run a sweep; rows.parquet and manifest.json are rewritten atomically after every layer. */
export async function runSweep(o: SweepOptions): Promise<SweepResult> {
  const configs = expandGrid(o.grid);
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
  await prepareOutDir(o.outDir, o.overwrite ?? false);
  const manifest: Manifest = {
    run_id: o.runId,
    status: "running",
    argv: o.argv ?? [],
    grid_name: o.gridName,
    grid: o.grid,
    config_ids: configs.map(configId),
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
    environment: await runEnvironment(),
    started_at: new Date().toISOString(),
    finished_at: null,
  };
  await writeManifest(o.outDir, manifest);
  const lib = o.kernels === false ? null : await ensureNative();
  const latency = lib ? new LatencyTable(lib) : undefined;
  const effects = (await ModelEffects.create(src, {
    calibText: o.calibText,
    evalText: o.evalText,
    activations: o.activations,
  })) ?? undefined;
  const rows: Row[] = [];
  const bar = progress(layers.length * configs.length, "sweep", { quiet: o.quiet });
  try {
    for (const info of layers) {
      const t = await src.read(info.name);
      const w = { name: info.name, rows: info.shape[0], cols: info.shape[1], data: t.data };
      for (const c of configs) {
        rows.push(
          measureLayer(w, c, {
            runId: o.runId,
            model: o.model,
            seed: o.seed,
            coders: o.coders,
            latency,
            effects,
            evalDelta: !!o.evalText,
            activations: o.activations ?? "fp32",
          }),
        );
        bar.tick(rows.length, `${info.name} ${configId(c)}`);
      }
      await writeParquetAtomic(rowsToFrame(rows), `${o.outDir}/rows.parquet`);
      manifest.rows = rows.length;
      await writeManifest(o.outDir, manifest);
    }
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
  await writeManifest(o.outDir, manifest);
  return { rows, outDir: o.outDir, manifest };
}
