/**
 * Issue 23's durable runs: a sweep killed with SIGKILL at random moments (mid-layer, mid-write) and resumed gives
 * exactly the rows of an uninterrupted run; shards merged (by hand and with --workers) give them too; a killed run
 * reads "interrupted"; merge and resume refuse what does not fit, with one clear line.
 */
import { strict as assert } from "node:assert";
import { readRowRecords } from "../lib/results/frame.ts";
import type { Row } from "../lib/results/schema.ts";
import { liveStatus } from "../lib/sweep/run_state.ts";
import { assignShards, parseShard } from "../lib/sweep/shard.ts";
import { assertOneLine, runTask } from "./fixtures/cli.ts";

/** Columns that measure time (and the kernel chosen by timing) — the only ones allowed to differ between runs. */
const TIMING = new Set(["quant_ms", "code_ms", "gemv_us", "kernel", "run_id"]);

/** A sweep that does real work per layer (coding on) but stays short: 26 layers × 3 configs. */
const SWEEP = ["--grid", "quick", "--no-kernels", "--quiet"];

function comparable(rows: Row[]): string[] {
  return rows.map((r) => JSON.stringify(Object.entries(r).filter(([k]) => !TIMING.has(k))));
}

function assertSameRows(got: Row[], want: Row[], what: string): void {
  assert.equal(got.length, want.length, `${what}: row count`);
  const a = comparable(got), b = comparable(want);
  for (let i = 0; i < a.length; i++) assert.equal(a[i], b[i], `${what}: row ${i} differs`);
}

async function manifest(dir: string) {
  return JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
}

let reference: Row[] | null = null;
async function referenceRows(): Promise<Row[]> {
  if (reference) return reference;
  const dir = await Deno.makeTempDir();
  const r = await runTask("sweep", ...SWEEP, "--out", `${dir}/ref`);
  assert.equal(r.code, 0, r.stderr);
  return (reference = readRowRecords(`${dir}/ref/rows.parquet`));
}

Deno.test("sweep: SIGKILL at random moments, then --resume, gives exactly the uninterrupted rows", async () => {
  const want = await referenceRows();
  const dir = await Deno.makeTempDir();
  const out = `${dir}/run`;
  // seeded kill delays (ms after start): early (model loading), several mid-run, one likely mid-write
  let s = 12345;
  const delays = Array.from({ length: 4 }, () => 600 + ((s = (s * 1103515245 + 12345) >>> 0) % 2400));
  let kills = 0;
  for (const delay of delays) {
    const args = ["run", "-A", "tasks/sweep.ts", ...SWEEP];
    // killed before its manifest existed (a slow start): nothing to resume yet, so start again
    const begun = await Deno.stat(`${out}/manifest.json`).then(() => true, () => false);
    args.push(...(begun ? ["--resume", out] : ["--out", out, "--overwrite"]));
    const p = new Deno.Command(Deno.execPath(), { args, stdin: "null", stdout: "null", stderr: "null" }).spawn();
    const timer = setTimeout(() => {
      try {
        p.kill("SIGKILL");
      } catch { /* already finished */ }
    }, delay);
    const st = await p.status;
    clearTimeout(timer);
    if (st.success) break;
    kills++;
    const m = await manifest(out).catch(() => null);
    if (m) assert.equal(liveStatus(m), "interrupted", "a killed run reads as interrupted");
    // a kill mid-write leaves a half-written temp file beside the committed ones: never read
    await Deno.mkdir(out, { recursive: true });
    await Deno.writeTextFile(`${out}/rows.parquet.tmp`, "PAR1 half a file");
    await Deno.writeTextFile(`${out}/manifest.json.tmp`, '{"status": "comp');
  }
  assert.ok(kills >= 2, `the test must interrupt the sweep (killed ${kills} times)`);
  const r = await runTask("sweep", "--resume", out, "--quiet");
  assert.equal(r.code, 0, r.stderr);
  const m = await manifest(out);
  assert.equal(m.status, "complete");
  assert.ok(m.resumed_at.length >= 1);
  assertSameRows(readRowRecords(`${out}/rows.parquet`), want, "resumed");
  // resuming a complete run changes nothing
  const again = await runTask("sweep", "--resume", out);
  assert.equal(again.code, 0);
  assert.match(again.stderr, /complete .*nothing to resume/);
});

