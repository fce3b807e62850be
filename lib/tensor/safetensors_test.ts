import { strict as assert } from "node:assert";
import { InputError } from "../errors.ts";
import { readSafetensorsHeader, readTensorData, writeSafetensors } from "./safetensors.ts";

/** Build a safetensors file by hand: header JSON + raw data. */
function handBuilt(header: Record<string, unknown>, data: Uint8Array, lenOverride?: number): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(lenOverride ?? h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

async function tmpFile(bytes: Uint8Array): Promise<string> {
  const p = await Deno.makeTempFile({ suffix: ".safetensors" });
  await Deno.writeFile(p, bytes);
  return p;
}

async function rejects(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  const p = await tmpFile(bytes);
  await assert.rejects(
    () => readSafetensorsHeader(p),
    (e: Error) => e instanceof InputError && pattern.test(e.message),
  );
}

Deno.test("safetensors: write then read round-trips values, shapes and metadata", async () => {
  const p = await Deno.makeTempFile({ suffix: ".safetensors" });
  const a = { name: "a", shape: [2, 3], data: Float32Array.of(1, -2, 3.5, 0, 1e-30, -0) };
  const b = { name: "b.weight", shape: [4], data: Float32Array.of(9, 8, 7, 6) };
  await writeSafetensors(p, [a, b], { note: "x" });
  const h = await readSafetensorsHeader(p);
  assert.deepEqual(h.metadata, { note: "x" });
  assert.deepEqual(h.tensors.map((t) => [t.name, t.shape]), [["a", [2, 3]], ["b.weight", [4]]]);
  for (const t of [a, b]) {
    const got = await readTensorData(h.tensors.find((x) => x.name === t.name)!);
    assert.deepEqual(Array.from(got.data), Array.from(t.data));
  }
});

Deno.test("safetensors: F16, BF16, I8 and U8 are widened to f32", async () => {
  const data = new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x00, 0x40, 0xff, 0x05, 0xff, 0x05]);
  const p = await tmpFile(handBuilt({
    h: { dtype: "F16", shape: [2], data_offsets: [0, 4] },
    b: { dtype: "BF16", shape: [2], data_offsets: [4, 8] },
    i: { dtype: "I8", shape: [2], data_offsets: [8, 10] },
    u: { dtype: "U8", shape: [2], data_offsets: [10, 12] },
  }, data));
  const h = await readSafetensorsHeader(p);
  const get = async (n: string) => Array.from((await readTensorData(h.tensors.find((t) => t.name === n)!)).data);
  assert.deepEqual(await get("h"), [1, -2]);
  assert.deepEqual(await get("b"), [1, 2]);
  assert.deepEqual(await get("i"), [-1, 5]);
  assert.deepEqual(await get("u"), [255, 5]);
});

Deno.test("safetensors: corrupt and truncated files give clear errors", async () => {
  const ok = { t: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  await rejects(new Uint8Array(5), /shorter than the 8-byte/);
  await rejects(handBuilt(ok, new Uint8Array(8), 2 ** 40), /exceeds the .* cap/);
  await rejects(handBuilt(ok, new Uint8Array(8), 10_000), /truncated/);
  await rejects(handBuilt(ok, new Uint8Array(4)), /outside the file/);
  await rejects(
    handBuilt({ t: { dtype: "F64", shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)),
    /unsupported dtype/,
  );
  await rejects(
    handBuilt({ t: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, new Uint8Array(12)),
    /data span 8 bytes/,
  );
  await rejects(handBuilt({ t: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /bad shape/);
  await rejects(
    handBuilt({
      a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
    }, new Uint8Array(12)),
    /overlap/,
  );
  const bad = handBuilt(ok, new Uint8Array(8));
  bad[9] = 0x7b; // break the JSON
  bad[10] = 0x7b;
  await rejects(bad, /not valid UTF-8 JSON/);
});

Deno.test("safetensors: reading a tensor from a file truncated after the header check fails clearly", async () => {
  const p = await Deno.makeTempFile({ suffix: ".safetensors" });
  await writeSafetensors(p, [{ name: "a", shape: [4], data: new Float32Array(4) }]);
  const h = await readSafetensorsHeader(p);
  const bytes = await Deno.readFile(p);
  await Deno.writeFile(p, bytes.subarray(0, bytes.length - 3));
  await assert.rejects(() => readTensorData(h.tensors[0]), /truncated/);
});

Deno.test("model folders: a sharded checkpoint (model.safetensors.index.json) lists and reads tensors from every shard", async () => {
  const { openModel } = await import("./model.ts");
  const dir = await Deno.makeTempDir();
  await writeSafetensors(`${dir}/model-00001-of-00002.safetensors`, [{
    name: "a.weight",
    shape: [2, 2],
    data: Float32Array.of(1, 2, 3, 4),
  }]);
  await writeSafetensors(`${dir}/model-00002-of-00002.safetensors`, [{
    name: "b.weight",
    shape: [1, 3],
    data: Float32Array.of(5, 6, 7),
  }]);
  await Deno.writeTextFile(
    `${dir}/model.safetensors.index.json`,
    JSON.stringify({
      metadata: {},
      weight_map: { "a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors" },
    }),
  );
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ hidden_size: 2 }));
  const m = await openModel(dir);
  assert.deepEqual(m.tensors.map((t) => t.name).sort(), ["a.weight", "b.weight"]);
  assert.deepEqual(Array.from((await m.read("b.weight")).data), [5, 6, 7]);
  assert.equal(m.config.hidden_size, 2);
  await Deno.writeTextFile(`${dir}/model.safetensors.index.json`, "{broken");
  await assert.rejects(
    () => openModel(dir),
    (e: Error) => e instanceof InputError && /index\.json: not valid JSON/.test(e.message),
  );
});
