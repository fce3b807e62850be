/** deno task export — a quantized GPT-NeoX model as a GGUF file llama.cpp runs, optionally verified in llama.cpp. */
import { dirname } from "node:path";
import { parseFlags, runMain } from "../lib/cli/main.ts";
import { InputError } from "../lib/errors.ts";
import {
  DENSE_STORAGE,
  type DenseStorage,
  type ExportChoice,
  exportTensors,
  planExport,
  TERNARY_TYPES,
  type TernaryType,
} from "../lib/interop/gguf_export.ts";
import { writeGguf } from "../lib/interop/gguf_write.ts";
import { llamaCppBpb, nodeLlamaCppVersion } from "../lib/interop/llama_cpp.ts";
import { evaluateBpb } from "../lib/model/bpb.ts";
import { calibrationFor, DEFAULT_CALIB_BYTES, planNeedsCalibration } from "../lib/model/calibration.ts";
import { parseNeoxConfig, readAllWeights } from "../lib/model/neox.ts";
import { readPlan, resolvePlan, uniformPlan } from "../lib/model/plan.ts";
import { subbitVersion } from "../lib/results/environment.ts";
import { checkOutFile } from "../lib/out_path.ts";
import type { QuantConfig } from "../lib/quant/types.ts";
import { parseConfigId } from "../lib/quant/config_id.ts";
import { progress } from "../lib/cli/progress.ts";
import { openModel } from "../lib/tensor/model.ts";
import { DEFAULT_MODEL } from "./sweep.ts";

/** llama.cpp and subbit may differ this much in bpb on the same weights (tanh GELU, q8 activations in ggml). */
export const VERIFY_TOLERANCE = 2e-3;

const HELP = `deno task export --format gguf (--config ID | --plan FILE) --out F.gguf [--model PATH] [--verify]

Write a GPT-NeoX model as a GGUF v3 file for llama.cpp (architecture gptneox,
byte vocabulary: token id = byte value), each quantized tensor in the ggml
type that holds exactly the values subbit measured:

  rtn_sym.b8.g32.f16 → Q8_0   rtn_sym.b4.g32.f16 → Q4_0   (+gptq too)
  ternary_absmean.g256.f16 → TQ2_0 (or TQ1_0 with --ternary-type tq1_0)
  f32 / f16 / bf16 (plan entries or --config) → F32 / F16 / BF16

Unplanned tensors stay F32. A config no ggml type holds (e.g. +had, hqq,
group sizes other than the type's block) is refused, naming the nearest
exact config — or stored as F16 of its Ŵ with --fallback f16 (listed in the
file's subbit.fallback_f16 metadata).

  --format gguf        output format (only gguf)
  --model PATH         GPT-NeoX model folder or file (default ${DEFAULT_MODEL})
  --config ID          every 2-D weight with one config id (or f32/f16/bf16)
  --plan FILE          per-tensor config ids ({"layers": {tensor: id}}, the allocator's plan-*.json)
  --ternary-type T     tq2_0 (default: 2 bits/weight, fastest) or tq1_0 (1.69 bits/weight)
  --fallback f16       store configs with no exact ggml type as F16 of Ŵ instead of refusing
  --calib FILE         calibration text for +gptq configs (default <model>/calib.txt)
  --calib-bytes N      its first N bytes (default ${DEFAULT_CALIB_BYTES})
  --out F.gguf         output file (required; an existing file only with --overwrite)
  --overwrite          replace an existing --out file
  --verify             load the file in llama.cpp (node-llama-cpp, CPU), evaluate the held-out text with
                       the reference protocol, and compare with subbit's bpb of the same weights (read back
                       from the file); exit 1 when they differ by more than ${VERIFY_TOLERANCE}
  --bytes N            held-out bytes for --verify (default 65536); --all for the whole text
  --text FILE          held-out text (default <model>/val.txt)
  --threads N          threads for both evaluations (default: all cores)
  --json               print one JSON object last on stdout
  -h, --help`;

