/** deno task qat — quantization-aware training (PyTorch), then pack and evaluate with subbit's own code. */
import { createHash } from "node:crypto";
import { parseFlags, runMain } from "../lib/cli/main.ts";
import { describeContainer, packModel } from "../lib/pack/pack.ts";
import { InputError } from "../lib/errors.ts";
import { evaluateBpb } from "../lib/model/bpb.ts";
import { parseNeoxConfig, readAllWeights } from "../lib/model/neox.ts";
import { readPlan, resolvePlan } from "../lib/model/plan.ts";
import { loadSubbitModel } from "../lib/model/subbit_model.ts";
import { type CardEval, renderQatCard } from "../lib/qat/card.ts";
import { checkQatPlan } from "../lib/qat/plan_check.ts";
import { progress } from "../lib/cli/progress.ts";
import { openModel } from "../lib/tensor/model.ts";
import { DEFAULT_MODEL } from "./sweep.ts";

const PYTHON = "/usr/bin/python3";

const HELP = `deno task qat --plan PLAN.json --out DIR [--model PATH] [--steps N] [--minutes M] [--distill W] [--seed S]

Quantization-aware training: fine-tune a GPT-NeoX checkpoint with every 2-D
weight the plan names fake-quantized by its config (straight-through
estimator; tasks/qat.py with Debian's PyTorch, installed with apt-get when
missing), then quantize the latent weights with subbit's TypeScript quantizers
into DIR/model.subbit and measure it. A plan is the allocator's plan-*.json
format ({"layers": {tensor: config_id}}): allocate → qat → pack chain.
Trainable methods: ternary_absmean, sparse_klevel, rtn_sym, rtn_asym, sign,
hqq (trained on its RTN grid, quantized by HQQ); scales f16 or bf16.

Writes into DIR: model.safetensors (latent fp32, HF names), config.json,
plan.json, qat_log.json, model.subbit, result.json and a model card README.md.

  --plan FILE          per-tensor config ids (required)
  --out DIR            output folder (required; refused when it holds a model.subbit, unless --overwrite)
  --model PATH         GPT-NeoX folder to start from (default ${DEFAULT_MODEL})
  --steps N            optimizer steps (default 1500; --steps 20 is a smoke run)
  --minutes M          stop after M minutes instead (schedules then follow wall time, not bit-reproducible)
  --distill W          weight of KL(fp32 teacher ‖ student) beside cross-entropy (default 1; 0 = CE only)
  --sparsity-ramp F    fraction of training over which sparse_klevel's zeros grow to the target (default 0.3)
  --ramp-shape S       cubic (default, Zhu & Gupta: s·(1 − (1 − t/T)³)) or linear
  --lr X               peak AdamW learning rate (default 0.001)
  --batch N            sequences of 256 bytes per step (default 32)
  --seed S             seed of data order and initialisation (default 1234)
  --threads N          PyTorch and C-kernel threads (default: all cores)
  --text FILE          held-out text (default <model>/val.txt)
  --eval-bytes N       held-out bytes of the quick evaluation (default 65536, the card's "first 64 KB")
  --eval-all           also evaluate all of the held-out text (QAT, same plan without QAT, fp32), for the card
  --title T            the card's title (default the folder name)
  --measure-only       no training: pack, measure and write the card from the latent checkpoint already in
                       DIR (a finished run, e.g. to add --eval-all; the card keeps the run's own command)
  --overwrite          replace an existing DIR/model.subbit
  -h, --help`;

function positiveInt(flag: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InputError(`--${flag}: '${v}' is not a positive integer`);
  return n;
}

function numberIn(flag: string, v: string | undefined, dflt: number, lo: number, hi: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v.trim() === "" || !(n >= lo && n <= hi)) {
    throw new InputError(`--${flag}: '${v}' is not a number in [${lo}, ${hi}]`);
  }
  return n;
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[]): Promise<number> {
  const p = new Deno.Command(cmd, { args, stdin: "null", stdout: "inherit", stderr: "inherit" }).spawn();
  return (await p.status).code;
}

