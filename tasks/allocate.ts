/** deno task allocate — per-layer configs that minimise predicted Δbpb under bit budgets, verified by measurement. */
import pl from "nodejs-polars";
import { parseFlags, parseNumberList, runMain } from "../lib/cli/main.ts";
import { InputError } from "../lib/errors.ts";
import { ensureNative } from "../lib/kernels/native.ts";
import { allocate, measureSensitivity, type Objective, OBJECTIVES, readSensitivity } from "../lib/allocate/allocate.ts";
import { heldoutBpb } from "../lib/model/bpb.ts";
import { NeoxForward, parseActivations, parseNeoxConfig, readAllWeights } from "../lib/model/neox.ts";
import { nativeOps, tsOps } from "../lib/model/ops.ts";
import { applyPlan, resolvePlan, uniformPlan } from "../lib/model/plan.ts";
import { calibrationFor, DEFAULT_CALIB_BYTES } from "../lib/model/calibration.ts";
import { needsCalibration } from "../lib/quant/transforms.ts";
import { configId, parseConfigId } from "../lib/quant/config_id.ts";
import { progress } from "../lib/cli/progress.ts";
import { openModel } from "../lib/tensor/model.ts";
import { DEFAULT_MODEL } from "./sweep.ts";

export const DEFAULT_MENU = [
  // ≤ 1.5 bits: forced sparsity and ternary, rotated and error-fed (calibration: <model>/calib.txt)
  "sparse_klevel.l3.s0.95.g64.f16+had+gptq",
  "sparse_klevel.l3.s0.9.g64.f16+had+gptq",
  "sparse_klevel.l5.s0.8.g64.f16+had+gptq",
  "ternary_absmean.g64.f16+had+gptq",
  // 2 bits, with and without the rotation, two group sizes
  "hqq.b2.g128.f16+gptq",
  "hqq.b2.g64.f16+gptq",
  "hqq.b2.g64.f16+had+gptq",
  // 3–4 bits: a symmetric grid (one scale a group, no zero) is the cheapest near-lossless step
  "rtn_sym.b3.g128.f16+gptq",
  "rtn_sym.b3.g64.f16+gptq",
  "hqq.b3.g128.f16+gptq",
  "hqq.b3.g64.f16+gptq",
  "rtn_sym.b4.g64.f16+gptq",
  "hqq.b4.g64.f16+gptq",
  "hqq.b8.g64.f16",
];

const HELP = `deno task allocate [--model PATH] [--budgets 1,1.5,2,3] [--out DIR] [--menu IDS]

1. Sensitivity: each 2-D weight quantized alone with each menu config; Δbpb measured
   on the LAST --sens-bytes of the held-out text.
2. For each budget (bits per parameter of the whole model: every tensor's .subbit
   record, f32 for norms and biases), the Lagrangian plan minimising Σ Δbpb.
3. Verification on the FIRST --eval-bytes: the plan's measured bpb, fp32, and the
   menu's uniform configs.
Writes DIR/plan-<budget>.json (usable by eval --plan, pack --plan and qat), DIR/sensitivity.parquet,
DIR/uniform.json and DIR/allocate.jsonl (one JSON object per budget, also printed).

  --model PATH       GPT-NeoX model folder (default ${DEFAULT_MODEL})
  --budgets LIST     bits per parameter (default 1,1.5,2,3)
  --out DIR          output folder (default results/allocate-<time>)
  --menu IDS         comma list of config ids (default ${DEFAULT_MENU.join(",")})
  --sens-bytes N     sensitivity slice (default 8192)
  --calib FILE       calibration text for +gptq entries (default <model>/calib.txt)
  --calib-bytes N    its first N bytes (default ${DEFAULT_CALIB_BYTES}, as the sweep)
  --eval-bytes N     verification slice (default 65536)
  --objective O      what a plan minimises, summed over layers: kl_bits (default: each layer's KL divergence
                     from the fp32 model on the slice, bits/byte — never negative, so noise on near-lossless
                     configs cannot pass for a gain) or delta_bpb (its measured Δbpb)
  --sensitivity FILE reuse a previous run's sensitivity.json (its menu and slice) instead of measuring again
  --activations A    fp32 (default) or int8: linear layers' inputs quantized per token (absmax/127)
                     in every evaluation, so plans are chosen and measured for the W×A8 model
  -h, --help`;

