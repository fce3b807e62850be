/**
 * Issue 22's acceptance: GGUF files exported from the reference model load
 * in the real llama.cpp (node-llama-cpp's CPU build) and score the held-out
 * text like `deno task eval` of the same weights, within 2e-3 bpb; an
 * exported GGUF reads back as exactly the weights subbit measured, and
 * sweep, pack and eval run on it.
 */
import { strict as assert } from "node:assert";
import { quantizeWeight } from "../lib/quant/transforms.ts";
import { parseConfigId } from "../lib/quant/config_id.ts";
import { openModel } from "../lib/tensor/model.ts";
import { readGgufHeader } from "../lib/tensor/gguf.ts";
import { assertOneLine, lastJson, runTask } from "./fixtures/cli.ts";

const MODEL = "models/neox-tiny";
const BYTES = "16384";
const TOLERANCE = 2e-3;

/** The mixed plan: ternary MLPs, Q8_0 qkv, Q4_0 (+gptq on odd layers) attention output. */
function mixedPlan(layers: number): Record<string, string> {
  const plan: Record<string, string> = {};
  for (let i = 0; i < layers; i++) {
    const p = `gpt_neox.layers.${i}.`;
    plan[`${p}mlp.dense_h_to_4h.weight`] = "ternary_absmean.g256.f16";
    plan[`${p}mlp.dense_4h_to_h.weight`] = "ternary_absmean.g256.f16";
    plan[`${p}attention.query_key_value.weight`] = "rtn_sym.b8.g32.f16";
    plan[`${p}attention.dense.weight`] = i % 2 ? "rtn_sym.b4.g32.f16+gptq" : "rtn_sym.b4.g32.f16";
  }
  return plan;
}

async function evalJson(...args: string[]): Promise<Record<string, number>> {
  const r = await runTask("eval", "--bytes", BYTES, "--json", ...args);
  assert.equal(r.code, 0, r.stderr);
  return lastJson(r);
}

Deno.test("export: ternary TQ2_0/TQ1_0 and a mixed plan match eval of the same weights in llama.cpp", async () => {
  const dir = await Deno.makeTempDir();
  const planFile = `${dir}/plan.json`;
  await Deno.writeTextFile(planFile, JSON.stringify({ layers: mixedPlan(6) }));
  const cases = [
    { what: "ternary tq2_0", args: ["--config", "ternary_absmean.g256.f16"], types: { TQ2_0: 26 } },
    {
      what: "ternary tq1_0",
      args: ["--config", "ternary_absmean.g256.f16", "--ternary-type", "tq1_0"],
      types: { TQ1_0: 26 },
    },
    { what: "mixed plan", args: ["--plan", planFile], types: { TQ2_0: 12, Q8_0: 6, Q4_0: 6, F32: 52 } },
  ];
  for (const c of cases) {
    const out = `${dir}/${c.what.replace(/ /g, "_")}.gguf`;
    const r = await runTask("export", ...c.args, "--out", out, "--verify", "--bytes", BYTES, "--json", "--quiet");
    assert.equal(r.code, 0, `${c.what}: ${r.stderr}`);
    const j = lastJson(r) as unknown as Record<string, number> & { types: Record<string, number> };
    for (const [t, n] of Object.entries(c.types)) assert.equal(j.types[t], n, `${c.what}: ${t} tensors`);
    assert.ok(Math.abs(j.diff) <= TOLERANCE, `${c.what}: llama.cpp ${j.llama_cpp_bpb} vs subbit ${j.subbit_bpb}`);
    assert.ok(j.llama_cpp_bpb > 1 && j.llama_cpp_bpb < 8, `${c.what}: a real score, not a degenerate one`);
    // subbit's side of --verify is `deno task eval` of the same weights: the GGUF as stored, and the plan in memory.
    const stored = await evalJson("--model", out);
    assert.equal(stored.bpb, j.subbit_bpb, `${c.what}: eval --model file.gguf`);
    const planned = await evalJson(...c.args.filter((a) => !a.startsWith("--ternary") && !a.startsWith("tq")));
    assert.equal(planned.bpb, j.subbit_bpb, `${c.what}: eval ${c.args[0]}`);
  }
});

