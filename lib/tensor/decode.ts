import { InputError } from "../errors.ts";
import { bf16BitsToF32, f16BitsToF32 } from "./dtype.ts";
import type { StoredDtype } from "./types.ts";
import { blockBytes, decodeBlocks, GGML_BLOCK_TYPES, type GgmlBlockTypeName } from "./ggml_blocks.ts";

type PlainDtype = Exclude<StoredDtype, GgmlBlockTypeName>;

/** Whether a stored dtype is one of ggml's block types. */
export function isBlockDtype(d: StoredDtype): d is GgmlBlockTypeName {
  return d in GGML_BLOCK_TYPES;
}

/** Bytes per element of a plain (non-block) stored dtype. */
export const DTYPE_BYTES: Record<PlainDtype, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  I8: 1,
  U8: 1,
};

const F16_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let i = 0; i < 65536; i++) t[i] = f16BitsToF32(i);
  return t;
})();

/** Whether this host stores floats little-endian (as safetensors and GGUF do). */
const LITTLE_ENDIAN = new Uint8Array(new Float32Array([1]).buffer)[3] === 0x3f;

/**
 * Decode little-endian stored elements into f32. F32 bytes that fill their
 * own buffer are returned as a view of it (the caller gives them up).
 */
export function decodeToF32(bytes: Uint8Array, dtype: StoredDtype, count: number, what: string): Float32Array {
  if (dtype === "F32" && LITTLE_ENDIAN && bytes.byteOffset === 0 && bytes.buffer.byteLength === 4 * count) {
    return new Float32Array(bytes.buffer); // the bytes' own buffer already is the tensor: no second copy
  }
  const out = new Float32Array(count);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "F32":
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    case "F16":
      for (let i = 0; i < count; i++) out[i] = F16_TABLE[dv.getUint16(2 * i, true)];
      return out;
    case "BF16":
      for (let i = 0; i < count; i++) out[i] = bf16BitsToF32(dv.getUint16(2 * i, true));
      return out;
    case "I8":
      for (let i = 0; i < count; i++) out[i] = dv.getInt8(i);
      return out;
    case "U8":
      for (let i = 0; i < count; i++) out[i] = bytes[i];
      return out;
    default: {
      const t = GGML_BLOCK_TYPES[dtype];
      if (count % t.blockSize !== 0) {
        throw new InputError(`${what}: ${dtype} needs a multiple of ${t.blockSize} elements, got ${count}`);
      }
      return decodeBlocks(t, bytes, count);
    }
  }
}

/** Stored size in bytes of `count` elements of `dtype`. */
export function storedBytes(dtype: StoredDtype, count: number): number {
  if (isBlockDtype(dtype)) return blockBytes(GGML_BLOCK_TYPES[dtype], count);
  return DTYPE_BYTES[dtype] * count;
}

/** Read exactly `length` bytes at `offset` of an open file, or fail naming it. */
export async function readExactly(
  file: Deno.FsFile,
  offset: number,
  length: number,
  what: string,
): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) {
      throw new InputError(`${what}: file truncated: wanted ${length} bytes at offset ${offset}, got ${got}`);
    }
    got += n;
  }
  return buf;
}
