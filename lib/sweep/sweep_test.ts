import { strict as assert } from "node:assert";
import pl from "nodejs-polars";
import { writeTinyModel } from "../../tests/fixtures/tiny_model.ts";
import { InputError } from "../errors.ts";
import { ROW_COLUMNS } from "../results/schema.ts";
import { expandGrid, GRIDS, loadGrid } from "./grid.ts";
import { configId } from "../quant/config_id.ts";
import { runSweep } from "./run.ts";

Deno.test("grid: each method takes only its axes; ids are stable; bad grids are InputErrors", async () => {
  const cs = expandGrid({ methods: ["rtn_asym", "ternary_absmean"], bits: [2, 3], group_sizes: [64, "row"] });
  assert.deepEqual(cs.map(configId), [
    "rtn_asym.b2.g64.f16",
    "rtn_asym.b2.grow.f16",
    "rtn_asym.b3.g64.f16",
    "rtn_asym.b3.grow.f16",
    "ternary_absmean.g64.f16",
    "ternary_absmean.grow.f16",
  ]);
  assert.throws(() => expandGrid({ methods: ["nope"], group_sizes: [64] }), /unknown method 'nope'/);
  assert.throws(() => expandGrid({ methods: ["rtn_asym"], group_sizes: [64] }), /needs --bits/);
  assert.throws(() => expandGrid({ methods: ["rtn_asym"], bits: [9], group_sizes: [64] }), InputError);
  assert.throws(() => expandGrid({ methods: ["rtn_asym"], bits: [2], group_sizes: [0] }), InputError);
  const f = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(f, JSON.stringify({ methods: ["ternary_absmean"], group_sizes: [32, "row"], bogus: 1 }));
  await assert.rejects(() => loadGrid(f), /unknown key 'bogus'/);
  await Deno.writeTextFile(f, "{not json");
  await assert.rejects(() => loadGrid(f), /invalid JSON/);
  await assert.rejects(() => loadGrid("no-such-grid"), /not a named grid/);
  for (const name of Object.keys(GRIDS)) assert.ok(expandGrid(GRIDS[name]).length > 0);
});

Deno.test("sweep: rows for every 2-D weight x config, Parquet readable, manifest complete, no silent overwrite", async () => {
  const dir = await Deno.makeTempDir();
  const names = await writeTinyModel(`${dir}/model`);
  const grid = { methods: ["rtn_asym", "ternary_absmean"], bits: [2, 8], group_sizes: [8, "row" as const] };
  const res = await runSweep({
    model: `${dir}/model`,
    grid,
    gridName: "test",
    seed: 7,
    outDir: `${dir}/run`,
    runId: "r1",
    quiet: true,
  });
  const df = pl.readParquet(`${dir}/run/rows.parquet`);
  assert.equal(df.height, names.length * 6);
  assert.deepEqual(df.columns, ROW_COLUMNS.map((c) => c.name));
  const recs = df.toRecords() as Record<string, unknown>[];
  assert.deepEqual(new Set(recs.map((r) => r.layer)), new Set(names));
  for (const r of recs) {
    assert.equal(r.params, Number(r.rows) * Number(r.cols));
    assert.equal(r.bits_basis, "coded");
    assert.ok(Math.abs(Number(r.bits_per_param) - Number(r.coded_bits) / Number(r.params)) < 1e-12);
    assert.equal(r.coded_bits, Number(r.coded_payload_bits) + Number(r.coded_meta_bits) + Number(r.header_bits));
    assert.ok(Number(r.coded_payload_bits) <= Number(r.static_o0_bits));
    assert.ok(Number(r.coded_meta_bits) <= Number(r.meta_bits));
    assert.equal((r.level_hist as number[]).reduce((a, b) => a + b, 0), r.params);
    assert.equal(r.seed, 7);
    assert.ok(r.kernel === null || (typeof r.gemv_us === "number" && r.gemv_us > 0), "kernel rows carry a latency");
  }
  // each row on the kernel of its own format; none stores groups of 8
  const kernelOf = (id: string) => new Set(recs.filter((r) => r.config_id === id).map((r) => r.kernel));
  const rowTernary = [...kernelOf("ternary_absmean.grow.f16")];
  assert.ok(rowTernary.every((k) => k === "ternary2" || k === "ternary_base3"), `ternary ran on ${rowTernary}`);
  assert.deepEqual(kernelOf("rtn_asym.b2.grow.f16"), new Set(["uint_b"]));
  assert.deepEqual(kernelOf("ternary_absmean.g8.f16"), new Set([null]));
  assert.deepEqual(kernelOf("rtn_asym.b8.grow.f16"), new Set(["uint_b"]));
  assert.ok(recs.every((r) => (r.kernel === null) === (r.gemv_us === null)));
  assert.equal(recs.find((r) => r.config_id === "rtn_asym.b2.g8.f16")!.kernel, null); // groups of 8: no kernel
  const b8 = recs.filter((r) => r.config_id === "rtn_asym.b8.g8.f16");
  const b2 = recs.filter((r) => r.config_id === "rtn_asym.b2.g8.f16");
  assert.ok(
    b8.every((r, i) => Number(r.rel_error) < Number(b2[i].rel_error)),
    "8 bits must beat 2 bits on every layer",
  );
  const tern = recs.find((r) => r.config_id === "ternary_absmean.g8.f16")!;
  assert.equal(tern.bits, null);
  assert.equal(tern.levels, 3);
  const m = JSON.parse(await Deno.readTextFile(`${dir}/run/manifest.json`));
  assert.equal(m.status, "complete");
  assert.equal(m.rows, res.rows.length);
  assert.equal(m.seed, 7);
  assert.match(m.model.sha256, /^[0-9a-f]{64}$/);
  assert.ok(m.environment.deno && m.environment.cpu && m.environment.polars);
  const before = await Deno.readFile(`${dir}/run/rows.parquet`);
  await assert.rejects(
    () =>
      runSweep({
        model: `${dir}/model`,
        grid,
        gridName: "test",
        seed: 7,
        outDir: `${dir}/run`,
        runId: "r1",
        quiet: true,
      }),
    /already holds a run/,
  );
  assert.deepEqual(await Deno.readFile(`${dir}/run/rows.parquet`), before);
});

Deno.test("sweep: --no-coding and --no-kernels give packed bits and no kernel columns", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyModel(`${dir}/m`);
  const res = await runSweep({
    model: `${dir}/m`,
    grid: { methods: ["ternary_absmean"], group_sizes: [16] },
    gridName: "t",
    seed: 0,
    outDir: `${dir}/o`,
    runId: "o",
    quiet: true,
    coders: null,
    kernels: false,
  });
  for (const r of res.rows) {
    assert.equal(r.bits_basis, "packed");
    assert.equal(r.bits_per_param, (Number(r.packed_bits) + Number(r.meta_bits)) / Number(r.params));
    assert.equal(r.coded_bits, null);
    assert.equal(r.kernel, null);
  }
});

Deno.test("sweep: a corrupt model fails before anything is written", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/m`);
  await Deno.writeFile(`${dir}/m/model.safetensors`, new Uint8Array([1, 2, 3]));
  await assert.rejects(
    () =>
      runSweep({
        model: `${dir}/m`,
        grid: GRIDS.quick,
        gridName: "quick",
        seed: 0,
        outDir: `${dir}/out`,
        runId: "x",
        quiet: true,
      }),
    (e: Error) => e instanceof InputError && /model\.safetensors.*8-byte/.test(e.message),
  );
  await assert.rejects(() => Deno.stat(`${dir}/out`), Deno.errors.NotFound);
});
