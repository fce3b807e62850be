/**
 * Whether a run folder's sweep is still alive. A sweep records its owner
 * (host, pid and the process's start time, /proc/<pid>/stat field 22) in the
 * manifest; a manifest that says "running" whose owner is gone on this host
 * was killed (SIGKILL, power loss, OOM) and reads as "interrupted" — to
 * `--resume`, `merge` and `plots` alike. A pid reused by another process has
 * another start time, so it does not pass for the sweep.
 */
import { hostname } from "node:os";

export interface RunOwner {
  hostname: string;
  pid: number;
  /** Clock ticks after boot at which the process started (null where /proc is absent). */
  pid_start: number | null;
}

export type RunStatus = "running" | "complete" | "failed" | "interrupted";

/** /proc/<pid>/stat's start time, or null when there is no such process (or no /proc). */
function processStart(pid: number | "self"): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // fields after the command name, which is in parentheses and may contain spaces
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(rest[19]); // field 22 overall: state is field 3, rest[0]
  } catch {
    return null;
  }
}

/** This process as a run's owner. */
export function currentOwner(): RunOwner {
  return { hostname: hostname(), pid: Deno.pid, pid_start: processStart("self") };
}

/**
 * Whether a run's owner process is alive: true when that cannot be known here (another host); false when no owner
 * was recorded (manifests older than owners, whose sweeps are long gone).
 */
export function ownerAlive(owner: Partial<RunOwner> | undefined): boolean {
  if (!owner?.pid) return false;
  if (owner.hostname !== hostname()) return true;
  const start = processStart(owner.pid);
  if (start === null) return false;
  return owner.pid_start == null || start === owner.pid_start;
}

/** A manifest's status as it stands now: "running" only while its owner lives, else "interrupted". */
export function liveStatus(m: { status: string; owner?: Partial<RunOwner> }): RunStatus {
  if (m.status === "running") return ownerAlive(m.owner) ? "running" : "interrupted";
  return m.status as RunStatus;
}

/** This process's peak resident memory so far (VmHWM, bytes), or null where /proc is absent. */
export function peakRssBytes(): number | null {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/^VmHWM:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}
