/** deno task submit — a sweep as a batch-scheduler array job (Slurm), one task per shard, merged at the end. */
import { dirname, resolve } from "node:path";
import { parseFlags, partitionFlags, runMain } from "../lib/cli/main.ts";
import { InputError } from "../lib/errors.ts";
import { writeTextAtomic } from "../lib/results/frame.ts";
import { mergeShards } from "../lib/sweep/merge.ts";
import { prepareOutDir } from "../lib/sweep/run.ts";
import { logTail, sbatch, sbatchScript, shardDir, type SubmitState, unfinishedShards } from "../lib/sweep/submit.ts";
import { FLAGS as SWEEP_FLAGS } from "./sweep.ts";

const HELP = `deno task submit --scheduler slurm --shards N [sweep flags] --out DIR [--wait]
deno task submit --scheduler slurm --resume --out DIR [--wait]

Run a sweep as a Slurm array job: writes DIR/submit.sbatch (one array task per shard,
each running deno task sweep --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT into
DIR/shards/shard-<i>, logs in DIR/logs/), submits it with sbatch and records the job in
DIR/submit.json. DIR must be on a filesystem every node sees.

  --scheduler slurm    the batch scheduler (slurm)
  --shards N           array tasks (shards of the (layer, config) items, balanced by cost)
  --out DIR            the run folder (the merged rows land here)
  --wait               wait for the array (sbatch --wait), report failed tasks by index with the
                       last line of their log, and merge the shards into DIR when all succeeded
  --resume             re-submit only the unfinished shards of DIR (never started, failed or
                       interrupted: each continues its own folder with sweep --resume)
  --sbatch-arg ARG     passed to sbatch, repeatable (e.g. --sbatch-arg=--partition=gpu
                       --sbatch-arg=--time=02:00:00)
  --dry-run            write the script and print the sbatch command, submit nothing
  --overwrite          replace an existing run in DIR
  -h, --help

Every other flag is a sweep flag (deno task sweep --help), checked here before submitting.`;

const OWN = {
  scheduler: { type: "string" },
  shards: { type: "string" },
  out: { type: "string" },
  wait: { type: "boolean", default: false },
  resume: { type: "boolean", default: false },
  "sbatch-arg": { type: "string", multiple: true },
  "dry-run": { type: "boolean", default: false },
  overwrite: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

async function main(): Promise<void> {
  // submit's own flags, and the sweep's that every shard runs with
  const { picked: own, rest: sweep } = partitionFlags(Deno.args, (name) => Object.hasOwn(OWN, name), {
    ...SWEEP_FLAGS,
    ...OWN,
  });
  const { values: f } = parseFlags(own, OWN);
  if (f.help) return console.log(HELP);
  if (f.scheduler !== "slurm") {
    throw new InputError(`--scheduler: '${f.scheduler ?? ""}' is not supported (slurm; see README for Kubernetes)`);
  }
  if (f.out === undefined || f.out.trim() === "") throw new InputError("--out DIR is required");
  const out = resolve(f.out);
  let state: SubmitState;
  let indices: number[];
  if (f.resume) {
    if (f.shards !== undefined || sweep.length) {
      throw new InputError("--resume re-submits DIR's own sweep: no --shards or sweep flags with it");
    }
    try {
      state = JSON.parse(await Deno.readTextFile(`${out}/submit.json`));
    } catch {
      throw new InputError(`--resume: ${out}/submit.json not found (was DIR submitted with deno task submit?)`);
    }
    indices = await unfinishedShards(out, state.shards);
    if (!indices.length) console.error(`submit: every shard of ${out} is complete`);
  } else {
    const n = Number(f.shards);
    if (!Number.isInteger(n) || n < 1 || n > 10000) throw new InputError(`--shards: '${f.shards}' is not 1…10000`);
    const checked = parseFlags(sweep, SWEEP_FLAGS).values; // a typo fails here, before anything is queued
    for (const k of ["out", "shard", "workers", "resume"] as const) {
      if (checked[k] !== undefined) throw new InputError(`--${k} is submit's to set, not a sweep flag here`);
    }
    await prepareOutDir(out, f.overwrite!);
    const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
    const script = `${out}/submit.sbatch`;
    state = { scheduler: "slurm", shards: n, sweep_args: sweep, script, jobs: [] };
    await Deno.mkdir(`${out}/logs`, { recursive: true });
    await Deno.writeTextFile(
      script,
      sbatchScript({ deno: Deno.execPath(), root, out, sweepArgs: sweep, name: `subbit-${out.split("/").pop()}` }),
      { mode: 0o755 },
    );
    indices = [...Array(n).keys()];
  }
  if (indices.length) {
    const extra = f["sbatch-arg"] ?? [];
    if (f["dry-run"]) {
      await writeTextAtomic(`${out}/submit.json`, JSON.stringify(state, null, 2) + "\n");
      console.log(
        `sbatch --array=${indices.join(",")} --export=ALL,SUBBIT_SHARDS=${state.shards} ${
          [...extra, f.wait ? "--wait" : ""].join(" ")
        } ${state.script}`.replace(/\s+/g, " ").trim(),
      );
      return;
    }
    console.error(`submit: ${indices.length} array task(s) of ${state.shards} → sbatch${f.wait ? " --wait" : ""}`);
    const { jobId } = await sbatch(state.script, indices, { shards: state.shards, wait: f.wait!, extra });
    state.jobs.push({ job_id: jobId, indices, submitted_at: new Date().toISOString() });
    await writeTextAtomic(`${out}/submit.json`, JSON.stringify(state, null, 2) + "\n");
    console.error(`submit: Slurm job ${jobId}, shards in ${out}/shards/, logs in ${out}/logs/`);
    if (!f.wait) return;
  } else if (!f.wait) return;
  const failed = await unfinishedShards(out, state.shards);
  if (failed.length) {
    for (const i of failed) console.error(`submit: array task ${i} failed: ${await logTail(out, i)}`);
    console.error(
      `submit: ${failed.length} of ${state.shards} array task(s) failed (${failed.join(", ")}); re-submit them: ` +
        `deno task submit --scheduler slurm --resume --out ${out} --wait`,
    );
    Deno.exit(1);
  }
  const r = await mergeShards(
    Array.from({ length: state.shards }, (_, i) => shardDir(out, i)),
    out,
    { overwrite: true, runId: out.split("/").pop()!, argv: ["deno", "task", "submit", ...Deno.args] },
  );
  console.error(`${r.rows} rows from ${r.shards} Slurm array tasks -> ${out}/rows.parquet`);
}

if (import.meta.main) await runMain("submit", main);
