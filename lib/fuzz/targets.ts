/**
 * What the fuzzer feeds: valid seed files of every format subbit reads (made
 * here with the project's own writers), the structural fields of each, and
 * the reader run on a mutated copy — which must either succeed or throw an
 * InputError (one clear line for the user), never anything else.
 */
import { CODERS } from "../coding/mod.ts";
import { crc32 } from "../coding/crc32.ts";
import { ContainerReader } from "../pack/container.ts";
import { packModel, restoreTensor } from "../pack/pack.ts";
import { writeGguf } from "../interop/gguf_write.ts";
import { mulberry32, seededGaussian } from "../random.ts";
import { parseConfigId } from "../quant/config_id.ts";
import { encodeBlocks, GGML_BLOCK_TYPES } from "../tensor/ggml_blocks.ts";
import { openModel } from "../tensor/model.ts";
import { writeSafetensors } from "../tensor/safetensors.ts";
import type { Seed } from "./mutate.ts";

export interface FuzzTarget {
  name: string;
  /** The file name suffix readers recognise the format by. */
  suffix: string;
  seeds(dir: string): Promise<Seed[]>;
  /** Re-establish checksums after a mutation (so mutations reach past them), when the format has any. */
  fixup?(b: Uint8Array): Uint8Array;
  /** Read the file at `path` completely (every tensor / record / symbol). */
  run(path: string, bytes: Uint8Array): Promise<void>;
}

/** Positions of ASCII digit runs in b[from, to) (JSON numbers: lengths, shapes, offsets). */
function digitRuns(b: Uint8Array, from: number, to: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = from; i < to; i++) {
    if (b[i] >= 0x30 && b[i] <= 0x39 && !(b[i - 1] >= 0x30 && b[i - 1] <= 0x39)) out.push([i, 0]);
  }
  return out;
}

async function readAll(path: string): Promise<void> {
  const m = await openModel(path);
  for (const t of m.tensors) await m.read(t.name);
}

const weights = (n: number, seed: number) => seededGaussian(n, seed, 0.05);

const safetensorsTarget: FuzzTarget = {
  name: "safetensors",
  suffix: ".safetensors",
  async seeds(dir) {
    const path = `${dir}/seed.safetensors`;
    await writeSafetensors(path, [
      { name: "a.weight", shape: [4, 8], data: weights(32, 1) },
      { name: "b.bias", shape: [8], data: weights(8, 2) },
      { name: "c.weight", shape: [2, 3, 4], data: weights(24, 3) },
    ], { format: "pt" });
    const bytes = await Deno.readFile(path);
    const hlen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    return [{ bytes, fields: [[0, 8], ...digitRuns(bytes, 8, 8 + hlen)] }];
  },
  run: (path) => readAll(path),
};

/** The fields of a GGUF header we wrote ourselves: counts, string lengths, value types, dims, tensor types, offsets. */
function ggufFields(b: Uint8Array): [number, number][] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const f: [number, number][] = [[4, 4], [8, 8], [16, 8]];
  let p = 24;
  const str = () => (f.push([p, 8]), p += 8 + Number(dv.getBigUint64(p, true)));
  const size: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const value = (t: number): void => {
    if (t === 8) return void str();
    if (t === 9) {
      const et = dv.getUint32(p, true);
      f.push([p, 4], [p + 4, 8]);
      const n = Number(dv.getBigUint64(p + 4, true));
      p += 12;
      for (let i = 0; i < n; i++) value(et);
      return;
    }
    p += size[t];
  };
  const kvs = Number(dv.getBigUint64(16, true)), tensors = Number(dv.getBigUint64(8, true));
  for (let i = 0; i < kvs; i++) {
    str();
    const t = dv.getUint32(p, true);
    f.push([p, 4]);
    p += 4;
    value(t);
  }
  for (let i = 0; i < tensors; i++) {
    str();
    const nd = dv.getUint32(p, true);
    f.push([p, 4]);
    p += 4;
    for (let d = 0; d < nd; d++) f.push([p, 8]), p += 8;
    f.push([p, 4], [p + 4, 8]);
    p += 12;
  }
  return f;
}

const ggufTarget: FuzzTarget = {
  name: "gguf",
  suffix: ".gguf",
  async seeds(dir) {
    const block = (name: keyof typeof GGML_BLOCK_TYPES, rows: number) => {
      const t = GGML_BLOCK_TYPES[name];
      const n = rows * t.blockSize;
      const codes = Int8Array.from({ length: n }, (_, i) => t.minCode + (i % (t.maxCode - t.minCode + 1)));
      const bytes = encodeBlocks(t, codes, new Uint16Array(n / t.blockSize).fill(0x2c00));
      return { name: `blk.0.${name.toLowerCase()}.weight`, shape: [rows, t.blockSize], type: t.id, bytes };
    };
    const f32 = new Uint8Array(weights(24, 4).buffer);
    const tensors = [
      { name: "token_embd.weight", shape: [4, 6], type: 0, bytes: f32 },
      block("Q8_0", 2),
      block("Q4_0", 2),
      block("TQ2_0", 1),
      block("TQ1_0", 1),
    ];
    const seeds: Seed[] = [];
    for (const arch of ["llama", "gptneox"]) {
      const path = `${dir}/seed-${arch}.gguf`;
      const md: Parameters<typeof writeGguf>[1] = {
        "general.architecture": { type: "string", value: arch },
        "x.list": { type: "string[]", value: ["a", "bc"] },
        "x.ints": { type: "i32[]", value: [1, -2, 3] },
      };
      if (arch === "gptneox") {
        for (
          const [k, v] of [
            ["context_length", 8],
            ["embedding_length", 6],
            ["block_count", 1],
            [
              "feed_forward_length",
              8,
            ],
            ["attention.head_count", 2],
            ["rope.dimension_count", 2],
            ["vocab_size", 4],
          ] as const
        ) md[`gptneox.${k}`] = { type: "u32", value: v };
        md["gptneox.rope.freq_base"] = { type: "f32", value: 10000 };
        md["gptneox.attention.layer_norm_epsilon"] = { type: "f32", value: 1e-5 };
        tensors.push({ name: "blk.0.attn_qkv.weight", shape: [18, 6], type: 0, bytes: new Uint8Array(18 * 6 * 4) });
      }
      await writeGguf(path, md, tensors.map((t) => ({ ...t, byteLength: t.bytes.length, bytes: () => t.bytes })));
      const bytes = await Deno.readFile(path);
      seeds.push({ bytes, fields: ggufFields(bytes) });
    }
    return seeds;
  },
  run: (path) => readAll(path),
};

