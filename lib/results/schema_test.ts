import { strict as assert } from "node:assert";
import { ROW_COLUMNS } from "./schema.ts";

Deno.test("README documents exactly the row schema", async () => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const block = readme.split("<!-- schema:start -->")[1]?.split("<!-- schema:end -->")[0] ?? "";
  const documented = [...block.matchAll(/^\|\s*`([a-z0-9_]+)`\s*\|\s*([a-z0-9_]+)( \(nullable\))?\s*\|/gm)].map((
    m,
  ) => [m[1], m[2], !!m[3]]);
  assert.deepEqual(documented, ROW_COLUMNS.map((c) => [c.name, c.type, !!c.nullable]));
});
