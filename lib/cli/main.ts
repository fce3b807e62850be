/** Shared CLI plumbing for tasks: flag parsing with clear errors, exit codes (2 bad input, 1 internal). */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { isAbsolute, resolve } from "node:path";
import { InputError } from "../errors.ts";

export type FlagSpec = NonNullable<ParseArgsConfig["options"]>;

/** Flags whose values are paths the user typed: resolved against the directory `deno task` was run from. */
const PATH_FLAGS = new Set(["out", "model", "plan", "subbit", "calib", "text", "resume", "sensitivity"]);

/**
 * The directory the user ran the task from: `deno task` runs tasks in the
 * project folder and says where it was started in INIT_CWD.
 */
export function userCwd(): string {
  return Deno.env.get("INIT_CWD") || Deno.cwd();
}

/** The project folder (where deno.json is): `deno task` runs tasks there. */
const PROJECT_ROOT = resolve(new URL("../../", import.meta.url).pathname);

/**
 * A path as the user meant it: when a task runs in the project folder but was
 * started elsewhere (`deno task` from a subfolder), relative paths are taken
 * from where it was started; otherwise unchanged.
 */
export function userPath(p: string): string {
  const from = resolve(userCwd()), here = resolve(Deno.cwd());
  return isAbsolute(p) || here !== PROJECT_ROOT || from === here ? p : resolve(from, p);
}

/**
 * Parse argv against a flag spec; unknown flags (with the closest known one
 * suggested), missing or empty values are InputErrors. `--x -0.1` passes a
 * negative number as a value; path flags (PATH_FLAGS, and the positionals with
 * `positionalPaths`) are resolved against the user's directory.
 */
export function parseFlags<T extends FlagSpec>(
  argv: string[],
  options: T,
  allowPositionals = false,
  opts: { positionalPaths?: boolean } = {},
) {
  const args = joinNegativeValues(argv, options);
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals });
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0];
    const unknown = /Unknown option '(--?[^']+)'/.exec(msg);
    const near = unknown ? closestFlag(unknown[1].replace(/^-+/, "").split("=")[0], Object.keys(options)) : null;
    if (!unknown) throw new InputError(msg);
    throw new InputError(`Unknown option '${unknown[1]}'${near ? `; did you mean --${near}?` : " (see --help)"}`);
  }
  const values = parsed.values as Record<string, unknown>;
  for (const [name, spec] of Object.entries(options)) {
    if (spec.type !== "string" || !given(args, name, spec.short)) continue;
    if (values[name] === "") throw new InputError(`--${name}: empty value`);
    if (PATH_FLAGS.has(name) && typeof values[name] === "string") values[name] = userPath(values[name] as string);
  }
  if (opts.positionalPaths) parsed.positionals.splice(0, Infinity, ...parsed.positionals.map(userPath));
  return parsed;
}

/** Whether argv names the flag (long or short form). */
function given(argv: string[], name: string, short?: string): boolean {
  return argv.some((a) =>
    a === `--${name}` || a.startsWith(`--${name}=`) || (short !== undefined && a === `-${short}`)
  );
}

/** `--flag -0.1` → `--flag=-0.1` for value-taking flags, so a negative number is a value, not an option. */
function joinNegativeValues(argv: string[], options: FlagSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith("--") ? argv[i].slice(2) : "";
    if (options[name]?.type === "string" && /^-(\d|\.\d|Infinity)/.test(argv[i + 1] ?? "")) {
      out.push(`--${name}=${argv[++i]}`);
    } else out.push(argv[i]);
  }
  return out;
}

/** The known flag nearest to a mistyped one (a prefix either way, or an edit distance ≤ ⅓ of its length, ≤ 3). */
export function closestFlag(typed: string, known: string[]): string | null {
  let best: string | null = null, bestD = Infinity;
  for (const k of known) {
    const d = k.startsWith(typed) || typed.startsWith(k)
      ? Math.abs(k.length - typed.length) * 0.5
      : editDistance(typed, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= Math.min(3, Math.max(1, Math.floor(typed.length / 3))) ? best : null;
}

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/**
 * Split argv into the flags `pick` chooses by name (with their values) and the rest, keeping order; `specs` say
 * which flags take a value (`--name value` or `--name=value`) and their short forms.
 */
export function partitionFlags(
  argv: readonly string[],
  pick: (name: string) => boolean,
  specs: FlagSpec,
): { picked: string[]; rest: string[] } {
  const picked: string[] = [], rest: string[] = [];
  const short = (c: string) => Object.entries(specs).find(([, v]) => v.short === c)?.[0] ?? c;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.startsWith("--") ? a.slice(2).split("=")[0] : /^-\w$/.test(a) ? short(a[1]) : "";
    const sink = name && pick(name) ? picked : rest;
    sink.push(a);
    if (specs[name]?.type === "string" && !a.includes("=") && i + 1 < argv.length) sink.push(argv[++i]);
  }
  return { picked, rest };
}

/** Run a task's main; print one line and exit 2 on bad input, 1 on internal failure. */
export async function runMain(task: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (e instanceof InputError) {
      console.error(`${task}: ${e.message}`);
      Deno.exit(2);
    }
    console.error(`${task}: internal error: ${(e as Error)?.stack ?? e}`);
    Deno.exit(1);
  }
}

/** Parse a comma list of numbers for a flag, failing on anything else. */
export function parseNumberList(flag: string, s: string): number[] {
  return s.split(",").map((t) => {
    const n = Number(t.trim());
    if (t.trim() === "" || !Number.isFinite(n)) throw new InputError(`--${flag}: '${t}' is not a number`);
    return n;
  });
}
