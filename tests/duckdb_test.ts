/** The README says rows.parquet opens unchanged in DuckDB: a quick sweep's rows, read by DuckDB itself (npm). */
import { strict as assert } from "node:assert";
import { DuckDBInstance } from "@duckdb/node-api";
import { ROW_COLUMNS } from "../lib/results/schema.ts";
import { GRIDS } from "../lib/sweep/grid.ts";
import { runSweep } from "../lib/sweep/run.ts";

/** The DuckDB type each schema type is read back as. */
const DUCK_TYPES = { str: "VARCHAR", i64: "BIGINT", f64: "DOUBLE", bool: "BOOLEAN", list_i64: "BIGINT[]" } as const;

Deno.test("DuckDB reads a quick sweep's rows.parquet: every row, every column with its declared type", async () => {
  const out = `${await Deno.makeTempDir()}/quick`;
  const { rows, manifest } = await runSweep({
    model: "models/neox-tiny",
    grid: GRIDS.quick,
    gridName: "quick",
    layers: "gpt_neox.layers.0.*",
    seed: 0,
    outDir: out,
    runId: "quick",
    quiet: true,
  });
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  try {
    const file = `'${out}/rows.parquet'`;
    const n = (await c.runAndReadAll(`SELECT count(*) AS n FROM read_parquet(${file})`)).getRowObjects()[0].n;
    assert.equal(Number(n), rows.length);
    assert.equal(Number(n), manifest.rows);
    const cols = (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${file})`)).getRowObjects();
    assert.deepEqual(
      cols.map((r) => [r.column_name, r.column_type]),
      ROW_COLUMNS.map((col) => [col.name, DUCK_TYPES[col.type]]),
    );
    // values too: the same bits per param DuckDB sums as the rows hold
    const sum =
      (await c.runAndReadAll(`SELECT sum(bits_per_param) AS s FROM read_parquet(${file})`)).getRowObjects()[0].s;
    const mine = rows.reduce((a, r) => a + Number(r.bits_per_param), 0);
    assert.ok(Math.abs(Number(sum) - mine) < 1e-9 * mine, `${sum} vs ${mine}`);
  } finally {
    c.closeSync();
  }
});
