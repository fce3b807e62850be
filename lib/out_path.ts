/**
 * Output paths given on the command line, checked before any work: one clear
 * InputError (exit 2) for an empty path, a file where a folder is wanted (or
 * the reverse), an existing file without --overwrite, or a path that cannot
 * be created — never a stack trace, and nothing written elsewhere.
 */
import { dirname } from "node:path";
import { InputError } from "./errors.ts";

async function statOrNull(p: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(p);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return null;
    throw new InputError(`${p}: cannot inspect: ${(e as Error).message}`);
  }
}

/** An output folder: created when missing (with parents). */
export async function prepareOutFolder(flag: string, dir: string): Promise<void> {
  if (dir.trim() === "") throw new InputError(`--${flag}: empty path (give a folder)`);
  const st = await statOrNull(dir);
  if (st && !st.isDirectory) throw new InputError(`--${flag} ${dir}: is a file, not a folder`);
  try {
    await Deno.mkdir(dir, { recursive: true });
    const probe = `${dir}/.subbit-write-check`;
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (e) {
    throw new InputError(`--${flag} ${dir}: cannot write there: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** An output file: not a folder, its folder writable, an existing file only replaced with --overwrite. */
export async function checkOutFile(flag: string, path: string, overwrite: boolean): Promise<void> {
  if (path.trim() === "") throw new InputError(`--${flag}: empty path (give a file name)`);
  const st = await statOrNull(path);
  if (st?.isDirectory) throw new InputError(`--${flag} ${path}: is a folder (give a file name inside it)`);
  if (st && !overwrite) throw new InputError(`--${flag} ${path}: exists (pass --overwrite to replace it)`);
  const parent = dirname(path);
  const pst = await statOrNull(parent);
  if (!pst) throw new InputError(`--${flag} ${path}: folder ${parent} does not exist`);
  if (!pst.isDirectory) throw new InputError(`--${flag} ${path}: ${parent} is not a folder`);
}
