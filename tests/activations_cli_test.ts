/** --activations int8 through the CLIs: eval reports it, sweep --eval records it per row, bad values exit 2. */
import { strict as assert } from "node:assert";
import { assertOneLine, lastJson, runTask } from "./fixtures/cli.ts";
import { readRows } from "../lib/results/frame.ts";

Deno.test("eval --activations int8 differs from fp32 and says which; bad values exit 2 with one line", async () => {
  const fp32 = await runTask("eval", "--bytes", "1500", "--json");
  const int8 = await runTask("eval", "--bytes", "1500", "--json", "--activations", "int8");
  assert.equal(int8.code, 0, int8.stderr);
  assert.equal(JSON.parse(int8.stdout.trim().split("\n").pop()!).activations, "int8");
  assert.notEqual(lastJson(int8).bpb, lastJson(fp32).bpb);
  assert.ok(Math.abs(lastJson(int8).bpb - lastJson(fp32).bpb) < 0.02);
  assertOneLine(
    await runTask("eval", "--activations", "int4"),
    /--activations: 'int4' is not one of fp32, int8/,
    "int4",
  );
  assertOneLine(await runTask("sweep", "--activations", "int8"), /add --eval/, "sweep without --eval");
});

Deno.test("sweep --eval --activations int8: rows record the activations and the manifest too", async () => {
  const dir = await Deno.makeTempDir();
  const r = await runTask(
    "sweep",
    ...["--layers", "gpt_neox.layers.0.attention.dense.weight", "--methods", "rtn_sym", "--bits", "4"],
    ...["--group-sizes", "64", "--scale-dtypes", "f16", "--no-kernels", "--eval", "--eval-bytes", "600"],
    ...["--activations", "int8", "--out", `${dir}/run`, "--quiet"],
  );
  assert.equal(r.code, 0, r.stderr);
  const rows = readRows(`${dir}/run/rows.parquet`).toRecords();
  assert.equal(rows.length, 1);
  assert.equal(rows[0].activations, "int8");
  assert.equal(typeof rows[0].delta_bpb, "number");
  assert.equal(JSON.parse(await Deno.readTextFile(`${dir}/run/manifest.json`)).activations, "int8");
});
