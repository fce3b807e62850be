/**
 * The researcher's path between tasks: the summary ranks by accuracy and is written into the run folder, runs are
 * compared side by side, allocate folders plot, --overwrite leaves no stale report, interrupted runs say so.
 */
import { strict as assert } from "node:assert";
import { readRowRecords } from "../lib/results/frame.ts";

import { runTask as task } from "./fixtures/cli.ts";

const DENO = Deno.execPath();

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);
const SMALL = ["--layers", "gpt_neox.layers.{0,1}.mlp.*", "--group-sizes", "64", "--scale-dtypes", "f16"]
  .concat(["--no-kernels", "--no-coding", "--calib-bytes", "256", "--quiet"]);
const root = await Deno.makeTempDir();
const r1 = `${root}/rtn`, r2 = `${root}/hqq-gptq`;

Deno.test("sweep summary: ranked by delta_bpb when --eval measured it, written to DIR/summary.csv", async () => {
  const evalFlags = ["--eval", "--eval-bytes", "256"];
  const r = await task("sweep", ...SMALL, "--methods", "rtn_asym,hqq", "--bits", "2,4", ...evalFlags, "--out", r1);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /delta_bpb <= 0\.01/);
  const csv = (await Deno.readTextFile(`${r1}/summary.csv`)).trim().split("\n");
  assert.equal(csv[0], "layer_kind,layers,criterion,threshold,best_config,bits_per_param,max_value");
  assert.deepEqual(csv.slice(1).map((l) => l.split(",")[2]), ["delta_bpb", "delta_bpb"]);
  const strict = await task(
    "sweep",
    ...SMALL,
    ...["--methods", "rtn_asym", "--bits", "2", "--criterion", "rel_error", "--threshold", "0.001"],
    ...["--out", `${root}/strict`],
  );
  assert.equal(strict.code, 0, strict.stderr);
  assert.match(strict.stderr, /rel_error <= 0\.001 +\(none meets the threshold\)/);
  const bad = await task("sweep", ...SMALL, "--methods", "rtn_asym", "--criterion", "bpb", "--out", `${root}/bad`);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr.trim(), /^sweep: --criterion: 'bpb' is not one of delta_bpb, out_rel_error, rel_error$/);
});

Deno.test("compare: runs side by side, matched without transforms when their config ids differ; disjoint runs refused", async () => {
  const s = await task("sweep", ...SMALL, "--methods", "hqq", "--bits", "2", "--transforms", "gptq", "--out", r2);
  assert.equal(s.code, 0, s.stderr);
  const out = `${root}/cmp`;
  const c = await task("compare", r1, r2, "--out", out);
  assert.equal(c.code, 0, c.stderr);
  const rows = readRowRecords(`${out}/compare.parquet`);
  assert.deepEqual([...new Set(rows.map((r) => r.match))], ["hqq.b2.g64.f16"]);
  assert.deepEqual([...new Set(rows.map((r) => `${r.run} ${r.config_id}`))].sort(), [
    "hqq-gptq hqq.b2.g64.f16+gptq",
    "rtn hqq.b2.g64.f16",
  ]);
  assert.equal(rows.length, 2 * 4);
  for (const f of ["compare.svg", "compare.png", "index.html"]) assert.ok(await exists(`${out}/${f}`), f);
  // plots over several runs is the same comparison
  const p = await task("plots", r1, r2, "--out", `${root}/cmp2`);
  assert.equal(p.code, 0, p.stderr);
  assert.equal(readRowRecords(`${root}/cmp2/compare.parquet`).length, rows.length);
  const other = `${root}/sign`;
  assert.equal((await task("sweep", ...SMALL, "--methods", "sign", "--out", other)).code, 0);
  const none = await task("compare", r1, other, "--out", `${root}/none`);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /the runs share no config, even without transforms \(rtn: .*; sign: sign\.g64\.f16\)/);
  assert.equal((await task("compare", r1)).code, 2);
});

Deno.test("plots: an allocate folder gets its budget chart; --overwrite removes a run's stale plots", async () => {
  const alloc = `${root}/alloc`;
  await Deno.mkdir(alloc);
  for (const f of ["allocate.jsonl", "sensitivity.parquet"]) {
    await Deno.copyFile(`results/published/allocate-default/${f}`, `${alloc}/${f}`);
  }
  const p = await task("plots", alloc);
  assert.equal(p.code, 0, p.stderr);
  for (const f of ["budget.svg", "heatmap.svg", "index.html"]) assert.ok(await exists(`${alloc}/plots/${f}`), f);
  assert.equal((await task("plots", r2)).code, 0);
  assert.ok(await exists(`${r2}/plots/index.html`) && await exists(`${r2}/summary.csv`));
  const again = await task("sweep", ...SMALL, "--methods", "sign", "--out", r2, "--overwrite");
  assert.equal(again.code, 0, again.stderr);
  assert.ok(!(await exists(`${r2}/plots`)), "stale plots/ of the replaced run");
});

