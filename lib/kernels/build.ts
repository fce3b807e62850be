/** Build the C kernels (gcc) into shared libraries under kernels/build/. */
import { InputError } from "../errors.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
export const KERNEL_SRC = `${ROOT}kernels/c`;
/** Where the libraries go: kernels/build/, or $SUBBIT_KERNEL_BUILD (e.g. for a read-only checkout). */
export const KERNEL_BUILD = Deno.env.get("SUBBIT_KERNEL_BUILD") || `${ROOT}kernels/build`;

export const VARIANTS = {
  native: ["-O3", "-march=native"],
  portable: ["-O3", "-march=x86-64-v2"],
} as const;
export type Variant = keyof typeof VARIANTS;

export function libraryPath(variant: Variant): string {
  return `${KERNEL_BUILD}/libsubbit_${variant}.so`;
}

/** The kernel sources with the given suffix (".c" compiled; ".h" only for the up-to-date check). */
async function sources(suffix = ".c"): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(KERNEL_SRC)) {
    if (e.isFile && e.name.endsWith(suffix)) out.push(`${KERNEL_SRC}/${e.name}`);
  }
  return out.sort();
}

async function mtime(p: string): Promise<number> {
  try {
    return (await Deno.stat(p)).mtime?.getTime() ?? 0;
  } catch {
    return -1;
  }
}

export interface BuildResult {
  path: string;
  rebuilt: boolean;
  flags: string[];
}

/** Compile kernels/c/*.c with gcc and `flags` into the shared library at `lib` (written whole, then renamed). */
export async function compileLibrary(lib: string, flags: readonly string[]): Promise<void> {
  const args = [
    ...flags,
    "-shared",
    "-fPIC",
    "-std=c11",
    "-Wall",
    "-Wextra",
    // never unloaded: the kernels' worker pool keeps threads in the library's code and static state, and a
    // handle's close (each `deno test` file's isolate closes its own) unmapped it under them — a later dlopen
    // then re-initialised the pool's condition variable beside the old threads (hangs, heap corruption)
    "-Wl,-z,nodelete",
    "-o",
    `${lib}.tmp`,
    ...await sources(),
    "-lm",
    "-lpthread",
    "-ldl",
  ];
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("gcc", { args, stdout: "piped", stderr: "piped" }).output();
  } catch {
    throw new InputError("gcc not found: install it (apt-get install gcc) to build the C kernels");
  }
  if (!out.success) throw new Error(`gcc failed for ${lib}:\n${new TextDecoder().decode(out.stderr)}`);
  await Deno.rename(`${lib}.tmp`, lib);
}

/** Compile every variant whose library is missing or older than a source. */
export async function buildKernels(opts: { force?: boolean; quiet?: boolean } = {}): Promise<BuildResult[]> {
  const srcs = await sources();
  await Deno.mkdir(KERNEL_BUILD, { recursive: true });
  const newest = Math.max(...(await Promise.all([...srcs, ...await sources(".h")].map(mtime))));
  const results: BuildResult[] = [];
  for (const [variant, flags] of Object.entries(VARIANTS) as [Variant, readonly string[]][]) {
    const lib = libraryPath(variant);
    if (!opts.force && (await mtime(lib)) >= newest) {
      results.push({ path: lib, rebuilt: false, flags: [...flags] });
      continue;
    }
    if (!results.some((r) => r.rebuilt) && !opts.quiet) {
      console.error("subbit: building the C kernels with gcc (once, or after a source change: about a minute)…");
    }
    await compileLibrary(lib, flags);
    results.push({ path: lib, rebuilt: true, flags: [...flags] });
  }
  return results;
}
