/** deno task pack — quantize a model with one config and write a .subbit container. */
import { parseFlags, runMain } from "../lib/cli/main.ts";
import { packModel } from "../lib/coding/pack.ts";
import { InputError } from "../lib/errors.ts";
import { parseConfigId } from "../lib/sweep/grid.ts";
import { DEFAULT_MODEL } from "./sweep.ts";

const HELP = `deno task pack --config CONFIG_ID --out FILE.subbit [--model PATH] [--layers GLOBS]

Quantize every selected 2-D weight with one config (a config_id as the sweep
writes it, e.g. ternary_absmean.g64.f16 or sparse_klevel.l3.s0.9.g64.f16),
entropy-code symbols and metadata, and write a .subbit container. Other
tensors (norms, biases, unselected layers) are stored as f32.

  --model PATH    model folder or file (default ${DEFAULT_MODEL})
  --config ID     quantization config id (required)
  --layers GLOBS  comma list of globs (default: every 2-D weight)
  --out FILE      output .subbit file (required)
  --quiet         no progress
  -h, --help`;

async function main(): Promise<void> {
  const { values: f } = parseFlags(Deno.args, {
    model: { type: "string", default: DEFAULT_MODEL },
    config: { type: "string" },
    layers: { type: "string" },
    out: { type: "string" },
    quiet: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (f.help) return console.log(HELP);
  if (!f.config) throw new InputError("--config is required (e.g. --config ternary_absmean.g64.f16)");
  if (!f.out) throw new InputError("--out is required (e.g. --out model.subbit)");
  const s = await packModel({
    model: f.model!,
    config: parseConfigId(f.config),
    layers: f.layers,
    out: f.out,
    quiet: f.quiet,
  });
  console.error(
    `${f.out}: ${s.tensors} tensors (${s.quantized} quantized, ${s.quantizedParams} params at ${
      s.quantizedBitsPerParam.toFixed(4)
    } bits/param incl. metadata and headers), ${s.bytes} bytes`,
  );
}

if (import.meta.main) await runMain("pack", main);
