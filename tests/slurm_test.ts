/**
 * deno task submit on a real single-node Slurm cluster (Debian's slurmctld/slurmd/munge, started by
 * tests/fixtures/slurm_cluster.sh under a temp folder): the merged array job equals the unsharded sweep; a failed
 * array task is reported by index with its log's last line, and --resume re-submits only it.
 */
import { strict as assert } from "node:assert";
import { readRowRecords } from "../lib/results/frame.ts";
import type { Row } from "../lib/results/schema.ts";
import { runTask } from "./fixtures/cli.ts";

const TIMING = new Set(["quant_ms", "code_ms", "gemv_us", "kernel", "run_id"]);
const SWEEP = ["--grid", "quick", "--no-kernels", "--layers", "gpt_neox.layers.0.*,gpt_neox.layers.1.*"];
const comparable = (rows: Row[]) => rows.map((r) => JSON.stringify(Object.entries(r).filter(([k]) => !TIMING.has(k))));

async function cluster(dir: string): Promise<string> {
  const out = await new Deno.Command("bash", { args: ["tests/fixtures/slurm_cluster.sh", "start", dir] }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `the test's Slurm cluster did not start: ${err}`);
  return new TextDecoder().decode(out.stdout).trim();
}

async function submit(conf: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/submit.ts", ...args],
    env: { SLURM_CONF: conf },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout), stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("submit --scheduler slurm --wait on a real cluster equals the unsharded run; failed tasks re-submitted", async () => {
  const dir = await Deno.makeTempDir();
  const conf = await cluster(`${dir}/slurm`);
  try {
    const ref = await runTask("sweep", ...SWEEP, "--quiet", "--out", `${dir}/ref`);
    assert.equal(ref.code, 0, ref.stderr);
    const want = comparable(readRowRecords(`${dir}/ref/rows.parquet`));
    const out = `${dir}/job`;
    const r = await submit(conf, "--scheduler", "slurm", "--shards", "3", ...SWEEP, "--out", out, "--wait");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Slurm job \d+/);
    assert.deepEqual(comparable(readRowRecords(`${out}/rows.parquet`)), want);
    const m = JSON.parse(await Deno.readTextFile(`${out}/manifest.json`));
    assert.equal(m.shards.length, 3);
    assert.match(await Deno.readTextFile(`${out}/submit.sbatch`), /--shard "\$i\/\$n"/);
    // shard 1 broken so that its task fails (resumed with another seed than its run's): reported by index
    const s1 = `${out}/shards/shard-1/manifest.json`;
    const good = await Deno.readTextFile(s1);
    const broken = JSON.parse(good);
    broken.status = "failed";
    broken.argv = [...broken.argv, "--seed", "9"];
    await Deno.writeTextFile(s1, JSON.stringify(broken));
    const bad = await submit(conf, "--scheduler", "slurm", "--resume", "--out", out, "--wait");
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /array task 1 failed: .*another seed/);
    assert.match(bad.stderr, /1 of 3 array task\(s\) failed \(1\)/);
    // repaired: --resume re-submits only task 1, which continues its folder; merged again
    const fixed = JSON.parse(good);
    fixed.status = "failed";
    await Deno.writeTextFile(s1, JSON.stringify(fixed));
    const again = await submit(conf, "--scheduler", "slurm", "--resume", "--out", out, "--wait");
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /1 array task\(s\) of 3/);
    assert.deepEqual(comparable(readRowRecords(`${out}/rows.parquet`)), want);
    const state = JSON.parse(await Deno.readTextFile(`${out}/submit.json`));
    assert.deepEqual(state.jobs.map((j: { indices: number[] }) => j.indices), [[0, 1, 2], [1], [1]]);
    // a typo in a sweep flag is caught before anything is queued
    const typo = await submit(conf, "--scheduler", "slurm", "--shards", "2", "--group-size", "64", "--out", `${dir}/t`);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /group-size/);
  } finally {
    await new Deno.Command("bash", { args: ["tests/fixtures/slurm_cluster.sh", "stop", `${dir}/slurm`] }).output();
  }
});
