/** What a run records about where it ran: versions, git commit, CPU. */
import pl from "nodejs-polars";
import { transparentHugePages } from "../kernels/huge_pages.ts";

export interface RunEnvironment {
  deno: string;
  v8: string;
  typescript: string;
  polars: string;
  subbit: string;
  git_commit: string;
  git_dirty: boolean | null;
  cpu: string;
  cores: number;
  os: string;
  hostname: string;
  /** Linux's THP mode (always / madvise / never; null: unknown): whether the kernels' large buffers got huge pages. */
  transparent_hugepage: string | null;
}

async function git(args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", { args, stdout: "piped", stderr: "null" }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

/** The CPU model name from /proc/cpuinfo (or the architecture). */
export function cpuModel(): string {
  try {
    const m = Deno.readTextFileSync("/proc/cpuinfo").match(/^model name\s*:\s*(.+)$/m);
    if (m) return m[1].trim();
  } catch { /* not Linux */ }
  return Deno.build.arch;
}

/** The project version from package.json ("unknown" when it cannot be read). */
export async function subbitVersion(): Promise<string> {
  try {
    const url = new URL("../../package.json", import.meta.url);
    return JSON.parse(await Deno.readTextFile(url)).version ?? "unknown";
  } catch {
    return "unknown";
  }
}

export async function runEnvironment(): Promise<RunEnvironment> {
  const dir = new URL("../..", import.meta.url).pathname;
  const commit = await git(["-C", dir, "rev-parse", "HEAD"]);
  const status = await git(["-C", dir, "status", "--porcelain", "--untracked-files=no"]);
  return {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    polars: String((pl as unknown as { version?: string }).version ?? "unknown"),
    subbit: await subbitVersion(),
    git_commit: commit ?? "unknown",
    git_dirty: status === null ? null : status.length > 0,
    cpu: cpuModel(),
    cores: navigator.hardwareConcurrency,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    hostname: Deno.hostname(),
    transparent_hugepage: transparentHugePages(),
  };
}