/** Debian's PyTorch under /usr/bin/python3, installed with apt-get when missing. */
export async function ensureTorch(): Promise<void> {
  const probe = await new Deno.Command(PYTHON, { args: ["-c", "import torch"], stdout: "null", stderr: "null" })
    .output().catch(() => ({ code: 127 }));
  if (probe.code === 0) return;
  console.error("qat: installing Debian's python3-torch (apt-get, once; several minutes)…");
  const sudo = Deno.uid?.() === 0 ? [] : ["sudo"];
  const apt = (args: string[]) => run(sudo[0] ?? "apt-get", sudo.length ? ["apt-get", ...args] : args);
  if ((await apt(["update", "-qq"])) !== 0 || (await apt(["install", "-y", "-qq", "python3-torch"])) !== 0) {
    throw new Error("apt-get could not install python3-torch");
  }
}

/** Run tasks/qat.py (PyTorch) into `out`: flags are passed through as --name value. */
async function train(out: string, plan: Record<string, string>, flags: Record<string, string | number>): Promise<void> {
  await ensureTorch();
  await Deno.mkdir(out, { recursive: true });
  const planFile = `${out}/plan.input.json`;
  await Deno.writeTextFile(planFile, JSON.stringify({ layers: plan }, null, 2) + "\n");
  const args = [new URL("./qat.py", import.meta.url).pathname, "--plan", planFile, "--out", out];
  for (const [k, v] of Object.entries(flags)) args.push(`--${k}`, String(v));
  const code = await run(PYTHON, args);
  await Deno.remove(planFile).catch(() => {});
  if (code !== 0) throw new Error(`tasks/qat.py exited with status ${code}`);
}

async function sha256(path: string): Promise<string> {
  return createHash("sha256").update(await Deno.readFile(path)).digest("hex");
}