async function main(): Promise<void> {
  const { values: f } = parseFlags(Deno.args, {
    model: { type: "string", default: DEFAULT_MODEL },
    budgets: { type: "string", default: "1,1.5,2,3" },
    out: { type: "string" },
    menu: { type: "string" },
    "sens-bytes": { type: "string", default: "8192" },
    calib: { type: "string" },
    "calib-bytes": { type: "string", default: String(DEFAULT_CALIB_BYTES) },
    "eval-bytes": { type: "string", default: "65536" },
    activations: { type: "string" },
    objective: { type: "string", default: "kl_bits" },
    sensitivity: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (f.help) return console.log(HELP);
  const budgets = parseNumberList("budgets", f.budgets!);
  const src = await openModel(f.model!);
  const reused = f.sensitivity ? await readSensitivity(f.sensitivity, src) : null;
  const menuIds = reused ? [...new Set(reused.entries.map((e) => e.config_id))] : f.menu?.split(",") ?? DEFAULT_MENU;
  const menu = menuIds.map((s) => parseConfigId(s.trim()));
  const sensBytes = Number(f["sens-bytes"]), evalBytes = Number(f["eval-bytes"]);
  const calibBytes = Number(f["calib-bytes"]);
  const activations = parseActivations(f.activations);
  const objective = f.objective as Objective;
  if (!OBJECTIVES.includes(objective)) {
    throw new InputError(`--objective: '${f.objective}' is not one of ${OBJECTIVES.join(", ")}`);
  }
  if (f.sensitivity && f.menu) throw new InputError("--sensitivity brings its own menu: drop --menu");
  for (const [k, v] of [["sens-bytes", sensBytes], ["eval-bytes", evalBytes], ["calib-bytes", calibBytes]] as const) {
    if (!Number.isInteger(v) || v < 2) throw new InputError(`--${k}: not an integer ≥ 2`);
  }
  const out = f.out ?? `results/allocate-${new Date().toISOString().replace(/[-:]/g, "").slice(0, 15)}`;
  await Deno.mkdir(out, { recursive: true });

  const config = parseNeoxConfig(src.config, f.model!);
  const val = await Deno.readFile(`${f.model}/val.txt`).catch(() => {
    throw new InputError(`${f.model}/val.txt: the model folder has no held-out text`);
  });
  const sensText = val.subarray(Math.max(0, val.length - sensBytes));
  const evalText = val.subarray(0, evalBytes);
  const weights = await readAllWeights(src);
  const lib = await ensureNative();
  const ops = lib ? nativeOps(lib) : tsOps;
  const layers2d = src.tensors.filter((t) => t.shape.length === 2).length;
  const hessians = menu.some(needsCalibration)
    ? await calibrationFor(src, weights, { calibPath: f.calib, bytes: calibBytes })
    : null;

  const sens = reused ?? measureSensitivity(
    src,
    weights,
    new NeoxForward(config, weights, ops, activations),
    menu,
    sensText,
    progress(layers2d * menu.length, "sensitivity"),
    hessians,
  );
  await Deno.writeTextFile(`${out}/sensitivity.json`, JSON.stringify(sens, null, 1));
  pl.DataFrame(sens.entries as unknown as Record<string, unknown>[]).writeParquet(`${out}/sensitivity.parquet`);

  const evalPlan = (plan: Map<string, ReturnType<typeof parseConfigId>>) => {
    const applied = applyPlan(src, weights, plan, hessians);
    return {
      bpb: heldoutBpb(new NeoxForward(config, applied.weights, ops, activations), evalText).bpb,
      bitsPerParam: applied.bitsPerParam,
    };
  };
  const fp32 = evalPlan(new Map());
  const uniform: { config_id: string; bits_per_param: number; bpb: number }[] = [];
  const ub = progress(menu.length, "uniform");
  for (const c of menu) {
    const r = evalPlan(uniformPlan(src, c));
    uniform.push({ config_id: configId(c), bits_per_param: r.bitsPerParam, bpb: r.bpb });
    ub.tick(uniform.length, configId(c));
  }
  await Deno.writeTextFile(
    `${out}/uniform.json`,
    JSON.stringify({ fp32_bpb: fp32.bpb, fp32_bits_per_param: fp32.bitsPerParam, uniform }, null, 2),
  );

  const lines: string[] = [];
  for (const budget of budgets) {
    const a = allocate(sens, budget, objective);
    const plan = { model: f.model, budget, layers: a.layers };
    await Deno.writeTextFile(`${out}/plan-${budget}.json`, JSON.stringify(plan, null, 2) + "\n");
    const measured = evalPlan(resolvePlan(a.layers, src));
    const above = uniform.filter((u) =>
      u.bits_per_param >= measured.bitsPerParam
    ).sort((x, y) => x.bits_per_param - y.bits_per_param)[0];
    const affordable = uniform.filter((u) =>
      u.bits_per_param <= budget
    ).sort((x, y) => x.bpb - y.bpb)[0];
    const line = JSON.stringify({
      budget,
      bits_per_param: measured.bitsPerParam,
      bpb_predicted: fp32.bpb + a.predictedDeltaBpb,
      bpb_measured: measured.bpb,
      best_uniform_bpb: above?.bpb ?? null,
      best_uniform_config: above?.config_id ?? null,
      best_affordable_uniform_bpb: affordable?.bpb ?? null,
      fp32_bpb: fp32.bpb,
      activations,
      objective,
      plan: `${out}/plan-${budget}.json`,
    });
    console.log(line);
    lines.push(line);
    await Deno.writeTextFile(`${out}/allocate.jsonl`, lines.join("\n") + "\n");
  }
}

if (import.meta.main) await runMain("allocate", main);
