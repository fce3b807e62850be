/** External compressors (Debian's zstd and xz-utils) run on the same bytes, for size and speed context. */
import { InputError } from "../errors.ts";

async function run(cmd: string, args: string[], input: Uint8Array): Promise<Uint8Array> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
  } catch {
    throw new InputError(`${cmd} not found: apt-get install ${cmd === "xz" ? "xz-utils" : cmd}`);
  }
  const w = child.stdin.getWriter();
  await w.write(input);
  await w.close();
  const out = await child.output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  return out.stdout;
}

/** Size in bytes of `zstd -19` output. */
export async function zstdSize(bytes: Uint8Array): Promise<number> {
  return (await run("zstd", ["-19", "-c", "-q"], bytes)).length;
}

/** Size in bytes of `xz -9e` output. */
export async function xzSize(bytes: Uint8Array): Promise<number> {
  return (await run("xz", ["-9e", "-c", "-q"], bytes)).length;
}

/** zstd's own benchmark (zstd -b19) of decompression speed on these bytes, in MB/s of input. */
export async function zstdDecodeMBs(bytes: Uint8Array): Promise<number> {
  const f = await Deno.makeTempFile({ suffix: ".bin" });
  try {
    await Deno.writeFile(f, bytes);
    const out = await new Deno.Command("zstd", { args: ["-b19", "-i1", f], stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    const m = [...text.matchAll(/MB\/s,\s*([\d.]+) MB\/s/g)].pop();
    if (!m) throw new Error(`could not read zstd -b output: ${text.slice(-200)}`);
    return Number(m[1]);
  } finally {
    await Deno.remove(f);
  }
}

/** Pack symbols at `bitsPer` bits each (1, 2, 4 or 8), little end first. */
export function packSymbols(symbols: Uint8Array, bitsPer: 1 | 2 | 4 | 8): Uint8Array {
  const per = 8 / bitsPer;
  const out = new Uint8Array(Math.ceil(symbols.length / per));
  for (let i = 0; i < symbols.length; i++) out[(i / per) | 0] |= symbols[i] << ((i % per) * bitsPer);
  return out;
}
