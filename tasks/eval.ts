/** deno task eval — held-out bits per byte of a (quantized) GPT-NeoX model. */
import { dirname } from "node:path";
import { parseFlags, runMain } from "../lib/cli/main.ts";
import { InputError } from "../lib/errors.ts";
import { evaluateBpb } from "../lib/model/bpb.ts";
import {
  parseActivations,
  parseNeoxConfig,
  readAllWeights,
  sameNeoxArchitecture,
  type Weights,
} from "../lib/model/neox.ts";
import { applyPlan, readPlan, resolvePlan, uniformPlan } from "../lib/model/plan.ts";
import { loadSubbitModel } from "../lib/model/subbit_model.ts";
import { calibrationFor, DEFAULT_CALIB_BYTES, planNeedsCalibration } from "../lib/model/calibration.ts";
import { parseConfigId } from "../lib/quant/config_id.ts";
import { progress } from "../lib/cli/progress.ts";
import { isBlockDtype } from "../lib/tensor/decode.ts";
import { openModel } from "../lib/tensor/model.ts";
import { DEFAULT_MODEL } from "./sweep.ts";

const HELP =
  `deno task eval [--model PATH | --subbit F.subbit] [--config ID | --plan plan.json] [--bytes N | --all] [--json]

Bits per byte on the model's held-out text (val.txt beside the model, or --text)
with the reference protocol: non-overlapping windows of max_position_embeddings
bytes, every byte after the first of a window predicted.

  --model PATH    GPT-NeoX model folder, or a .subbit file (default ${DEFAULT_MODEL})
  --subbit FILE   evaluate a .subbit container as stored (bits/param = file bytes × 8 / params);
                  its text defaults to val.txt beside the file, else beside the model it was packed from,
                  else the default model's when the container holds that model's config
  --config ID     quantize every 2-D weight with this config id (e.g. ternary_absmean.g64.f16)
  --plan FILE     per-layer configs from an allocator plan (plan-<budget>.json)
  --calib FILE    calibration text for +gptq configs (default <model>/calib.txt)
  --calib-bytes N its first N bytes (default ${DEFAULT_CALIB_BYTES}, as the sweep)
  --bytes N       evaluate the first N bytes (default 65536)
  --all           evaluate all of the text
  --text FILE     held-out text (default <model>/val.txt)
  --activations A fp32 (default) or int8: every linear layer's input quantized per token
                  (absmax/127, as the integer kernels do) before its matmul — the W×A8 model
  --threads N     threads for the C kernels (default: all cores)
  --no-fp32       with a quantized model: skip the fp32 baseline (by default it is evaluated on the
                  same text and the difference printed as Δ)
  --json          print one JSON object {bpb, bits_per_param, bytes, fp32_bpb, delta_bpb} last on stdout
  -h, --help`;

