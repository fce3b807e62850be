/**
 * Sweeps as Slurm array jobs: one array task per shard, each a resumable
 * `sweep --shard i/n` run in OUT/shards/shard-i, merged when all are
 * complete. The sbatch script is written into the run folder, so it can be
 * read, edited and submitted by hand on any cluster with a shared filesystem.
 */
import { InputError } from "../errors.ts";
import { liveStatus } from "./run_state.ts";

export interface SubmitState {
  scheduler: "slurm";
  shards: number;
  /** The sweep flags every shard runs with (without --out, --shard, --quiet). */
  sweep_args: string[];
  script: string;
  /** Every submission: Slurm job id, the array indices, when. */
  jobs: { job_id: string; indices: number[]; submitted_at: string }[];
}

export const shardDir = (out: string, i: number): string => `${out}/shards/shard-${i}`;

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The sbatch array script: task i runs shard i of n (n from SUBBIT_SHARDS when a resubmission runs only some
 * indices, else SLURM_ARRAY_TASK_COUNT), continuing its folder with --resume when an earlier task began it.
 */
export function sbatchScript(
  o: { deno: string; root: string; out: string; sweepArgs: string[]; name: string },
): string {
  const sweep = `${quote(o.deno)} run -A ${quote(`${o.root}/tasks/sweep.ts`)}`;
  return `#!/usr/bin/env bash
#SBATCH --job-name=${o.name}
#SBATCH --output=${o.out}/logs/shard-%a.out
#SBATCH --chdir=${o.root}
# written by deno task submit; one array task per shard of the sweep, merged by submit --wait or deno task merge
set -euo pipefail
i=\${SLURM_ARRAY_TASK_ID:?run as a Slurm array task}
n=\${SUBBIT_SHARDS:-\${SLURM_ARRAY_TASK_COUNT:?}}
dir=${quote(o.out)}/shards/shard-$i
if [ -f "$dir/manifest.json" ]; then
  exec ${sweep} --resume "$dir" --quiet
else
  exec ${sweep} ${o.sweepArgs.map(quote).join(" ")} --shard "$i/$n" --out "$dir" --quiet
fi
`;
}

/** Shards whose run is not complete (never started, interrupted, failed). */
export async function unfinishedShards(out: string, n: number): Promise<number[]> {
  const open: number[] = [];
  for (let i = 0; i < n; i++) {
    try {
      const m = JSON.parse(await Deno.readTextFile(`${shardDir(out, i)}/manifest.json`));
      if (liveStatus(m) !== "complete") open.push(i);
    } catch {
      open.push(i);
    }
  }
  return open;
}

/** The last non-empty line of a shard's log, for reporting why it failed. */
export async function logTail(out: string, i: number): Promise<string> {
  try {
    const lines = (await Deno.readTextFile(`${out}/logs/shard-${i}.out`)).trim().split("\n");
    return lines[lines.length - 1] ?? "";
  } catch {
    return "(no log)";
  }
}

/** sbatch the script for some array indices; returns the job id. */
export async function sbatch(
  script: string,
  indices: number[],
  o: { shards: number; wait: boolean; extra: string[] },
): Promise<{ jobId: string; code: number; stderr: string }> {
  const args = ["--parsable", `--array=${indices.join(",")}`, `--export=ALL,SUBBIT_SHARDS=${o.shards}`, ...o.extra];
  if (o.wait) args.push("--wait");
  args.push(script);
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("sbatch", { args, stdin: "null", stdout: "piped", stderr: "piped" }).output();
  } catch {
    throw new InputError(
      "sbatch not found: submit --scheduler slurm needs a Slurm client (apt-get install slurm-client)",
    );
  }
  const stdout = new TextDecoder().decode(out.stdout).trim();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  const jobId = stdout.split("\n")[0]?.split(";")[0] ?? "";
  if (!/^\d+$/.test(jobId)) {
    throw new InputError(`sbatch refused the job: ${stderr.split("\n").pop() || `exit ${out.code}`}`);
  }
  return { jobId, code: out.code, stderr };
}
