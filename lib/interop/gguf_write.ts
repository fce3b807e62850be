/**
 * GGUF v3 writer (ggml docs/gguf.md): magic "GGUF", u32 version, u64
 * tensor_count, u64 kv_count, the key/values, the tensor infos (name, u32
 * n_dims, u64 ne[n_dims] fastest-first, u32 ggml type, u64 offset from the
 * data section), zero padding to `general.alignment`, then each tensor's
 * bytes at its aligned offset. Tensor data is produced one tensor at a time
 * (bounded memory) into a temp file that is renamed over `path` only when
 * complete, so a failed export never leaves a half-written file.
 */
import { dirname } from "node:path";

/** GGUF metadata value types (gguf.md: GGUF_TYPE_*). */
const T = { u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10 } as const;

export type GgufValue =
  | { type: "u32" | "i32" | "f32" | "u64"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "string[]"; value: string[] }
  | { type: "i32[]"; value: number[] };

export interface GgufTensorOut {
  name: string;
  /** Row-major shape ([rows, cols]); written reversed (ne[0] = cols). */
  shape: number[];
  /** ggml type id. */
  type: number;
  byteLength: number;
  /** The tensor's bytes, asked for when the writer reaches it. */
  bytes(): Uint8Array | Promise<Uint8Array>;
}

export const GGUF_ALIGNMENT = 32;

class ByteSink {
  private parts: Uint8Array[] = [];
  private cur = new Uint8Array(1024);
  private n = 0;
  length = 0;
  private room(k: number): DataView {
    if (this.n + k > this.cur.length) {
      this.parts.push(this.cur.subarray(0, this.n));
      this.cur = new Uint8Array(Math.max(1024, k));
      this.n = 0;
    }
    const dv = new DataView(this.cur.buffer, this.n, k);
    this.n += k;
    this.length += k;
    return dv;
  }
  u32(v: number): void {
    this.room(4).setUint32(0, v, true);
  }
  i32(v: number): void {
    this.room(4).setInt32(0, v, true);
  }
  u64(v: number): void {
    this.room(8).setBigUint64(0, BigInt(v), true);
  }
  f32(v: number): void {
    this.room(4).setFloat32(0, v, true);
  }
  u8(v: number): void {
    this.room(1).setUint8(0, v);
  }
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    const dv = this.room(b.length);
    new Uint8Array(dv.buffer, dv.byteOffset, b.length).set(b);
  }
  bytes(): Uint8Array {
    const all = [...this.parts, this.cur.subarray(0, this.n)];
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of all) out.set(p, (o += p.length) - p.length);
    return out;
  }
}

function writeValue(s: ByteSink, v: GgufValue): void {
  switch (v.type) {
    case "string[]":
      s.u32(T.array), s.u32(T.string), s.u64(v.value.length);
      for (const x of v.value) s.str(x);
      return;
    case "i32[]":
      s.u32(T.array), s.u32(T.i32), s.u64(v.value.length);
      for (const x of v.value) s.i32(x);
      return;
    case "string":
      return s.u32(T.string), s.str(v.value);
    case "bool":
      return s.u32(T.bool), s.u8(v.value ? 1 : 0);
    default:
      s.u32(T[v.type]);
      s[v.type](v.value);
  }
}

/** The header bytes (through the padding) and each tensor's data offset. */
export function ggufHeader(
  kv: Record<string, GgufValue>,
  tensors: GgufTensorOut[],
): { header: Uint8Array; offsets: number[] } {
  const s = new ByteSink();
  for (const c of "GGUF") s.u8(c.charCodeAt(0));
  s.u32(3);
  s.u64(tensors.length);
  const all: Record<string, GgufValue> = { "general.alignment": { type: "u32", value: GGUF_ALIGNMENT }, ...kv };
  s.u64(Object.keys(all).length);
  for (const [k, v] of Object.entries(all)) {
    s.str(k);
    writeValue(s, v);
  }
  const offsets: number[] = [];
  let off = 0;
  for (const t of tensors) {
    s.str(t.name);
    s.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) s.u64(d);
    s.u32(t.type);
    s.u64(off);
    offsets.push(off);
    off += Math.ceil(t.byteLength / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
  }
  while (s.length % GGUF_ALIGNMENT) s.u8(0);
  return { header: s.bytes(), offsets };
}

/** Write a GGUF file: header, then every tensor's bytes (checked against its declared length). */
export async function writeGguf(
  path: string,
  kv: Record<string, GgufValue>,
  tensors: GgufTensorOut[],
  onTensor?: (index: number) => void,
): Promise<number> {
  const { header, offsets } = ggufHeader(kv, tensors);
  const tmp = await Deno.makeTempFile({ dir: dirname(path) || ".", prefix: ".gguf-", suffix: ".tmp" });
  try {
    await Deno.chmod(tmp, 0o644);
    const f = await Deno.open(tmp, { write: true, truncate: true });
    try {
      await writeAll(f, header);
      let pos = 0;
      for (let i = 0; i < tensors.length; i++) {
        const t = tensors[i];
        if (offsets[i] > pos) await writeAll(f, new Uint8Array(offsets[i] - pos));
        const b = await t.bytes();
        if (b.length !== t.byteLength) throw new Error(`${t.name}: ${b.length} bytes, declared ${t.byteLength}`);
        await writeAll(f, b);
        pos = offsets[i] + b.length;
        onTensor?.(i);
      }
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  return (await Deno.stat(path)).size;
}

async function writeAll(f: Deno.FsFile, b: Uint8Array): Promise<void> {
  let o = 0;
  while (o < b.length) o += await f.write(b.subarray(o));
}
