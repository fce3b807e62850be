/** deno task eval — held-out bits per byte of a (quantized) GPT-NeoX model. */
import { parseFlags, runMain } from "../lib/cli/main.ts";
import { InputError } from "../lib/errors.ts";
import { ensureNative } from "../lib/kernels/native.ts";
import { heldoutBpb } from "../lib/model/bpb.ts";
import { NeoxForward, parseNeoxConfig, readAllWeights } from "../lib/model/neox.ts";
import { nativeOps, tsOps } from "../lib/model/ops.ts";
import { applyPlan, readPlan, resolvePlan, uniformPlan } from "../lib/model/plan.ts";
import { parseConfigId } from "../lib/sweep/grid.ts";
import { progress } from "../lib/sweep/progress.ts";
import { openModel } from "../lib/tensor/model.ts";
import { DEFAULT_MODEL } from "./sweep.ts";

const HELP = `deno task eval [--model PATH] [--config ID | --plan plan.json] [--bytes N | --all] [--json]

Bits per byte on the model's held-out text (val.txt beside the model, or --text)
with the reference protocol: non-overlapping windows of max_position_embeddings
bytes, every byte after the first of a window predicted.

  --model PATH    GPT-NeoX model folder (default ${DEFAULT_MODEL})
  --config ID     quantize every 2-D weight with this config id (e.g. ternary_absmean.g64.f16)
  --plan FILE     per-layer configs from an allocator plan (plan-<budget>.json)
  --bytes N       evaluate the first N bytes (default 65536)
  --all           evaluate all of the text
  --text FILE     held-out text (default <model>/val.txt)
  --threads N     threads for the C kernels (default: all cores)
  --json          print one JSON object {bpb, bits_per_param, bytes} last on stdout
  -h, --help`;

async function main(): Promise<void> {
  const { values: f } = parseFlags(Deno.args, {
    model: { type: "string", default: DEFAULT_MODEL },
    config: { type: "string" },
    plan: { type: "string" },
    bytes: { type: "string", default: "65536" },
    all: { type: "boolean", default: false },
    text: { type: "string" },
    threads: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (f.help) return console.log(HELP);
  if (f.config && f.plan) throw new InputError("give --config or --plan, not both");
  const bytes = Number(f.bytes);
  if (!Number.isInteger(bytes) || bytes < 2) throw new InputError(`--bytes: '${f.bytes}' is not an integer ≥ 2`);
  const threads = f.threads === undefined ? navigator.hardwareConcurrency : Number(f.threads);
  if (!Number.isInteger(threads) || threads < 1) {
    throw new InputError(`--threads: '${f.threads}' is not a positive integer`);
  }
  const src = await openModel(f.model!);
  const config = parseNeoxConfig(src.config, f.model!);
  const textPath = f.text ?? `${f.model}/val.txt`;
  let text: Uint8Array;
  try {
    text = await Deno.readFile(textPath);
  } catch {
    throw new InputError(`${textPath}: cannot read the held-out text (give --text)`);
  }
  if (!f.all) text = text.subarray(0, bytes);
  const weights = await readAllWeights(src);
  const plan = f.config
    ? uniformPlan(src, parseConfigId(f.config))
    : f.plan
    ? resolvePlan((await readPlan(f.plan)).layers, src)
    : new Map();
  const applied = applyPlan(src, weights, plan);
  const lib = await ensureNative();
  if (!lib) console.error("eval: C kernels unavailable (no gcc?): using the TypeScript reference ops, which is slow");
  const model = new NeoxForward(config, applied.weights, lib ? nativeOps(lib, threads) : tsOps);
  const bar = progress(Math.ceil(text.length / config.max_position_embeddings), "eval");
  const t0 = performance.now();
  const r = heldoutBpb(model, text, bar);
  bar.finish();
  const secs = (performance.now() - t0) / 1000;
  console.error(
    `bpb ${r.bpb.toFixed(5)} over ${r.predicted} predicted bytes of ${r.bytes}; ${
      applied.bitsPerParam.toFixed(4)
    } bits/param (${plan.size} of ${src.tensors.length} tensors quantized); ${secs.toFixed(1)} s`,
  );
  if (f.json) console.log(JSON.stringify({ bpb: r.bpb, bits_per_param: applied.bitsPerParam, bytes: r.bytes }));
}

if (import.meta.main) await runMain("eval", main);
