import { strict as assert } from "node:assert";
import { gguf } from "@huggingface/gguf";
import fc from "../../tests/fixtures/fc.ts";
import { encodeBlocks, GGML_BLOCK_TYPES } from "../tensor/ggml_blocks.ts";
import { readGgufHeader } from "../tensor/gguf.ts";
import { ggufToHfName, hfToGgufName, inverseOrder, permuteRows, qkvRowOrder } from "../tensor/gguf_neox.ts";
import { openModel } from "../tensor/model.ts";
import { writeGguf } from "./gguf_write.ts";
import { gpt2ByteChars } from "./neox_gguf.ts";

Deno.test("gguf writer: an independent parser (@huggingface/gguf) reads back every key, type and tensor", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ rows: fc.integer({ min: 1, max: 5 }), blocks: fc.integer({ min: 1, max: 2 }) }), {
        minLength: 1,
        maxLength: 4,
      }),
      fc.string({ maxLength: 12 }),
      async (specs, label) => {
        const path = await Deno.makeTempFile({ suffix: ".gguf" });
        const tensors = specs.map((s, i) => {
          const t = [GGML_BLOCK_TYPES.Q8_0, GGML_BLOCK_TYPES.TQ1_0, GGML_BLOCK_TYPES.Q4_0][i % 3];
          const cols = s.blocks * t.blockSize, n = s.rows * cols;
          const codes = Int8Array.from({ length: n }, (_, k) => t.minCode + (k * 7 + i) % (t.maxCode - t.minCode + 1));
          const bytes = encodeBlocks(t, codes, new Uint16Array(n / t.blockSize).fill(0x3c00 + i));
          return { name: `t${i}`, shape: [s.rows, cols], type: t.id, byteLength: bytes.length, bytes: () => bytes };
        });
        await writeGguf(path, {
          "x.label": { type: "string", value: label },
          "x.flag": { type: "bool", value: true },
          "x.eps": { type: "f32", value: 0.5 },
          "x.list": { type: "string[]", value: ["a", label] },
          "x.ints": { type: "i32[]", value: [-1, 2] },
        }, tensors);
        const md = (await gguf(path, { allowLocalFile: true })).metadata as unknown as Record<string, unknown>;
        assert.equal(md["x.label"], label);
        assert.equal(md["x.flag"], true);
        assert.equal(md["x.eps"], 0.5);
        assert.deepEqual(md["x.list"], ["a", label]);
        assert.deepEqual(md["x.ints"], [-1, 2]);
        const h = await readGgufHeader(path);
        for (const [i, t] of tensors.entries()) {
          assert.deepEqual(h.tensors[i].shape, t.shape);
          assert.equal(h.tensors[i].offset % 32, 0);
          const f = await Deno.open(path);
          const got = new Uint8Array(t.byteLength);
          await f.seek(h.tensors[i].offset, Deno.SeekMode.Start);
          let o = 0;
          while (o < got.length) o += (await f.read(got.subarray(o)))!;
          f.close();
          assert.deepEqual(got, t.bytes());
        }
        await Deno.remove(path);
      },
    ),
    { numRuns: 15 },
  );
});

Deno.test("gguf writer: a tensor whose bytes disagree with its declared size leaves no file behind", async () => {
  const dir = await Deno.makeTempDir();
  const bad = [{ name: "w", shape: [2], type: 0, byteLength: 8, bytes: () => new Uint8Array(4) }];
  await assert.rejects(() => writeGguf(`${dir}/x.gguf`, {}, bad), /declared 8/);
  assert.deepEqual([...Deno.readDirSync(dir)], []);
});

Deno.test("gptneox GGUF: qkv order is (head, kind, i) → (kind, head, i), names map both ways", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 8 }), (heads, headDim) => {
      const order = qkvRowOrder(heads, headDim);
      // independent: HF row index (h·3 + kind)·headDim + i listed in llama.cpp order
      const want: number[] = [];
      for (const kind of [0, 1, 2]) {
        for (let h = 0; h < heads; h++) for (let i = 0; i < headDim; i++) want.push((h * 3 + kind) * headDim + i);
      }
      assert.deepEqual(Array.from(order), want);
      const a = Float32Array.from({ length: order.length * 2 }, (_, k) => k);
      assert.deepEqual(permuteRows(permuteRows(a, 2, order), 2, inverseOrder(order)), a);
    }),
  );
  for (
    const hf of [
      "gpt_neox.embed_in.weight",
      "gpt_neox.layers.11.attention.query_key_value.bias",
      "gpt_neox.layers.0.mlp.dense_4h_to_h.weight",
      "gpt_neox.final_layer_norm.bias",
      "embed_out.weight",
    ]
  ) assert.equal(ggufToHfName(hfToGgufName(hf)!), hf);
  assert.equal(hfToGgufName("gpt_neox.layers.0.attention.rotary_emb.inv_freq"), null);
  const chars = gpt2ByteChars();
  assert.equal(new Set(chars).size, 256);
  assert.equal(chars[0x41], "A");
  assert.equal(chars[0x20], "Ġ"); // GPT-2's space
});

Deno.test("gptneox GGUF: reading a file with bad qkv rows is a clear error", async () => {
  const path = await Deno.makeTempFile({ suffix: ".gguf" });
  const md = {
    "general.architecture": { type: "string" as const, value: "gptneox" },
    ...Object.fromEntries(
      [
        ["context_length", 8],
        ["embedding_length", 4],
        ["block_count", 1],
        ["feed_forward_length", 8],
        ["attention.head_count", 2],
        ["rope.dimension_count", 2],
        ["vocab_size", 256],
      ].map(([k, v]) => [`gptneox.${k}`, { type: "u32" as const, value: v as number }]),
    ),
    "gptneox.rope.freq_base": { type: "f32" as const, value: 10000 },
    "gptneox.attention.layer_norm_epsilon": { type: "f32" as const, value: 1e-5 },
  };
  const w = new Uint8Array(4 * 4 * 4);
  await writeGguf(path, md, [{
    name: "blk.0.attn_qkv.weight",
    shape: [4, 4],
    type: 0,
    byteLength: 64,
    bytes: () => w,
  }]);
  const m = await openModel(path);
  assert.equal(m.config.layer_norm_eps, 1e-5);
  await assert.rejects(() => m.read("gpt_neox.layers.0.attention.query_key_value.weight"), /not 3 × 2 heads/);
});
