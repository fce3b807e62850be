/**
 * GGUF (v2/v3) reader: the header (metadata key/values, tensor infos) is
 * parsed by `@huggingface/gguf`; tensor data is read here at
 * tensorDataOffset + offset. GGUF lists dims fastest-first (ne[0] = columns),
 * so the row-major shape is the reversed list.
 */
import { gguf } from "@huggingface/gguf";
import { InputError } from "../errors.ts";
import { isBlockDtype, readExactly, storedBytes } from "./decode.ts";
import { GGML_BLOCK_TYPES } from "./ggml_blocks.ts";
import type { StoredDtype, TensorInfo } from "./types.ts";

/** GGML type ids this reader decodes (ggml.h: GGML_TYPE_*). */
const GGML_TYPES: Record<number, StoredDtype> = {
  0: "F32",
  1: "F16",
  24: "I8",
  30: "BF16",
  ...Object.fromEntries(Object.values(GGML_BLOCK_TYPES).map((t) => [t.id, t.name])),
};

export interface GgufHeader {
  version: number;
  metadata: Record<string, unknown>;
  tensors: TensorInfo[];
  alignment: number;
}

/** Parse a local GGUF file's header and validate every tensor's data span. */
export async function readGgufHeader(path: string): Promise<GgufHeader> {
  let size: number;
  try {
    size = (await Deno.stat(path)).size;
  } catch (e) {
    throw new InputError(`${path}: cannot open: ${(e as Error).message}`);
  }
  const magic = new Uint8Array(4);
  const f = await Deno.open(path);
  try {
    const n = await f.read(magic);
    if (n !== 4 || new TextDecoder().decode(magic) !== "GGUF") {
      throw new InputError(`${path}: not a GGUF file (bad magic)`);
    }
  } finally {
    f.close();
  }
  let parsed;
  try {
    // an http URL only selects the library's range reader; every range comes from localRangeFetch, never the network
    parsed = await gguf(`http://local.file/${encodeURIComponent(path)}`, { fetch: localRangeFetch(path, size) });
  } catch (e) {
    throw new InputError(`${path}: corrupt or truncated GGUF header: ${(e as Error).message}`);
  }
  const metadata = jsonSafe(parsed.metadata) as Record<string, unknown>;
  const alignment = Number(metadata["general.alignment"] ?? 32);
  const dataStart = Number(parsed.tensorDataOffset);
  if (dataStart > size || parsed.tensorInfos.some((t) => !t.name)) {
    throw new InputError(`${path}: file truncated: the GGUF header runs past the end of the ${size}-byte file`);
  }
  const tensors: TensorInfo[] = [];
  for (const t of parsed.tensorInfos) {
    const dtype = GGML_TYPES[Number(t.dtype)];
    if (!dtype) {
      throw new InputError(
        `${path}: tensor ${t.name}: GGML type ${t.dtype} is not supported (F32, F16, BF16, I8, Q8_0, Q4_0, TQ2_0, TQ1_0 are read)`,
      );
    }
    const shape = t.shape.map(Number).reverse();
    const count = shape.reduce((a, b) => a * b, 1);
    const block = isBlockDtype(dtype) ? GGML_BLOCK_TYPES[dtype].blockSize : 1;
    if ((shape.at(-1) ?? 1) % block !== 0) {
      throw new InputError(
        `${path}: tensor ${t.name}: ${dtype} row length ${shape[shape.length - 1]} is not a multiple of ${block}`,
      );
    }
    const byteLength = storedBytes(dtype, count);
    const offset = dataStart + Number(t.offset);
    if (Number(t.offset) % alignment !== 0) {
      throw new InputError(`${path}: tensor ${t.name}: offset ${t.offset} not aligned to ${alignment}`);
    }
    if (offset + byteLength > size) {
      throw new InputError(
        `${path}: tensor ${t.name}: data [${offset}, ${
          offset + byteLength
        }) lies past the end of the ${size}-byte file (truncated?)`,
      );
    }
    tensors.push({ name: t.name, dtype, shape, offset, byteLength, file: path });
  }
  return { version: Number(metadata.version), metadata, tensors, alignment };
}

/**
 * A `fetch` serving byte ranges of a local file, for `@huggingface/gguf`'s range reader: its own local-file mode
 * (allowLocalFile) refuses to run in a Web Worker ("cannot be used on browser"), which broke GGUF reading there.
 */
function localRangeFetch(path: string, size: number): typeof fetch {
  return (async (_uri: unknown, init?: RequestInit) => {
    const m = /bytes=(\d+)-(\d+)/.exec(new Headers(init?.headers).get("range") ?? "");
    const start = Math.min(m ? Number(m[1]) : 0, size), end = Math.min(m ? Number(m[2]) + 1 : size, size);
    const f = await Deno.open(path);
    try {
      const bytes = await readExactly(f, start, end - start, path);
      return new Response(bytes as Uint8Array<ArrayBuffer>, {
        status: 206,
        headers: { "content-range": `bytes ${start}-${Math.max(start, end - 1)}/${size}` },
      });
    } finally {
      f.close();
    }
  }) as typeof fetch;
}

/**
 * GGUF's 64-bit counts arrive as BigInt, which JSON (manifests, container
 * headers) cannot hold: a safe integer becomes a number, a larger one a decimal string.
 */
export function jsonSafe(v: unknown): unknown {
  if (typeof v === "bigint") {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  }
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x)]));
  return v;
}
