import { strict as assert } from "node:assert";
import pl from "nodejs-polars";

const DENO = Deno.execPath();

async function sweep(...args: string[]) {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", "tasks/sweep.ts", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout), stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("sweep CLI: --help, and bad input exits 2 with one line naming the problem", async () => {
  const help = await sweep("--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--group-sizes/);
  const cases: [string[], RegExp][] = [
    [["--bogus"], /bogus/],
    [["--model", "/nonexistent/model"], /\/nonexistent\/model: model not found/],
    [["--methods", "rtn_magic"], /unknown method 'rtn_magic'/],
    [["--grid", "quick", "--bits", "2,x"], /--bits: 'x' is not a number/],
    [["--grid", "quick", "--group-sizes", "0"], /bad group size '0'/],
    [["--grid", "quick", "--layers", "no.such.*"], /--layers 'no.such.\*' matches no 2-D weight/],
  ];
  for (const [args, re] of cases) {
    const r = await sweep(...args, "--out", await Deno.makeTempDir().then((d) => `${d}/o`));
    assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split("\n").length, 1, `one line expected, got:\n${r.stderr}`);
  }
});

Deno.test("sweep CLI: --grid quick on the embedded default model writes every 2-D weight x config", async () => {
  const out = `${await Deno.makeTempDir()}/quick`;
  const r = await sweep("--grid", "quick", "--out", out);
  assert.equal(r.code, 0, r.stderr);
  const config = JSON.parse(await Deno.readTextFile("models/neox-tiny/config.json"));
  const weights2d = 2 + 4 * config.num_hidden_layers; // embed_in, embed_out, 4 linears per layer
  const df = pl.readParquet(`${out}/rows.parquet`);
  assert.equal(df.height, weights2d * 3);
  assert.equal(new Set(df.getColumn("layer").toArray()).size, weights2d);
  assert.deepEqual([...new Set(df.getColumn("config_id").toArray())].sort(), [
    "rtn_asym.b2.g64.f16",
    "rtn_asym.b4.g64.f16",
    "ternary_absmean.g64.f16",
  ]);
  assert.match(r.stderr, /layer_kind\s+layers\s+criterion\s+best config/);
  const recs = df.toRecords() as Record<string, unknown>[];
  for (const r of recs) {
    if (r.layer_kind === "embed") assert.equal(r.out_rel_error, null);
    else {assert.ok(
        typeof r.out_rel_error === "number" && r.out_rel_error > 0,
        `${r.layer}: out_rel_error ${r.out_rel_error}`,
      );}
    assert.equal(r.delta_bpb, null);
  }
  const m = JSON.parse(await Deno.readTextFile(`${out}/manifest.json`));
  assert.equal(m.status, "complete");
  assert.equal(m.model.path, "models/neox-tiny");
});

Deno.test("sweep CLI: --eval adds delta_bpb, larger for cruder configs", async () => {
  const out = `${await Deno.makeTempDir()}/ev`;
  const r = await sweep(
    "--grid",
    "quick",
    "--layers",
    "gpt_neox.layers.5.mlp.dense_h_to_4h.weight",
    "--eval",
    "--eval-bytes",
    "512",
    "--out",
    out,
  );
  assert.equal(r.code, 0, r.stderr);
  const recs = pl.readParquet(`${out}/rows.parquet`).toRecords() as Record<string, unknown>[];
  const d = (id: string) => Number(recs.find((x) => x.config_id === id)!.delta_bpb);
  assert.ok(recs.every((x) => typeof x.delta_bpb === "number"));
  assert.ok(
    d("rtn_asym.b2.g64.f16") > d("rtn_asym.b4.g64.f16"),
    `Δbpb b2 ${d("rtn_asym.b2.g64.f16")} vs b4 ${d("rtn_asym.b4.g64.f16")}`,
  );
});
