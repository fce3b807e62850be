import { bf16BitsToF32, f16BitsToF32 } from "./dtype.ts";
import type { StoredDtype } from "./types.ts";
import { InputError } from "../errors.ts";

/** Bytes per element of a plain (non-block) stored dtype. */
export const DTYPE_BYTES: Record<Exclude<StoredDtype, "Q8_0">, number> = {
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

/** Decode little-endian stored elements into f32. */
export function decodeToF32(bytes: Uint8Array, dtype: StoredDtype, count: number, what: string): Float32Array {
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
    case "Q8_0": {
      // GGML Q8_0 block: f16 scale d, then 32 int8 q; x = d * q.
      if (count % 32 !== 0) throw new InputError(`${what}: Q8_0 needs a multiple of 32 elements, got ${count}`);
      for (let b = 0; b < count / 32; b++) {
        const base = b * 34;
        const d = F16_TABLE[dv.getUint16(base, true)];
        for (let j = 0; j < 32; j++) out[b * 32 + j] = d * dv.getInt8(base + 2 + j);
      }
      return out;
    }
  }
}

/** Stored size in bytes of `count` elements of `dtype`. */
export function storedBytes(dtype: StoredDtype, count: number): number {
  if (dtype === "Q8_0") return (count / 32) * 34;
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
