/** Data flows one way through lib/: a folder never imports one above it (the rules that hold today, kept held). */
import { strict as assert } from "node:assert";

/** Relative imports of every (non-test) .ts file directly under lib/<folder>/ that reach into one of `banned`. */
async function backEdges(folder: string, banned: string[]): Promise<string[]> {
  const found: string[] = [];
  for await (const e of Deno.readDir(`lib/${folder}`)) {
    if (!e.isFile || !e.name.endsWith(".ts") || e.name.endsWith("_test.ts")) continue; // tests may integrate
    const text = await Deno.readTextFile(`lib/${folder}/${e.name}`);
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.\.\/[^"]+)"/g)) {
      if (banned.some((b) => m[1].startsWith(`../${b}/`))) found.push(`lib/${folder}/${e.name} → ${m[1]}`);
    }
  }
  return found;
}

Deno.test("layering: coding sees symbols and bytes only; model does not reach into the sweep", async () => {
  // (the coders call C through kernels/native.ts, the one loader of the C library)
  assert.deepEqual(await backEdges("coding", ["quant", "sweep", "pack", "model"]), []);
  assert.deepEqual(await backEdges("model", ["sweep", "allocate", "bench"]), []);
  assert.deepEqual(await backEdges("quant", ["sweep", "coding", "pack", "model", "kernels"]), []);
  assert.deepEqual(await backEdges("tensor", ["quant", "sweep", "coding", "pack", "model"]), []);
});

Deno.test("layering: kernels are prepared from codes — nothing under lib/kernels imports a quantizer (types only)", async () => {
  const found: string[] = [];
  for await (const e of Deno.readDir("lib/kernels")) {
    if (!e.isFile || !e.name.endsWith(".ts") || e.name.endsWith("_test.ts")) continue;
    const text = await Deno.readTextFile(`lib/kernels/${e.name}`);
    for (const m of text.matchAll(/import\s+(type\s+)?\{([^}]*)\}\s+from\s+"(\.\.\/quant\/[^"]+)"/g)) {
      const values = m[1] ? [] : m[2].split(",").map((n) => n.trim()).filter((n) => n && !n.startsWith("type "));
      if (values.length) found.push(`lib/kernels/${e.name}: ${values.join(", ")} from ${m[3]}`);
    }
  }
  assert.deepEqual(found, []);
});
