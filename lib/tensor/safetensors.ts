/**
 * safetensors reader and writer. Format: u64 LE header length N, N bytes of
 * JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?},
 * then the data section; offsets are relative to the data section.
 */
import { InputError } from "../errors.ts";
import { decodeToF32, DTYPE_BYTES, readExactly } from "./decode.ts";
import { numel, type StoredDtype, type Tensor, type TensorInfo } from "./types.ts";

/** Header larger than this is rejected as corrupt (real ones are < 1 MiB per 10k tensors). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface SafetensorsHeader {
  tensors: TensorInfo[];
  metadata: Record<string, string>;
}

/** Parse and validate the header of a safetensors file without reading tensor data. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new InputError(`${path}: cannot open: ${(e as Error).message}`);
  }
  try {
    const size = (await file.stat()).size;
    if (size < 8) {
      throw new InputError(`${path}: not a safetensors file: ${size} bytes, shorter than the 8-byte header length`);
    }
    const lenBytes = await readExactly(file, 0, 8, path);
    const hlen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
    if (hlen > MAX_HEADER_BYTES) {
      throw new InputError(`${path}: header length ${hlen} exceeds the ${MAX_HEADER_BYTES}-byte cap (corrupt file?)`);
    }
    if (8 + hlen > size) {
      throw new InputError(`${path}: file truncated: header says ${hlen} bytes, file has ${size - 8} after the length`);
    }
    const raw = await readExactly(file, 8, hlen, path);
    let json: unknown, text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
      json = JSON.parse(text);
    } catch (e) {
      throw new InputError(`${path}: header is not valid UTF-8 JSON: ${(e as Error).message}`);
    }
    const dup = firstDuplicateKey(text);
    if (dup !== null) throw new InputError(`${path}: header names ${JSON.stringify(dup)} twice`);
    return validateHeader(path, json, 8 + hlen, size);
  } finally {
    file.close();
  }
}

/**
 * The first key that appears twice in the top-level object of valid JSON text
 * (JSON.parse keeps the last silently), or null.
 */
export function firstDuplicateKey(text: string): string | null {
  const seen = new Set<string>();
  let depth = 0, expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === "{" || c === "[") {
      depth++;
      if (depth === 1) expectKey = c === "{";
    } else if (c === "}" || c === "]") depth--;
    else if (c === "," && depth === 1) expectKey = true;
  }
  return null;
}

function validateHeader(path: string, json: unknown, dataStart: number, size: number): SafetensorsHeader {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new InputError(`${path}: header JSON is not an object`);
  }
  const dataSize = size - dataStart;
  const tensors: TensorInfo[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = v as Record<string, string>;
      continue;
    }
    const info = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const where = `${path}: tensor ${name}`;
    if (typeof info !== "object" || info === null) throw new InputError(`${where}: entry is not an object`);
    if (typeof info.dtype !== "string" || !(info.dtype in DTYPE_BYTES)) {
      throw new InputError(
        `${where}: unsupported dtype ${JSON.stringify(info.dtype)} (F32, F16, BF16, I8, U8 are read)`,
      );
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new InputError(`${where}: bad shape ${JSON.stringify(shape)}`);
    }
    const off = info.data_offsets;
    if (
      !Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[1] < off[0]
    ) {
      throw new InputError(`${where}: bad data_offsets ${JSON.stringify(off)}`);
    }
    const dtype = info.dtype as StoredDtype;
    const want = numel(shape) * DTYPE_BYTES[dtype as keyof typeof DTYPE_BYTES];
    if (off[1] - off[0] !== want) {
      throw new InputError(
        `${where}: data span ${off[1] - off[0]} bytes != shape ${JSON.stringify(shape)} x ${dtype} = ${want} bytes`,
      );
    }
    if (off[1] > dataSize) {
      throw new InputError(
        `${where}: data [${off[0]}, ${off[1]}) lies outside the file's ${dataSize}-byte data section (truncated?)`,
      );
    }
    tensors.push({ name, dtype, shape: shape as number[], offset: dataStart + off[0], byteLength: want, file: path });
  }
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (sorted[i].offset < prev.offset + prev.byteLength) {
      throw new InputError(`${path}: tensors ${prev.name} and ${sorted[i].name} overlap`);
    }
  }
  return { tensors, metadata };
}

/** Read one tensor's data (widened to f32) without loading the rest of the file. */
export async function readTensorData(info: TensorInfo): Promise<Tensor> {
  const file = await Deno.open(info.file, { read: true });
  try {
    const bytes = await readExactly(file, info.offset, info.byteLength, `${info.file}: tensor ${info.name}`);
    return { name: info.name, shape: info.shape, data: decodeToF32(bytes, info.dtype, numel(info.shape), info.name) };
  } finally {
    file.close();
  }
}

/**
 * Write tensors as F32 safetensors. Written to `path.tmp` then renamed, so a
 * failure never leaves a half-written file under the final name.
 */
export async function writeSafetensors(
  path: string,
  tensors: Tensor[],
  metadata: Record<string, string> = {},
): Promise<void> {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.data.length !== numel(t.shape)) {
      throw new InputError(`tensor ${t.name}: ${t.data.length} values for shape ${JSON.stringify(t.shape)}`);
    }
    header[t.name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + 4 * t.data.length] };
    offset += 4 * t.data.length;
  }
  let hbytes = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (hbytes.length % 8)) % 8;
  if (pad) hbytes = new TextEncoder().encode(JSON.stringify(header) + " ".repeat(pad));
  const tmp = `${path}.tmp`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(hbytes.length), true);
    await writeAll(file, len);
    await writeAll(file, hbytes);
    for (const t of tensors) {
      const le = new Uint8Array(t.data.length * 4);
      const dv = new DataView(le.buffer);
      for (let i = 0; i < t.data.length; i++) dv.setFloat32(4 * i, t.data[i], true);
      await writeAll(file, le);
    }
  } finally {
    file.close();
  }
  await Deno.rename(tmp, path);
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await file.write(bytes.subarray(done));
}
