/** deno task pack — quantize a model with one config and write a .subbit container. */
import { parseFlags, runMain } from "../lib/cli/main.ts";
import { packModel } from "../lib/pack/pack.ts";
import { InputError } from "../lib/errors.ts";
import { checkOutFile } from "../lib/out_path.ts";
import { readPlan, resolvePlan } from "../lib/model/plan.ts";
import { calibrationFor, DEFAULT_CALIB_BYTES, planNeedsCalibration } from "../lib/model/calibration.ts";
import { readAllWeights } from "../lib/model/neox.ts";
import { parseConfigId } from "../lib/quant/config_id.ts";
import { openModel } from "../lib/tensor/model.ts";
import { DEFAULT_MODEL } from "./sweep.ts";

const HELP = `deno task pack (--config CONFIG_ID | --plan PLAN.json) --out FILE.subbit [--model PATH] [--layers GLOBS]

Quantize every selected 2-D weight with one config (a config_id as the sweep
writes it, e.g. ternary_absmean.g64.f16 or sparse_klevel.l3.s0.9.g64.f16), or
each tensor with its own config from a plan ({"layers": {tensor: config_id}},
the allocator's plan-*.json and qat's plan.json), entropy-code symbols and
metadata, and write a .subbit container. Other tensors (norms, biases,
unselected or unplanned layers) are stored as f32.

  --model PATH    model folder or file (default ${DEFAULT_MODEL})
  --config ID     one quantization config id for every selected layer
  --plan FILE     per-tensor config ids (instead of --config)
  --layers GLOBS  with --config: comma list of globs (default: every 2-D weight)
  --calib FILE    calibration text for +gptq configs (default <model>/calib.txt)
  --calib-bytes N its first N bytes (default ${DEFAULT_CALIB_BYTES}, as the sweep)
  --out FILE      output .subbit file (required; an existing file only with --overwrite)
  --overwrite     replace an existing --out file
  --quiet         no progress
  -h, --help`;

async function main(): Promise<void> {
  const { values: f } = parseFlags(Deno.args, {
    model: { type: "string", default: DEFAULT_MODEL },
    config: { type: "string" },
    plan: { type: "string" },
    calib: { type: "string" },
    "calib-bytes": { type: "string" },
    layers: { type: "string" },
    out: { type: "string" },
    quiet: { type: "boolean", default: false },
    overwrite: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (f.help) return console.log(HELP);
  if (f.config && f.plan) throw new InputError("give --config or --plan, not both");
  if (!f.config && !f.plan) {
    throw new InputError("--config or --plan is required (e.g. --config ternary_absmean.g64.f16)");
  }
  if (f.plan && f.layers) throw new InputError("--layers goes with --config (a plan names its tensors)");
  if (f.out === undefined) throw new InputError("--out is required (e.g. --out model.subbit)");
  await checkOutFile("out", f.out, f.overwrite!);
  const config = f.plan
    ? resolvePlan((await readPlan(f.plan)).layers, await openModel(f.model!))
    : parseConfigId(f.config!);
  const calibBytes = Number(f["calib-bytes"] ?? DEFAULT_CALIB_BYTES);
  if (!Number.isInteger(calibBytes) || calibBytes < 2) {
    throw new InputError(`--calib-bytes: '${f["calib-bytes"]}' is not an integer ≥ 2`);
  }
  const configs = config instanceof Map ? config : new Map([["", config]]);
  let hessians = null;
  if (planNeedsCalibration(configs)) {
    const src = await openModel(f.model!);
    hessians = await calibrationFor(src, await readAllWeights(src), { calibPath: f.calib, bytes: calibBytes });
  }
  const s = await packModel({ model: f.model!, config, layers: f.layers, out: f.out, quiet: f.quiet, hessians });
  console.error(
    `${f.out}: ${s.tensors} tensors (${s.quantized} quantized, ${s.quantizedParams} params at ${
      s.quantizedBitsPerParam.toFixed(4)
    } bits/param incl. metadata and headers); whole file ${s.bytes} bytes = ${
      s.bitsPerParam.toFixed(4)
    } bits/param over all ${s.params} params`,
  );
}

if (import.meta.main) await runMain("pack", main);