/** Walk a .subbit file's framing: [offset of a length field, offset of its CRC, start, end of the CRC'd bytes]. */
function subbitFrames(b: Uint8Array): { fields: [number, number][]; crcs: [number, number, number][] } {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const fields: [number, number][] = [[4, 4], [8, 4]];
  const crcs: [number, number, number][] = [];
  if (b.length < 16) return { fields, crcs };
  const n = dv.getUint32(8, true);
  if (12 + n + 4 > b.length) return { fields, crcs };
  fields.push(...digitRuns(b, 12, 12 + n), [12 + n, 4]);
  crcs.push([12 + n, 12, 12 + n]);
  let p = 12 + n + 4;
  while (p + 8 <= b.length && String.fromCharCode(...b.subarray(p, p + 4)) === "TNSR") {
    const len = dv.getUint32(p + 4, true);
    if (p + 8 + len + 4 > b.length) break;
    fields.push([p + 4, 4], [p + 8 + len, 4]);
    // body: u32 n | descriptor | u32 n | symbols | u32 n | meta
    let q = p + 8;
    for (let k = 0; k < 3 && q + 4 <= p + 8 + len; k++) {
      const m = dv.getUint32(q, true);
      fields.push([q, 4]);
      if (k === 0) fields.push(...digitRuns(b, q + 4, Math.min(q + 4 + m, p + 8 + len)));
      q += 4 + m;
    }
    crcs.push([p + 8 + len, p + 8, p + 8 + len]);
    p += 8 + len + 4;
  }
  fields.push([p + 4, 4]);
  return { fields, crcs };
}

const subbitTarget: FuzzTarget = {
  name: "subbit",
  suffix: ".subbit",
  async seeds(dir) {
    const model = `${dir}/m.safetensors`;
    await writeSafetensors(model, [
      { name: "l0.weight", shape: [8, 64], data: weights(512, 5) },
      { name: "l1.weight", shape: [4, 64], data: weights(256, 6) },
      { name: "l1.bias", shape: [4], data: weights(4, 7) },
    ]);
    const seeds: Seed[] = [];
    for (const id of ["ternary_absmean.g64.f16", "hqq.b3.g32.f16", "sparse_klevel.l5.s0.8.g64.f16"]) {
      const out = `${dir}/seed-${id}.subbit`;
      await packModel({ model, config: parseConfigId(id), out, quiet: true });
      const bytes = await Deno.readFile(out);
      seeds.push({ bytes, fields: subbitFrames(bytes).fields });
    }
    return seeds;
  },
  fixup(b) {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (const [at, from, to] of subbitFrames(b).crcs) dv.setUint32(at, crc32(b.subarray(from, to)), true);
    return b;
  },
  async run(path) {
    const r = await ContainerReader.open(path);
    try {
      for await (const rec of r.records()) restoreTensor(rec, path);
    } finally {
      r.close();
    }
  },
};

/** Range-coded symbol streams of every coder: the seed's first bytes say coder, count, levels and cols. */
const rangeTarget: FuzzTarget = {
  name: "range_decoder",
  suffix: ".rc",
  seeds() {
    const seeds: Seed[] = [];
    const rand = mulberry32(11);
    const ids = [...CODERS.keys()];
    ids.forEach((id, k) => {
      const levels = [3, 5, 16][k % 3], cols = 32, count = 32 * 6;
      const symbols = Uint8Array.from({ length: count }, () => Math.floor(rand() ** 2 * levels));
      const body = CODERS.get(id)!.encode(symbols, levels, cols);
      const b = new Uint8Array(8 + body.length);
      b.set([k, levels, cols, 0], 0);
      new DataView(b.buffer).setUint32(4, count, true);
      b.set(body, 8);
      seeds.push({ bytes: b, fields: [[8, 1], [9, 1], [10, 2], [12, 4]] });
    });
    return Promise.resolve(seeds);
  },
  run(_path, b) {
    if (b.length < 8) return Promise.resolve();
    const ids = [...CODERS.keys()];
    const coder = CODERS.get(ids[b[0] % ids.length])!;
    const levels = Math.max(2, b[1]), cols = Math.max(1, b[2]);
    const count = Math.min(new DataView(b.buffer, b.byteOffset).getUint32(4, true), 4096); // the caller's count
    if (!coder.accepts(levels)) return Promise.resolve();
    coder.decode(b.subarray(8), count, levels, cols, "fuzz stream");
    return Promise.resolve();
  },
};

export const FUZZ_TARGETS: readonly FuzzTarget[] = [safetensorsTarget, ggufTarget, subbitTarget, rangeTarget];