async function main(): Promise<void> {
  const { values: f } = parseFlags(Deno.args, {
    model: { type: "string", default: DEFAULT_MODEL },
    config: { type: "string" },
    plan: { type: "string" },
    subbit: { type: "string" },
    calib: { type: "string" },
    "calib-bytes": { type: "string" },
    bytes: { type: "string", default: "65536" },
    all: { type: "boolean", default: false },
    text: { type: "string" },
    threads: { type: "string" },
    activations: { type: "string" },
    json: { type: "boolean", default: false },
    "no-fp32": { type: "boolean", default: false },
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
  const activations = parseActivations(f.activations);
  const subbit = f.subbit ?? (f.model!.endsWith(".subbit") ? f.model : undefined);
  if (subbit && (f.config || f.plan)) {
    throw new InputError(`${subbit} is already quantized: --config/--plan do not apply to a .subbit model`);
  }
  const calibBytes = Number(f["calib-bytes"] ?? DEFAULT_CALIB_BYTES);
  if (!Number.isInteger(calibBytes) || calibBytes < 2) {
    throw new InputError(`--calib-bytes: '${f["calib-bytes"]}' is not an integer ≥ 2`);
  }
  const m = subbit
    ? await fromSubbit(subbit)
    : await fromModel(f.model!, f.config, f.plan, { calibPath: f.calib, bytes: calibBytes });
  const config = parseNeoxConfig(m.rawConfig, subbit ?? f.model!);
  const textPath = f.text ?? m.textPath;
  let text: Uint8Array;
  try {
    text = await Deno.readFile(textPath);
  } catch {
    throw new InputError(`${textPath}: cannot read the held-out text (give --text)`);
  }
  if (!f.all) text = text.subarray(0, bytes);
  const bar = progress(Math.ceil(text.length / config.max_position_embeddings), "eval");
  const r = await evaluateBpb(config, m.weights, text, threads, bar, activations);
  bar.finish();
  const secs = r.seconds;
  console.error(
    `bpb ${r.bpb.toFixed(5)} over ${r.predicted} predicted bytes of ${r.bytes}; ${
      m.bitsPerParam.toFixed(4)
    } bits/param (${m.quantized} of ${m.tensors} tensors quantized); ${activations} activations; ${secs.toFixed(1)} s`,
  );
  // the quantized model's cost in bpb: the fp32 model on the same text, same activations
  let fp32Bpb: number | null = null;
  const fp32 = m.quantized > 0 && !f["no-fp32"] ? await m.fp32() : null;
  if (fp32) {
    fp32Bpb = (await evaluateBpb(config, fp32, text, threads, undefined, activations)).bpb;
    const d = r.bpb - fp32Bpb;
    console.error(`Δ ${d >= 0 ? "+" : ""}${d.toFixed(5)} bpb against fp32 (${fp32Bpb.toFixed(5)} bpb, same text)`);
  } else if (m.quantized > 0 && !f["no-fp32"]) {
    console.error(
      "no Δ against fp32: no unquantized copy of this model is readable here (e.g. the source of a .subbit)",
    );
  }
  if (f.json) {
    console.log(JSON.stringify({
      bpb: r.bpb,
      bits_per_param: m.bitsPerParam,
      bytes: r.bytes,
      activations,
      fp32_bpb: fp32Bpb,
      delta_bpb: fp32Bpb === null ? null : r.bpb - fp32Bpb,
    }));
  }
}

interface EvalModel {
  rawConfig: Record<string, unknown>;
  weights: Weights;
  bitsPerParam: number;
  quantized: number;
  tensors: number;
  textPath: string;
  /** The unquantized weights, for the Δ against fp32 (null when they cannot be read). */
  fp32: () => Promise<Weights | null>;
}

/** A model folder/file, quantized in memory by --config or --plan. */
async function fromModel(
  path: string,
  config: string | undefined,
  planFile: string | undefined,
  calib: { calibPath?: string; bytes: number },
): Promise<EvalModel> {
  const src = await openModel(path);
  const weights = await readAllWeights(src);
  const plan = config
    ? uniformPlan(src, parseConfigId(config))
    : planFile
    ? resolvePlan((await readPlan(planFile)).layers, src)
    : new Map();
  const hessians = planNeedsCalibration(plan) ? await calibrationFor(src, weights, calib) : null;
  const a = applyPlan(src, weights, plan, hessians);
  // A GGUF evaluated as stored: its true size is the file's, its quantized tensors the block-typed ones.
  const asStored = src.format === "gguf" && plan.size === 0;
  return {
    rawConfig: src.config,
    weights: a.weights,
    bitsPerParam: asStored ? (8 * (await Deno.stat(src.files[0])).size) / a.params : a.bitsPerParam,
    quantized: asStored ? src.tensors.filter((t) => isBlockDtype(t.dtype)).length : plan.size,
    tensors: src.tensors.length,
    fp32: () => Promise.resolve(asStored ? null : weights),
    textPath: (await Deno.stat(path)).isDirectory
      ? `${path}/val.txt`
      : await firstExisting([`${dirname(path)}/val.txt`, await defaultModelText(src.config)]) ??
        `${dirname(path)}/val.txt`,
  };
}

/** A .subbit container, decoded as stored. */
async function fromSubbit(path: string): Promise<EvalModel> {
  const m = await loadSubbitModel(path);
  const beside = `${dirname(path)}/val.txt`;
  const source = `${m.header.source?.path}/val.txt`;
  return {
    rawConfig: m.header.model_config,
    weights: m.weights,
    bitsPerParam: m.bitsPerParam,
    quantized: m.quantized,
    tensors: m.weights.size,
    fp32: async () => {
      const from = m.header.source?.path;
      try {
        const src = await openModel(String(from));
        const own = parseNeoxConfig(src.config, String(from));
        return sameNeoxArchitecture(own, parseNeoxConfig(m.header.model_config, path))
          ? await readAllWeights(src)
          : null;
      } catch {
        return null;
      }
    },
    textPath: await firstExisting([beside, source, await defaultModelText(m.header.model_config)]) ?? beside,
  };
}

/**
 * The default model's val.txt when a container or a single model file holds
 * that model's architecture (the shipped QAT models, a GGUF exported from it).
 */
async function defaultModelText(config: Record<string, unknown>): Promise<string | null> {
  try {
    const own = parseNeoxConfig(JSON.parse(await Deno.readTextFile(`${DEFAULT_MODEL}/config.json`)), DEFAULT_MODEL);
    const theirs = parseNeoxConfig(config, "model");
    return sameNeoxArchitecture(own, theirs) ? `${DEFAULT_MODEL}/val.txt` : null;
  } catch {
    return null;
  }
}

async function firstExisting(paths: (string | null)[]): Promise<string | null> {
  for (const p of paths) if (p && await exists(p)) return p;
  return null;
}

async function exists(p: string): Promise<boolean> {
  try {
    return (await Deno.stat(p)).isFile;
  } catch {
    return false;
  }
}

if (import.meta.main) await runMain("eval", main);