async function main(): Promise<void> {
  const { values: f } = parseFlags(Deno.args, {
    plan: { type: "string" },
    out: { type: "string" },
    model: { type: "string", default: DEFAULT_MODEL },
    steps: { type: "string" },
    minutes: { type: "string" },
    distill: { type: "string" },
    "sparsity-ramp": { type: "string" },
    "ramp-shape": { type: "string", default: "cubic" },
    lr: { type: "string" },
    batch: { type: "string" },
    seed: { type: "string" },
    threads: { type: "string" },
    text: { type: "string" },
    "eval-bytes": { type: "string" },
    "eval-all": { type: "boolean", default: false },
    title: { type: "string" },
    overwrite: { type: "boolean", default: false },
    "measure-only": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (f.help) return console.log(HELP);
  if (!f.plan) {
    throw new InputError("--plan is required (e.g. --plan results/published/allocate-default/plan-1.5.json)");
  }
  if (!f.out) throw new InputError("--out is required (e.g. --out /tmp/qat)");
  const steps = positiveInt("steps", f.steps, 1500);
  const minutes = f.minutes === undefined ? undefined : numberIn("minutes", f.minutes, 0, 0.01, 1e6);
  const distill = numberIn("distill", f.distill, 1, 0, 1e6);
  const ramp = numberIn("sparsity-ramp", f["sparsity-ramp"], 0.3, 0, 1);
  if (f["ramp-shape"] !== "cubic" && f["ramp-shape"] !== "linear") {
    throw new InputError(`--ramp-shape: '${f["ramp-shape"]}' is not cubic or linear`);
  }
  const lr = numberIn("lr", f.lr, 1e-3, 1e-9, 1);
  const batch = positiveInt("batch", f.batch, 32);
  const seed = f.seed === undefined ? 1234 : Number(f.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new InputError(`--seed: '${f.seed}' is not a non-negative integer`);
  const threads = positiveInt("threads", f.threads, navigator.hardwareConcurrency);
  const evalBytes = positiveInt("eval-bytes", f["eval-bytes"], 65536);
  const out = f.out.replace(/\/+$/, "");
  const subbitPath = `${out}/model.subbit`;
  const measureOnly = f["measure-only"]!;
  if (measureOnly && !(await exists(`${out}/qat_log.json`))) {
    throw new InputError(`--measure-only: ${out} holds no finished QAT run (no qat_log.json)`);
  }
  if (!f.overwrite && (await exists(subbitPath))) {
    throw new InputError(`${subbitPath} exists (give --overwrite to replace it)`);
  }
  if (await exists(out) && !(await Deno.stat(out)).isDirectory) throw new InputError(`--out ${out} is not a folder`);

  // Everything checked before training starts: the plan against the model, and the held-out text.
  const src = await openModel(f.model!);
  const neox = parseNeoxConfig(src.config, f.model!);
  const plan = (await readPlan(f.plan)).layers;
  const configs = resolvePlan(plan, src);
  checkQatPlan(configs);
  const textPath = f.text ?? `${f.model}/val.txt`;
  let text: Uint8Array;
  try {
    text = await Deno.readFile(textPath);
  } catch {
    throw new InputError(`${textPath}: cannot read the held-out text (give --text)`);
  }
  if (text.length < 2) throw new InputError(`${textPath}: held-out text is shorter than 2 bytes`);

  if (!measureOnly) {
    await train(out, plan, {
      model: f.model!,
      steps,
      distill,
      "sparsity-ramp": ramp,
      "ramp-shape": f["ramp-shape"]!,
      lr,
      batch,
      seed,
      threads,
      "eval-bytes": evalBytes,
      ...(minutes !== undefined ? { minutes } : {}),
    });
  }

  // The hand-off: subbit's own quantizers on the latent weights.
  const latent = await openModel(out);
  const packed = await packModel({ model: out, config: resolvePlan(plan, latent), out: subbitPath, quiet: true });
  console.error(`qat: ${subbitPath}: ${packed.bytes} bytes, ${packed.bitsPerParam.toFixed(4)} bits/param`);

  const head = text.subarray(0, evalBytes);
  const measure = async (label: string, weights: Map<string, Float32Array>, bitsPerParam: number) => {
    const e: CardEval = { label, bitsPerParam, bpb64k: 0 };
    const parts: { key: "bpb64k" | "bpbAll"; t: Uint8Array }[] = [{ key: "bpb64k", t: head }];
    if (f["eval-all"]) parts.push({ key: "bpbAll", t: text });
    for (const { key, t } of parts) {
      const bar = progress(Math.ceil(t.length / neox.max_position_embeddings), `eval ${label}`);
      e[key] = (await evaluateBpb(neox, weights, t, threads, bar)).bpb;
      bar.finish();
    }
    console.error(
      `qat: ${label}: ${e.bpb64k.toFixed(5)} bpb (first 64 KB)` +
        (e.bpbAll !== undefined ? `, ${e.bpbAll.toFixed(5)} (all ${text.length} bytes)` : ""),
    );
    return e;
  };
  // The baseline: the same plan on the starting model, packed and read back the same way.
  const ptqPath = await Deno.makeTempFile({ suffix: ".subbit" });
  let ptq;
  try {
    await packModel({ model: f.model!, config: configs, out: ptqPath, quiet: true });
    ptq = await loadSubbitModel(ptqPath);
  } finally {
    await Deno.remove(ptqPath).catch(() => {});
  }
  const qat = await loadSubbitModel(subbitPath);
  const evals = [
    await measure("QAT (this model, `eval --subbit`)", qat.weights, qat.bitsPerParam),
    await measure("same plan without QAT (post-training)", ptq.weights, ptq.bitsPerParam),
    await measure("fp32 (the starting model)", await readAllWeights(src), 32),
  ];
  const log = JSON.parse(await Deno.readTextFile(`${out}/qat_log.json`));
  const command = measureOnly ? log.command : `deno task qat ${Deno.args.join(" ")}`;
  const card = renderQatCard({
    title: f.title ?? out.split("/").pop()!,
    command,
    log,
    tensors: await describeContainer(subbitPath),
    fileBytes: packed.bytes,
    sha256: await sha256(subbitPath),
    params: packed.params,
    textBytes: text.length,
    evalBytes: Math.min(evalBytes, text.length),
    evals,
  });
  await Deno.writeTextFile(`${out}/README.md`, card);
  const result = {
    model_subbit: subbitPath,
    bytes: packed.bytes,
    params: packed.params,
    bits_per_param: packed.bitsPerParam,
    evals,
    steps: log.steps,
    train_seconds: log.train_seconds,
    seed,
    command,
  };
  await Deno.writeTextFile(`${out}/result.json`, JSON.stringify(result, null, 2) + "\n");
  console.error(`qat: wrote ${out}/README.md and result.json`);
}

if (import.meta.main) await runMain("qat", main);