Deno.test("export: a GGUF reads back as exactly Ŵ; sweep, pack and eval run on it", async () => {
  const dir = await Deno.makeTempDir();
  const out = `${dir}/q4.gguf`;
  const id = "rtn_sym.b4.g32.f16";
  const r = await runTask("export", "--config", id, "--out", out, "--quiet");
  assert.equal(r.code, 0, r.stderr);
  const header = await readGgufHeader(out);
  assert.equal(header.metadata["general.architecture"], "gptneox");
  assert.ok(header.tensors.some((t) => t.name === "blk.0.attn_qkv.weight" && t.dtype === "Q4_0"));
  const orig = await openModel(MODEL), back = await openModel(out);
  assert.deepEqual(back.tensors.map((t) => t.name).sort(), orig.tensors.map((t) => t.name).sort());
  for (const t of orig.tensors) {
    const w = (await orig.read(t.name)).data, got = (await back.read(t.name)).data;
    const want = t.shape.length === 2
      ? quantizeWeight({ name: t.name, rows: t.shape[0], cols: t.shape[1], data: w }, parseConfigId(id)).dequantize()
      : w;
    assert.ok(want.every((v, i) => v === got[i]), `${t.name}: read back differs from Ŵ`);
  }
  // A sweep of the GGUF with its own config finds nothing left to round: every rel_error is 0.
  const sweep = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tasks/sweep.ts", "--model", out, "--methods", "rtn_sym", "--bits", "4", "--group-sizes", "32"]
      .concat(["--scale-dtypes", "f16", "--no-kernels", "--no-calib", "--no-coding", "--quiet", "--out", `${dir}/run`]),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(sweep.code, 0, new TextDecoder().decode(sweep.stderr));
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}/run/manifest.json`));
  assert.equal(manifest.status, "complete");
  const pl = await import("nodejs-polars");
  const rows = pl.default.readParquet(`${dir}/run/rows.parquet`);
  assert.equal(rows.height, 26);
  assert.equal(Math.max(...(rows.getColumn("rel_error").toArray() as number[])), 0);
  // pack the GGUF as a .subbit and evaluate both: the same weights, the same bpb.
  const packed = await runTask("pack", "--model", out, "--config", id, "--out", `${dir}/q4.subbit`, "--quiet");
  assert.equal(packed.code, 0, packed.stderr);
  const a = await evalJson("--model", out), b = await evalJson("--subbit", `${dir}/q4.subbit`);
  assert.equal(a.bpb, b.bpb);
});

Deno.test("export: configs no ggml type holds are refused naming the nearest exact one; bad flags exit 2", async () => {
  const dir = await Deno.makeTempDir();
  assertOneLine(
    await runTask("export", "--config", "hqq.b2.g64.f16", "--out", `${dir}/a.gguf`),
    /no exact GGUF type .*nearest exact: ternary_absmean\.g256\.f16.*--fallback f16/,
    "hqq",
  );
  assertOneLine(
    await runTask("export", "--config", "rtn_sym.b4.g64.f16", "--out", `${dir}/a.gguf`),
    /nearest exact: rtn_sym\.b4\.g32\.f16/,
    "g64",
  );
  assertOneLine(
    await runTask("export", "--config", "ternary_absmean.g256.f16", "--ternary-type", "tq3", "--out", `${dir}/a.gguf`),
    /--ternary-type/,
    "ternary type",
  );
  assertOneLine(
    await runTask("export", "--config", "f16", "--format", "onnx", "--out", `${dir}/a.gguf`),
    /--format/,
    "fmt",
  );
  await Deno.writeTextFile(`${dir}/keep.gguf`, "precious");
  assertOneLine(
    await runTask("export", "--config", "f16", "--out", `${dir}/keep.gguf`),
    /exists .*--overwrite/,
    "exists",
  );
  assert.equal(await Deno.readTextFile(`${dir}/keep.gguf`), "precious");
  const fb = await runTask(
    "export",
    "--config",
    "hqq.b2.g64.f16",
    "--fallback",
    "f16",
    "--out",
    `${dir}/f.gguf`,
    "--quiet",
  );
  assert.equal(fb.code, 0, fb.stderr);
  const h = await readGgufHeader(`${dir}/f.gguf`);
  assert.equal((h.metadata["subbit.fallback_f16"] as string[]).length, 26);
  assert.ok(h.tensors.filter((t) => t.shape.length === 2).every((t) => t.dtype === "F16"));
});