Deno.test("plots: the report of an interrupted run says so at the top", async () => {
  const m = JSON.parse(await Deno.readTextFile(`${r2}/manifest.json`));
  await Deno.writeTextFile(
    `${r2}/manifest.json`,
    JSON.stringify({ ...m, status: "running", owner: { ...m.owner, pid: 2 ** 22 + 7 } }),
  );
  const p = await task("plots", r2);
  assert.equal(p.code, 0, p.stderr);
  const html = await Deno.readTextFile(`${r2}/plots/index.html`);
  const banner = html.indexOf('class="banner"'), h1 = html.indexOf("<h1>");
  assert.ok(banner > 0 && banner < h1, "banner above the title");
  assert.match(html, /This run is interrupted: the charts show the \d+ rows written so far/);
});

Deno.test("CLI details: closest flag suggested, negative values reach the range check, empty values refused", async () => {
  const cases: [string[], RegExp][] = [
    [["--group-size", "64"], /^sweep: Unknown option '--group-size'; did you mean --group-sizes\?$/],
    [
      ["--methods", "sparse_klevel", "--sparsity", "-0.1"],
      /^sweep: sparse_klevel: sparsity must be in \[0, 1\), got -0\.1$/,
    ],
    [["--bits", ""], /^sweep: --bits: empty value$/],
  ];
  for (const [args, re] of cases) {
    const r = await task("sweep", ...args, "--out", `${root}/never`);
    assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr.trim(), re);
  }
  assert.ok(!(await exists(`${root}/never/rows.parquet`)));
});

Deno.test("deno task from another folder: a relative --out lands there, and the message names its absolute path", async () => {
  const here = await Deno.makeTempDir();
  const out = await new Deno.Command(DENO, {
    args: ["task", "--config", `${Deno.cwd()}/deno.json`, "sweep", "--grid", "quick", "--layers", "*.layers.0.mlp.*"]
      .concat(["--no-kernels", "--no-coding", "--quiet", "--out", "rel-run"]),
    cwd: here,
    // a user's shell: no INIT_CWD yet (this suite may itself run under deno task, which set one)
    clearEnv: true,
    env: Object.fromEntries(Object.entries(Deno.env.toObject()).filter(([k]) => k !== "INIT_CWD")),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, err);
  assert.ok(await exists(`${here}/rel-run/rows.parquet`), "rows in the folder the user ran from");
  assert.ok(err.includes(`-> ${here}/rel-run/rows.parquet`), err);
});

Deno.test("layers task: globs with {a,b} and !exclusions, --json, --all", async () => {
  const r = await task("layers", "--layers", "gpt_neox.layers.{0,5}.*,!*.attention.*", "--json");
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((x) => x.name), [
    "gpt_neox.layers.0.mlp.dense_h_to_4h.weight",
    "gpt_neox.layers.0.mlp.dense_4h_to_h.weight",
    "gpt_neox.layers.5.mlp.dense_h_to_4h.weight",
    "gpt_neox.layers.5.mlp.dense_4h_to_h.weight",
  ]);
  assert.deepEqual(rows[0], {
    name: rows[0].name,
    shape: [1024, 256],
    params: 262144,
    layer_kind: "mlp_up",
    dtype: "F32",
  });
  const table = await task("layers");
  assert.match(table.stdout, /^name +shape +params +layer_kind +dtype$/m);
  assert.match(table.stderr, /^26 of 76 tensors/);
  const all = await task("layers", "--all", "--json");
  assert.equal(all.stdout.trim().split("\n").length, 76);
  assert.equal((await task("layers", "--layers", "nothing.*")).code, 2);
});

Deno.test("eval: the Δ against fp32 of a quantized model; a lone safetensors file gets a clear message", async () => {
  const r = await task("eval", "--config", "ternary_absmean.g64.f16", "--bytes", "1024", "--json");
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim().split("\n").pop()!);
  assert.ok(j.fp32_bpb > 0 && Math.abs(j.delta_bpb - (j.bpb - j.fp32_bpb)) < 1e-12 && j.delta_bpb > 0, r.stdout);
  assert.match(r.stderr, /Δ \+\d\.\d{5} bpb against fp32/);
  const lone = `${root}/lone.safetensors`;
  await Deno.copyFile("models/neox-tiny/model.safetensors", lone);
  const bad = await task("eval", "--model", lone, "--bytes", "1024");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /lone\.safetensors: no model config \(config\.json\)/);
  assert.doesNotMatch(bad.stderr, /hidden_size/);
});
