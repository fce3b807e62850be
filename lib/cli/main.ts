/** Shared CLI plumbing for tasks: flag parsing with clear errors, exit codes (2 bad input, 1 internal). */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { InputError } from "../errors.ts";

export type FlagSpec = NonNullable<ParseArgsConfig["options"]>;

/** Parse argv against a flag spec; unknown flags or missing values are InputErrors. */
export function parseFlags<T extends FlagSpec>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (e) {
    throw new InputError((e as Error).message.split("\n")[0]);
  }
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
