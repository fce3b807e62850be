/** pack --plan, eval --subbit and the qat task's CLI: the allocate → qat → pack → eval chain. */
import { strict as assert } from "node:assert";
import { assertOneLine, lastJson, runTask } from "./fixtures/cli.ts";

const MIXED = {
  layers: {
    "gpt_neox.layers.0.mlp.dense_h_to_4h.weight": "sparse_klevel.l3.s0.9.g256.f16",
    "gpt_neox.layers.0.mlp.dense_4h_to_h.weight": "sparse_klevel.l5.s0.8.g64.f16",
    "gpt_neox.layers.1.attention.query_key_value.weight": "hqq.b2.g64.f16",
    "gpt_neox.layers.2.attention.dense.weight": "rtn_sym.b3.g128.bf16",
    "embed_out.weight": "ternary_absmean.g64.f16",
  },
};

async function writePlan(plan: unknown): Promise<string> {
  const p = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(p, JSON.stringify(plan));
  return p;
}

Deno.test("pack --plan writes mixed configs; eval --subbit of it equals eval --plan and counts the whole file", async () => {
  const plan = await writePlan(MIXED);
  const file = `${await Deno.makeTempDir()}/m.subbit`;
  const p = await runTask("pack", "--plan", plan, "--out", file, "--quiet");
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stderr, /5 quantized/);
  const bytes = (await Deno.stat(file)).size;
  assert.match(p.stderr, new RegExp(`whole file ${bytes} bytes`));
  const bySubbit = await runTask("eval", "--subbit", file, "--bytes", "3000", "--json");
  assert.equal(bySubbit.code, 0, bySubbit.stderr);
  const byPlan = await runTask("eval", "--plan", plan, "--bytes", "3000", "--json");
  assert.equal(byPlan.code, 0, byPlan.stderr);
  const a = lastJson(bySubbit),
    b = lastJson(byPlan);
  assert.equal(a.bpb, b.bpb, "the container's Ŵ is exactly the plan's Ŵ");
  const params = 4870144;
  assert.equal(a.bits_per_param, (8 * bytes) / params);
  const asModel = await runTask("eval", "--model", file, "--bytes", "3000", "--json");
  assert.equal(asModel.code, 0, asModel.stderr);
  assert.equal(lastJson(asModel).bpb, a.bpb, "a .subbit as --model");
});

Deno.test("pack/eval/qat: bad flags and plans exit 2 with one line naming the problem", async () => {
  const good = await writePlan(MIXED);
  const ghost = await writePlan({ layers: { "no.such.weight": "hqq.b2.g64.f16" } });
  const fp8 = await writePlan({ layers: { "embed_out.weight": "rtn_sym.b4.g64.fp8_e4m3" } });
  const oneD = await writePlan({ layers: { "gpt_neox.final_layer_norm.weight": "rtn_sym.b4.g64.f16" } });
  const out = `${await Deno.makeTempDir()}/x`;
  const cases: [string, string[], RegExp][] = [
    ["pack", ["--config", "hqq.b2.g64.f16", "--plan", good, "--out", `${out}.subbit`], /--config or --plan, not both/],
    ["pack", ["--out", `${out}.subbit`], /--config or --plan is required/],
    ["pack", ["--plan", ghost, "--out", `${out}.subbit`], /plan names tensor no\.such\.weight/],
    ["pack", ["--plan", good, "--layers", "*", "--out", `${out}.subbit`], /--layers goes with --config/],
    ["eval", ["--subbit", "/nonexistent.subbit", "--config", "hqq.b2.g64.f16"], /already quantized/],
    ["eval", ["--subbit", "/nonexistent.subbit"], /\/nonexistent\.subbit: cannot open/],
    ["qat", ["--out", out], /--plan is required/],
    ["qat", ["--plan", good], /--out is required/],
    ["qat", ["--plan", good, "--out", out, "--steps", "0"], /--steps: '0' is not a positive integer/],
    ["qat", ["--plan", good, "--out", out, "--ramp-shape", "cosine"], /--ramp-shape: 'cosine'/],
    ["qat", ["--plan", good, "--out", out, "--sparsity-ramp", "1.5"], /--sparsity-ramp: '1.5'/],
    ["qat", ["--plan", fp8, "--out", out], /embed_out\.weight: QAT rounds scales to f16 or bf16 only/],
    ["qat", ["--plan", oneD, "--out", out], /not 2-D/],
    ["qat", ["--plan", ghost, "--out", out], /plan names tensor no\.such\.weight/],
  ];
  for (const [script, args, re] of cases) {
    assertOneLine(await runTask(script, ...args), re, `${script} ${args.join(" ")}`);
  }
});

const hasTorch =
  (await new Deno.Command("/usr/bin/python3", { args: ["-c", "import torch"], stdout: "null", stderr: "null" })
    .output().catch(() => ({ code: 1 }))).code === 0;

Deno.test({
  name: "qat --steps 20 smoke run (PyTorch): latent checkpoint, .subbit, card and result, measured by subbit",
  ignore: !hasTorch,
  async fn() {
    const plan = await writePlan(MIXED);
    const out = `${await Deno.makeTempDir()}/smoke`;
    const t0 = performance.now();
    const r = await runTask(
      "qat",
      "--plan",
      plan,
      "--out",
      out,
      "--steps",
      "20",
      "--batch",
      "4",
      "--eval-bytes",
      "2048",
    );
    assert.equal(r.code, 0, r.stderr);
    console.log(`qat smoke: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const f of ["model.safetensors", "config.json", "plan.json", "qat_log.json", "model.subbit", "README.md"]) {
      assert.ok((await Deno.stat(`${out}/${f}`)).size > 0, f);
    }
    const res = JSON.parse(await Deno.readTextFile(`${out}/result.json`));
    assert.equal(res.steps, 20);
    assert.equal(res.evals.length, 3);
    for (const e of res.evals) assert.ok(Number.isFinite(e.bpb64k) && e.bpb64k > 0, JSON.stringify(e));
    // the container records the latent folder it was packed from, which holds no val.txt: name the text
    const text = ["--text", "models/neox-tiny/val.txt"];
    const ev = await runTask("eval", "--subbit", `${out}/model.subbit`, ...text, "--bytes", "2048", "--json");
    assert.equal(ev.code, 0, ev.stderr);
    assert.equal(lastJson(ev).bpb, res.evals[0].bpb64k);
    const again = await runTask("qat", "--plan", plan, "--out", out, "--steps", "20");
    assert.equal(again.code, 2, "an existing model.subbit is not overwritten without --overwrite");
  },
});
