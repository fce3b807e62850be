/**
 * Bad input found by trying it as a new user would: each gets one clear line
 * and exit 2 (or its documented rule), and nothing is written elsewhere.
 */
import { strict as assert } from "node:assert";
import { assertOneLine, runTask } from "./fixtures/cli.ts";
import { writeSafetensors } from "../lib/tensor/safetensors.ts";
import { seededGaussian } from "../lib/random.ts";
import { writeTinyModel } from "./fixtures/tiny_model.ts";
import { buildGguf } from "./fixtures/gguf_builder.ts";

/** A safetensors file from a raw header text and a data section. */
async function rawSafetensors(path: string, header: string, data: Uint8Array): Promise<void> {
  let h = new TextEncoder().encode(header);
  h = new TextEncoder().encode(header + " ".repeat((8 - (h.length % 8)) % 8));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  await Deno.writeFile(path, out);
}

Deno.test("sweep skips empty 2-D weights (N×0, 0×N) with a note in the manifest; pack stores them as f32", async () => {
  const dir = await Deno.makeTempDir();
  const t = (name: string, shape: number[]) => ({
    name,
    shape,
    data: seededGaussian(shape.reduce((a, b) => a * b, 1), 3, 0.02),
  });
  await writeSafetensors(`${dir}/model.safetensors`, [
    t("a.weight", [16, 64]),
    t("wide.weight", [64, 0]),
    t("tall.weight", [0, 64]),
  ]);
  const out = `${dir}/run`;
  const r = await runTask("sweep", "--model", dir, "--grid", "quick", "--out", out, "--quiet");
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(await Deno.readTextFile(`${out}/manifest.json`));
  assert.deepEqual(m.layers, ["a.weight"]);
  assert.deepEqual(m.skipped_layers.map((s: { name: string }) => s.name).sort(), ["tall.weight", "wide.weight"]);
  assert.equal(m.status, "complete");
  const p = await runTask(
    "pack",
    "--model",
    dir,
    "--config",
    "ternary_absmean.g64.f16",
    "--out",
    `${dir}/m.subbit`,
    "--quiet",
  );
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stderr, /1 quantized/);
  const only = await Deno.makeTempDir();
  await writeSafetensors(`${only}/model.safetensors`, [t("wide.weight", [64, 0])]);
  assertOneLine(
    await runTask("sweep", "--model", only, "--grid", "quick", "--out", `${only}/run`),
    /every selected 2-D weight is empty/,
    "all empty",
  );
  await assert.rejects(Deno.stat(`${only}/run`), "nothing written");
});

Deno.test("a model with no 2-D tensors is refused before anything is written", async () => {
  const dir = await Deno.makeTempDir();
  await writeSafetensors(`${dir}/model.safetensors`, [
    { name: "norm.weight", shape: [8], data: new Float32Array(8) },
    { name: "conv.weight", shape: [2, 2, 2], data: new Float32Array(8) },
  ]);
  assertOneLine(
    await runTask("sweep", "--model", dir, "--grid", "quick", "--out", `${dir}/run`),
    /no 2-D weight to quantize/,
    "sweep",
  );
  await assert.rejects(Deno.stat(`${dir}/run/rows.parquet`));
  assertOneLine(
    await runTask("pack", "--model", dir, "--config", "hqq.b2.g64.f16", "--out", `${dir}/m.subbit`),
    /no 2-D weight/,
    "pack",
  );
});

Deno.test("sweep --out: empty, a file, or uncreatable → exit 2, one line, nothing written", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyModel(`${dir}/m`);
  const file = `${dir}/a-file`;
  await Deno.writeTextFile(file, "x");
  const cases: [string, RegExp][] = [
    ["", /--out: empty (value|path)/],
    [file, /is a file, not a folder/],
    [`${file}/sub`, /cannot write there/],
    ["/proc/subbit-no-such/x", /cannot write there/],
  ];
  for (const [out, re] of cases) {
    assertOneLine(await runTask("sweep", "--model", `${dir}/m`, "--grid", "quick", "--out", out), re, `--out '${out}'`);
  }
  await assert.rejects(Deno.stat("/rows.parquet"), "--out '' must not write into the filesystem root");
  assert.equal(await Deno.readTextFile(file), "x");
});

