/** deno task unpack — read a .subbit container and write the dequantized model as safetensors. */
import { parseFlags, runMain } from "../lib/cli/main.ts";
import { unpackModel } from "../lib/pack/pack.ts";
import { InputError } from "../lib/errors.ts";
import { checkOutFile } from "../lib/out_path.ts";
import { writeSafetensors } from "../lib/tensor/safetensors.ts";
import type { Tensor } from "../lib/tensor/types.ts";

const HELP = `deno task unpack FILE.subbit --out MODEL.safetensors

Decode every tensor (checking each record's CRC) and write the dequantized
weights Ŵ — exactly what the sweep measured — as an F32 safetensors file.

  --out FILE   output .safetensors (required; an existing file only with --overwrite)
  --overwrite  replace an existing --out file
  -h, --help`;

async function main(): Promise<void> {
  const { values: f, positionals } = parseFlags(
    Deno.args,
    {
      out: { type: "string" },
      overwrite: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    true,
    { positionalPaths: true },
  );
  if (f.help) return console.log(HELP);
  if (positionals.length !== 1) throw new InputError("give exactly one .subbit file (see --help)");
  if (f.out === undefined) throw new InputError("--out is required (e.g. --out model.safetensors)");
  await checkOutFile("out", f.out, f.overwrite!);
  const tensors: Tensor[] = [];
  for await (const t of unpackModel(positionals[0])) tensors.push(t);
  await writeSafetensors(f.out, tensors, { source: positionals[0], format: "pt" });
  console.error(`${f.out}: ${tensors.length} tensors`);
}

if (import.meta.main) await runMain("unpack", main);
