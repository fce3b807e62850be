/**
 * Merging shard runs (`--shard i/n`, `--workers`, Slurm array tasks) into one
 * run folder: every shard complete, all made with the same model, grid, seed,
 * layers, coders and measurement inputs, the indices 0…n−1 each present once,
 * no (layer, config) item twice and none missing. The rows come out in grid
 * order with the merged run's id — the rows an unsharded run writes (timing
 * columns aside) — and the manifest names the shards.
 */
import { InputError } from "../errors.ts";
import { rowsToFrame, writeParquetAtomic } from "../results/frame.ts";
import type { Row } from "../results/schema.ts";
import {
  committedRows,
  gridOrder,
  type Manifest,
  prepareOutDir,
  readManifest,
  runMismatch,
  writeManifest,
} from "./run.ts";
import { currentOwner, liveStatus } from "./run_state.ts";

export interface MergeResult {
  rows: number;
  shards: number;
  manifest: Manifest;
}

export async function mergeShards(
  dirs: string[],
  outDir: string,
  o: { overwrite?: boolean; argv?: string[]; runId: string },
): Promise<MergeResult> {
  if (!dirs.length) throw new InputError("merge: give the shard folders to merge");
  const shards = await Promise.all(dirs.map(async (dir) => ({ dir, m: await readManifest(dir) })));
  for (const { dir, m } of shards) {
    if (!m.shard) throw new InputError(`${dir}: not a shard (its manifest has no shard; made without --shard i/n)`);
    const st = liveStatus(m);
    if (st !== "complete") {
      throw new InputError(
        `${dir}: shard ${m.shard.index}/${m.shard.count} is ${st}${
          st === "interrupted" || st === "failed" ? ` (continue it: deno task sweep --resume ${dir})` : ""
        }`,
      );
    }
  }
  const first = shards[0];
  const n = first.m.shard!.count;
  const byIndex = new Map<number, string>();
  for (const { dir, m } of shards) {
    if (runMismatch(m, first.m, { ignoreShard: true })) {
      throw new InputError(`${dir}: made with another model, grid, seed, layers or inputs than ${first.dir}`);
    }
    if (m.shard!.count !== n) throw new InputError(`${dir}: shard of ${m.shard!.count}, ${first.dir} of ${n}`);
    const other = byIndex.get(m.shard!.index);
    if (other) throw new InputError(`${dir} and ${other} are both shard ${m.shard!.index}/${n}`);
    byIndex.set(m.shard!.index, dir);
  }
  const missing = [...Array(n).keys()].filter((i) => !byIndex.has(i));
  if (missing.length) throw new InputError(`merge: shard(s) ${missing.map((i) => `${i}/${n}`).join(", ")} missing`);
  const ids = first.m.config_ids, layers = first.m.layers;
  const from = new Map<string, string>();
  const rows: Row[] = [];
  for (const { dir, m } of shards) {
    for (const r of await committedRows(dir, m)) {
      const key = `${r.layer}\0${r.config_id}`;
      const other = from.get(key);
      if (other) throw new InputError(`${r.layer} ${r.config_id} is in both ${other} and ${dir}: shards overlap`);
      from.set(key, dir);
      rows.push({ ...r, run_id: o.runId });
    }
  }
  const expected = layers.length * ids.length;
  if (rows.length !== expected) {
    const lack = layers.flatMap((l) => ids.map((c) => `${l}\0${c}`)).find((k) => !from.has(k))!;
    throw new InputError(
      `merge: ${expected - rows.length} of ${expected} (layer, config) items have no row, e.g. ${
        lack.replace("\0", " ")
      }`,
    );
  }
  rows.sort(gridOrder(layers, ids));
  await prepareOutDir(outDir, o.overwrite ?? false);
  const times = shards.map((s) => s.m);
  const manifest: Manifest & { shards: unknown[] } = {
    ...first.m,
    run_id: o.runId,
    status: "complete",
    argv: o.argv ?? [],
    rows: rows.length,
    shard: null,
    work_items: expected,
    owner: currentOwner(),
    started_at: times.map((m) => m.started_at).sort()[0],
    resumed_at: [],
    finished_at: new Date().toISOString(),
    shards: [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([index, dir]) => {
      const m = shards.find((s) => s.dir === dir)!.m;
      return {
        dir,
        index,
        count: n,
        rows: m.rows,
        host: m.owner?.hostname ?? null,
        started_at: m.started_at,
        finished_at: m.finished_at,
        resumed_at: m.resumed_at ?? [],
      };
    }),
  };
  delete manifest.error;
  await writeParquetAtomic(rowsToFrame(rows), `${outDir}/rows.parquet`);
  await writeManifest(outDir, manifest);
  return { rows: rows.length, shards: n, manifest };
}