async function main(): Promise<void> {
  const { values: f } = parseFlags(Deno.args, {
    format: { type: "string", default: "gguf" },
    model: { type: "string", default: DEFAULT_MODEL },
    config: { type: "string" },
    plan: { type: "string" },
    "ternary-type": { type: "string", default: "tq2_0" },
    fallback: { type: "string" },
    calib: { type: "string" },
    "calib-bytes": { type: "string" },
    out: { type: "string" },
    overwrite: { type: "boolean", default: false },
    verify: { type: "boolean", default: false },
    bytes: { type: "string", default: "65536" },
    all: { type: "boolean", default: false },
    text: { type: "string" },
    threads: { type: "string" },
    json: { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (f.help) return console.log(HELP);
  if (f.format !== "gguf") throw new InputError(`--format: '${f.format}' is not supported (gguf)`);
  if (f.config && f.plan) throw new InputError("give --config or --plan, not both");
  if (!f.config && !f.plan) throw new InputError("--config or --plan is required (e.g. --config rtn_sym.b4.g32.f16)");
  if (!TERNARY_TYPES.includes(f["ternary-type"] as TernaryType)) {
    throw new InputError(`--ternary-type: '${f["ternary-type"]}' is not one of ${TERNARY_TYPES.join(", ")}`);
  }
  if (f.fallback !== undefined && f.fallback !== "f16") {
    throw new InputError(`--fallback: '${f.fallback}' is not supported (f16)`);
  }
  if (f.out === undefined) throw new InputError("--out is required (e.g. --out model.gguf)");
  const bytes = Number(f.bytes);
  if (!Number.isInteger(bytes) || bytes < 2) throw new InputError(`--bytes: '${f.bytes}' is not an integer ≥ 2`);
  const threads = f.threads === undefined ? navigator.hardwareConcurrency : Number(f.threads);
  if (!Number.isInteger(threads) || threads < 1) {
    throw new InputError(`--threads: '${f.threads}' is not a positive integer`);
  }
  const calibBytes = Number(f["calib-bytes"] ?? DEFAULT_CALIB_BYTES);
  if (!Number.isInteger(calibBytes) || calibBytes < 2) {
    throw new InputError(`--calib-bytes: '${f["calib-bytes"]}' is not an integer ≥ 2`);
  }
  await checkOutFile("out", f.out, f.overwrite!);

  const src = await openModel(f.model!);
  const neox = parseNeoxConfig(src.config, f.model!);
  const plan = f.plan
    ? resolvePlan((await readPlan(f.plan)).layers, src, parseChoice)
    : uniformPlan<ExportChoice>(src, parseChoice(f.config!));
  const exp = planExport(src, neox, plan, {
    ternaryType: f["ternary-type"] as TernaryType,
    fallback: f.fallback as "f16" | undefined,
  }, {
    "subbit.source_model": { type: "string", value: f.model! },
    "subbit.version": { type: "string", value: await subbitVersion() },
  });
  const weights = await readAllWeights(src);
  const quantized = new Map([...plan].filter((e): e is [string, QuantConfig] => typeof e[1] !== "string"));
  const hessians = planNeedsCalibration(quantized)
    ? await calibrationFor(src, weights, { calibPath: f.calib, bytes: calibBytes })
    : null;
  const bar = f.quiet ? undefined : progress(exp.tensors.length, "export");
  const fileBytes = await writeGguf(
    f.out,
    exp.metadata,
    exportTensors(exp, weights, neox, hessians),
    (i) => bar?.tick(i + 1, exp.tensors[i].ggufName),
  );
  bar?.finish();
  const params = exp.tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  const types = new Map<string, number>();
  for (const t of exp.tensors) types.set(t.typeName, (types.get(t.typeName) ?? 0) + 1);
  const fallbacks = exp.tensors.filter((t) => t.fallback).length;
  console.error(
    `${f.out}: ${exp.tensors.length} tensors (${[...types].map(([k, n]) => `${n} ${k}`).join(", ")}${
      fallbacks ? `; ${fallbacks} stored as F16 by --fallback` : ""
    }), ${fileBytes} bytes = ${((8 * fileBytes) / params).toFixed(4)} bits/param over ${params} params`,
  );
  const summary: Record<string, unknown> = {
    out: f.out,
    file_bytes: fileBytes,
    bits_per_param: (8 * fileBytes) / params,
    types: Object.fromEntries(types),
    fallback_f16: fallbacks,
  };
  if (f.verify) {
    Object.assign(
      summary,
      await verify(f.out, f.text ?? defaultText(f.model!), f.all ? null : bytes, threads, f.quiet!),
    );
  }
  if (f.json) console.log(JSON.stringify(summary));
  if (f.verify && !(Math.abs(summary.diff as number) <= VERIFY_TOLERANCE)) {
    console.error(
      `export: verify FAILED: |llama.cpp − subbit| = ${Math.abs(summary.diff as number)} > ${VERIFY_TOLERANCE}`,
    );
    Deno.exit(1);
  }
}

/** llama.cpp's bpb of the written file beside subbit's bpb of the same weights read back from it. */
async function verify(
  path: string,
  textPath: string,
  bytes: number | null,
  threads: number,
  quiet: boolean,
): Promise<Record<string, unknown>> {
  let text: Uint8Array;
  try {
    text = await Deno.readFile(textPath);
  } catch {
    throw new InputError(`${textPath}: cannot read the held-out text (give --text)`);
  }
  if (bytes !== null) text = text.subarray(0, bytes);
  const back = await openModel(path);
  const neox = parseNeoxConfig(back.config, path);
  const windows = Math.ceil(text.length / neox.max_position_embeddings);
  const bar1 = quiet ? undefined : progress(windows, "subbit");
  const ours = await evaluateBpb(neox, await readAllWeights(back), text, threads, bar1);
  bar1?.finish();
  const bar2 = quiet ? undefined : progress(windows, "llama.cpp");
  const theirs = await llamaCppBpb(path, text, neox.max_position_embeddings, threads, bar2);
  bar2?.finish();
  const diff = theirs.bpb - ours.bpb;
  const binding = await nodeLlamaCppVersion();
  console.error(
    `verify on ${ours.predicted} predicted bytes of ${textPath}: subbit ${ours.bpb.toFixed(6)} bpb, llama.cpp ${
      theirs.bpb.toFixed(6)
    } bpb (${theirs.release}, node-llama-cpp ${binding}), difference ${diff >= 0 ? "+" : ""}${
      diff.toExponential(2)
    } (tolerance ${VERIFY_TOLERANCE})`,
  );
  return {
    subbit_bpb: ours.bpb,
    llama_cpp_bpb: theirs.bpb,
    diff,
    tolerance: VERIFY_TOLERANCE,
    predicted: ours.predicted,
    llama_cpp_release: theirs.release,
    node_llama_cpp: binding,
  };
}

/** val.txt beside the model (inside a model folder, or next to a model file). */
function defaultText(model: string): string {
  return model.endsWith(".gguf") || model.endsWith(".safetensors") ? `${dirname(model)}/val.txt` : `${model}/val.txt`;
}

function parseChoice(id: string): ExportChoice {
  return DENSE_STORAGE.includes(id as DenseStorage) ? id as DenseStorage : parseConfigId(id);
}

if (import.meta.main) await runMain("export", main);
