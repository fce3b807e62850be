import { strict as assert } from "node:assert";
import { buildGguf, f32Bytes } from "../../tests/fixtures/gguf_builder.ts";
import { InputError } from "../errors.ts";
import { readGgufHeader } from "./gguf.ts";
import { openModel } from "./model.ts";

async function tmpGguf(bytes: Uint8Array): Promise<string> {
  const p = await Deno.makeTempFile({ suffix: ".gguf" });
  await Deno.writeFile(p, bytes);
  return p;
}

function q8Block(d16: number, qs: number[]): Uint8Array {
  const b = new Uint8Array(34);
  new DataView(b.buffer).setUint16(0, d16, true);
  qs.forEach((q, i) => new DataView(b.buffer).setInt8(2 + i, q));
  return b;
}

Deno.test("gguf: lists metadata and tensors, reads F32, F16 and Q8_0 with reversed dims", async () => {
  const f16 = new Uint8Array([0x00, 0x3c, 0x00, 0xc0]); // 1, -2
  const qs = Array.from({ length: 32 }, (_, i) => i - 16);
  const p = await tmpGguf(buildGguf({ "general.architecture": "llama", "llama.block_count": 1 }, [
    { name: "blk.0.attn_q.weight", ne: [3, 2], type: 0, data: f32Bytes([1, 2, 3, 4, 5, 6]) },
    { name: "token_embd.weight", ne: [2], type: 1, data: f16 },
    { name: "blk.0.ffn_up.weight", ne: [32, 1], type: 8, data: q8Block(0x3800, qs) }, // d = 0.5
  ]));
  const h = await readGgufHeader(p);
  assert.equal(h.version, 3);
  assert.equal(h.metadata["general.architecture"], "llama");
  assert.deepEqual(h.tensors.map((t) => [t.name, t.dtype, t.shape]), [
    ["blk.0.attn_q.weight", "F32", [2, 3]],
    ["token_embd.weight", "F16", [2]],
    ["blk.0.ffn_up.weight", "Q8_0", [1, 32]],
  ]);
  const m = await openModel(p);
  assert.deepEqual(Array.from((await m.read("blk.0.attn_q.weight")).data), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(Array.from((await m.read("token_embd.weight")).data), [1, -2]);
  assert.deepEqual(Array.from((await m.read("blk.0.ffn_up.weight")).data), qs.map((q) => q * 0.5));
});

Deno.test("gguf: bad magic, truncation and unsupported types are clear errors", async () => {
  const good = buildGguf({ a: "b" }, [{ name: "w", ne: [4, 2], type: 0, data: f32Bytes([1, 2, 3, 4, 5, 6, 7, 8]) }]);
  const notGguf = new Uint8Array(good);
  notGguf[0] = 0x58;
  const isInput = (re: RegExp) => (e: Error) => e instanceof InputError && re.test(e.message);
  await assert.rejects(async () => readGgufHeader(await tmpGguf(notGguf)), isInput(/bad magic/));
  await assert.rejects(
    async () => readGgufHeader(await tmpGguf(good.subarray(0, good.length - 5))),
    isInput(/past the end/),
  );
  await assert.rejects(async () => readGgufHeader(await tmpGguf(good.subarray(0, 40))), isInput(/truncated|corrupt/));
  const q4 = buildGguf({}, [{ name: "w", ne: [32], type: 3, data: new Uint8Array(20) }]);
  await assert.rejects(async () => readGgufHeader(await tmpGguf(q4)), isInput(/GGML type 3 is not supported/));
});
