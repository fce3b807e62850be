/** The notebooks run headless with zero errors, and their executed copies hold a frame and a chart. */
import { strict as assert } from "node:assert";
import { checkNotebook, executeNotebooks, listNotebooks } from "../tasks/notebooks.ts";

interface Cell {
  cell_type: string;
  outputs?: { output_type: string; data?: Record<string, unknown> }[];
}

const paths = await listNotebooks();

Deno.test("notebooks: sources are committed with outputs stripped, and their code type-checks", async () => {
  assert.ok(paths.length >= 3, `notebooks: ${paths}`);
  for (const p of paths) {
    const nb = JSON.parse(await Deno.readTextFile(p)) as { cells: Cell[] };
    assert.ok(nb.cells.every((c) => !c.outputs?.length), `${p}: outputs committed`);
    const r = await checkNotebook(p);
    assert.ok(r.ok, `${p}: type check failed\n${r.output}`);
  }
});

Deno.test("notebooks: executed headless with the Deno kernel, every copy has a frame and an SVG or PNG chart", async () => {
  const out = await Deno.makeTempDir();
  assert.ok(await executeNotebooks(paths, out), "a notebook cell failed");
  for (const p of paths) {
    const name = p.split("/").pop()!;
    const nb = JSON.parse(await Deno.readTextFile(`${out}/${name}`)) as { cells: Cell[] };
    const outputs = nb.cells.flatMap((c) => c.outputs ?? []);
    assert.ok(!outputs.some((o) => o.output_type === "error"), `${name}: error output`);
    const mimes = outputs.flatMap((o) => Object.keys(o.data ?? {}));
    assert.ok(
      outputs.some((o) => String((o.data?.["text/html"] as string[] | string | undefined) ?? "").includes("<table")),
      `${name}: no frame`,
    );
    assert.ok(mimes.includes("image/svg+xml") || mimes.includes("image/png"), `${name}: no chart (${mimes})`);
  }
});

Deno.test("notebooks: every cell has an id, and code imports subbit only through lib/mod.ts", async () => {
  for (const p of paths) {
    const nb = JSON.parse(await Deno.readTextFile(p)) as { cells: (Cell & { id?: string; source: string[] })[] };
    const ids = nb.cells.map((c) => c.id);
    assert.ok(ids.every((id) => typeof id === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(id)), `${p}: cell ids ${ids}`);
    assert.equal(new Set(ids).size, ids.length, `${p}: duplicate cell ids`);
    const deep = nb.cells.flatMap((c) => c.source).filter((l) =>
      /from "\.\.\/lib\//.test(l) && !/lib\/mod\.ts"/.test(l)
    );
    assert.deepEqual(deep, [], `${p}: deep imports`);
  }
});