Deno.test("sweep: shards merged by deno task merge, and --workers, equal the unsharded run", async () => {
  const want = await referenceRows();
  const dir = await Deno.makeTempDir();
  const shards = [0, 1, 2].map((i) => `${dir}/s${i}`);
  for (const [i, d] of shards.entries()) {
    const r = await runTask("sweep", ...SWEEP, "--shard", `${i}/3`, "--out", d);
    assert.equal(r.code, 0, r.stderr);
  }
  const counts = await Promise.all(shards.map(async (d) => (await manifest(d)).rows));
  assert.equal(counts.reduce((a, b) => a + b, 0), want.length);
  assert.ok(counts.every((c) => c > 0));
  const merged = await runTask("merge", ...shards, "--out", `${dir}/merged`);
  assert.equal(merged.code, 0, merged.stderr);
  assertSameRows(readRowRecords(`${dir}/merged/rows.parquet`), want, "merged");
  const mm = await manifest(`${dir}/merged`);
  assert.equal(mm.shards.length, 3);
  assert.equal(mm.status, "complete");
  assert.ok(readRowRecords(`${dir}/merged/rows.parquet`).every((r) => r.run_id === "merged"));
  const w = await runTask("sweep", ...SWEEP, "--workers", "2", "--out", `${dir}/workers`);
  assert.equal(w.code, 0, w.stderr);
  assertSameRows(readRowRecords(`${dir}/workers/rows.parquet`), want, "--workers 2");
  // refusals, one line each
  assertOneLine(await runTask("merge", shards[0], shards[1], "--out", `${dir}/m2`), /shard\(s\) 2\/3 missing/, "miss");
  assertOneLine(
    await runTask("merge", shards[0], shards[0], shards[1], "--out", `${dir}/m3`),
    /both shard 0\/3/,
    "twice",
  );
  const other = await runTask("sweep", ...SWEEP, "--seed", "7", "--shard", "2/3", "--out", `${dir}/s2seed`);
  assert.equal(other.code, 0, other.stderr);
  assertOneLine(
    await runTask("merge", shards[0], shards[1], `${dir}/s2seed`, "--out", `${dir}/m4`),
    /another model, grid, seed/,
    "mismatch",
  );
  assertOneLine(await runTask("merge", `${dir}/merged`, "--out", `${dir}/m5`), /not a shard/, "not a shard");
  assertOneLine(await runTask("sweep", ...SWEEP, "--shard", "3/3"), /--shard: '3\/3'/, "bad shard");
});

Deno.test("sweep --resume refuses another grid, seed or model, and a run still being written", async () => {
  const dir = await Deno.makeTempDir();
  const out = `${dir}/run`;
  const r = await runTask("sweep", ...SWEEP, "--layers", "gpt_neox.layers.0.*", "--out", out);
  assert.equal(r.code, 0, r.stderr);
  const m = await manifest(out);
  m.status = "running"; // as if killed mid-run
  await Deno.writeTextFile(`${out}/manifest.json`, JSON.stringify(m));
  // its owner (the sweep process) is gone: interrupted, and the report says so
  assert.equal(liveStatus(m), "interrupted");
  const plots = await runTask("plots", out);
  assert.equal(plots.code, 0, plots.stderr);
  assert.match(plots.stderr, /is interrupted/);
  assert.match(await Deno.readTextFile(`${out}/plots/index.html`), /interrupted/);
  assertOneLine(await runTask("sweep", "--resume", out, "--seed", "3"), /another seed/, "seed");
  assertOneLine(await runTask("sweep", "--resume", out, "--bits", "3"), /another grid/, "grid");
  assertOneLine(await runTask("sweep", "--resume", `${dir}/nowhere`), /no readable manifest/, "missing");
  assertOneLine(await runTask("sweep", "--resume", out, "--out", `${dir}/x`), /no --out/, "out");
  // an owner that is alive (this test process) means the run is still being written
  m.owner = { hostname: (await import("node:os")).hostname(), pid: Deno.pid, pid_start: null };
  await Deno.writeTextFile(`${out}/manifest.json`, JSON.stringify(m));
  assertOneLine(await runTask("sweep", "--resume", out), /still writing this run/, "alive");
});

Deno.test("shards: every item in exactly one shard, balanced by cost, the same split everywhere", () => {
  assert.deepEqual(parseShard("2/5"), { index: 2, count: 5 });
  for (const bad of ["5/5", "-1/2", "1/0", "a/b", "1"]) assert.throws(() => parseShard(bad), /--shard/);
  let s = 7;
  const costs = Array.from({ length: 200 }, () => 1 + ((s = (s * 1103515245 + 12345) >>> 0) % 1000));
  for (const n of [1, 2, 3, 7]) {
    const a = assignShards(costs, n);
    assert.deepEqual(a, assignShards(costs, n), "deterministic");
    const load = new Array(n).fill(0);
    a.forEach((sh, i) => (load[sh] += costs[i]));
    const max = Math.max(...load), mean = load.reduce((x, y) => x + y, 0) / n;
    // LPT: the largest load exceeds the mean by at most one item's cost
    assert.ok(max - mean <= Math.max(...costs), `n=${n}: loads ${load}`);
  }
});