Deno.test("pack/unpack --out: a folder, an existing file without --overwrite, a missing folder → exit 2", async () => {
  const dir = await Deno.makeTempDir();
  await writeTinyModel(`${dir}/m`);
  const base = ["--model", `${dir}/m`, "--config", "ternary_absmean.g16.f16", "--quiet"];
  assertOneLine(await runTask("pack", ...base, "--out", dir), /is a folder/, "pack --out DIR");
  assertOneLine(await runTask("pack", ...base, "--out", `${dir}/no/such/m.subbit`), /does not exist/, "missing parent");
  const f = `${dir}/m.subbit`;
  assert.equal((await runTask("pack", ...base, "--out", f)).code, 0);
  const before = await Deno.readFile(f);
  assertOneLine(await runTask("pack", ...base, "--out", f), /exists \(pass --overwrite/, "pack over an existing file");
  assert.deepEqual(await Deno.readFile(f), before, "the existing file is untouched");
  assert.equal((await runTask("pack", ...base, "--out", f, "--overwrite")).code, 0);
  const st = `${dir}/w.safetensors`;
  assert.equal((await runTask("unpack", f, "--out", st)).code, 0);
  assertOneLine(await runTask("unpack", f, "--out", st), /exists \(pass --overwrite/, "unpack over an existing file");
  assertOneLine(await runTask("unpack", f, "--out", dir), /is a folder/, "unpack --out DIR");
});

Deno.test("readers refuse a duplicate header key, a shard index that lies or escapes, bytes after a .subbit's end", async () => {
  const dir = await Deno.makeTempDir();
  const data = new Uint8Array(16 * 4);
  await rawSafetensors(
    `${dir}/dup.safetensors`,
    '{"w":{"dtype":"F32","shape":[4,4],"data_offsets":[0,64]},"w":{"dtype":"F32","shape":[2,8],"data_offsets":[0,64]}}',
    data,
  );
  assertOneLine(
    await runTask("sweep", "--model", `${dir}/dup.safetensors`, "--grid", "quick", "--out", `${dir}/r1`),
    /names "w" twice/,
    "dup key",
  );

  const shard = `${dir}/sharded`;
  await writeTinyModel(shard);
  const names = ["gpt_neox.embed_in.weight", "gpt_neox.no_such.weight"];
  const idx = (map: Record<string, string>) =>
    Deno.writeTextFile(`${shard}/model.safetensors.index.json`, JSON.stringify({ weight_map: map }));
  await idx({ [names[0]]: "model.safetensors", [names[1]]: "model.safetensors" });
  assertOneLine(
    await runTask("sweep", "--model", shard, "--grid", "quick", "--out", `${dir}/r2`),
    /gpt_neox\.no_such\.weight is not in its shard/,
    "lying index",
  );
  await idx({ [names[0]]: "../sharded/model.safetensors" });
  assertOneLine(
    await runTask("sweep", "--model", shard, "--grid", "quick", "--out", `${dir}/r3`),
    /not a file inside/,
    "escaping index",
  );
  await Deno.remove(`${shard}/model.safetensors.index.json`);

  const f = `${dir}/m.subbit`;
  assert.equal(
    (await runTask("pack", "--model", shard, "--config", "ternary_absmean.g16.f16", "--out", f, "--quiet")).code,
    0,
  );
  const bytes = await Deno.readFile(f);
  await Deno.writeFile(f, new Uint8Array([...bytes, 1, 2, 3]));
  assertOneLine(
    await runTask("unpack", f, "--out", `${dir}/w.safetensors`),
    /3 bytes after the end marker/,
    "trailing bytes",
  );
});

Deno.test("a GGUF model sweeps and packs (its 64-bit metadata counts reach JSON as numbers)", async () => {
  const dir = await Deno.makeTempDir();
  const w = seededGaussian(64 * 16, 5, 0.02);
  const bytes = new Uint8Array(w.buffer);
  await Deno.writeFile(
    `${dir}/m.gguf`,
    buildGguf({ "general.architecture": "llama", "llama.block_count": 1, "big.count": 2n ** 40n, "huge": 2n ** 62n }, [
      { name: "blk.0.ffn_up.weight", ne: [64, 16], type: 0, data: bytes },
    ]),
  );
  const r = await runTask("sweep", "--model", `${dir}/m.gguf`, "--grid", "quick", "--out", `${dir}/run`, "--quiet");
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(await Deno.readTextFile(`${dir}/run/manifest.json`));
  assert.equal(m.model.config["big.count"], 2 ** 40);
  assert.equal(m.model.config["huge"], (2n ** 62n).toString());
  const p = await runTask(
    "pack",
    "--model",
    `${dir}/m.gguf`,
    "--config",
    "hqq.b2.g64.f16",
    "--out",
    `${dir}/m.subbit`,
    "--quiet",
  );
  assert.equal(p.code, 0, p.stderr);
});
