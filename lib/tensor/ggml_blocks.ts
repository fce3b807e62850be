/**
 * ggml's block-quantized types, from their definitions in ggml-common.h
 * (byte layouts) and ggml-quants.c (dequantize_row_*), written here from
 * those definitions. Each block holds `blockSize` weights in `typeSize`
 * bytes; `d` is an IEEE f16 scale.
 *
 *   Q8_0  { f16 d; i8 qs[32] }                 x[j] = d·qs[j]
 *   Q4_0  { f16 d; u8 qs[16] }                 x[j] = d·((qs[j] & 15) − 8), x[j+16] = d·((qs[j] >> 4) − 8)
 *   TQ2_0 { u8 qs[64]; f16 d }                 x[128h + 32l + m] = d·(((qs[32h + m] >> 2l) & 3) − 1)
 *   TQ1_0 { u8 qs[48]; u8 qh[4]; f16 d }       five trits per qs byte, four per qh byte, stored
 *         pre-scaled by 256/243 so trit n of byte b is ((u8)(b·3ⁿ)·3) >> 8 (see tq1Trit)
 *
 * Encoders take integer codes (already on the type's grid) and f16 scale
 * bits, one per block: they store exactly, never re-round.
 */
import { InputError } from "../errors.ts";
import { f16BitsToF32 } from "./dtype.ts";

export type GgmlBlockTypeName = "Q8_0" | "Q4_0" | "TQ2_0" | "TQ1_0";

export interface GgmlBlockType {
  name: GgmlBlockTypeName;
  /** ggml.h's GGML_TYPE_* id. */
  id: number;
  blockSize: number;
  typeSize: number;
  /** Smallest and largest integer code the type stores. */
  minCode: number;
  maxCode: number;
}

/** ggml's block types this project reads and writes (ids and sizes from ggml.h / ggml-common.h). */
export const GGML_BLOCK_TYPES: Record<GgmlBlockTypeName, GgmlBlockType> = {
  Q8_0: { name: "Q8_0", id: 8, blockSize: 32, typeSize: 34, minCode: -128, maxCode: 127 },
  Q4_0: { name: "Q4_0", id: 2, blockSize: 32, typeSize: 18, minCode: -8, maxCode: 7 },
  TQ2_0: { name: "TQ2_0", id: 35, blockSize: 256, typeSize: 66, minCode: -1, maxCode: 1 },
  TQ1_0: { name: "TQ1_0", id: 34, blockSize: 256, typeSize: 54, minCode: -1, maxCode: 1 },
};

/** Bytes that `count` weights of a block type take (count a multiple of its block size). */
export function blockBytes(t: GgmlBlockType, count: number): number {
  if (count % t.blockSize !== 0) {
    throw new InputError(`${t.name} needs a multiple of ${t.blockSize} weights, got ${count}`);
  }
  return (count / t.blockSize) * t.typeSize;
}

const POW3 = [1, 3, 9, 27, 81, 243];

/** Trit n (0..4) of a TQ1_0 byte: the fixed-point digit extraction of dequantize_row_tq1_0. */
function tq1Trit(b: number, n: number): number {
  return (((b * POW3[n]) & 0xff) * 3) >> 8;
}

/** A base-3 number of trits (most significant first), stored pre-scaled: ceil(v·256/243). */
function tq1Byte(trits: number[]): number {
  let v = 0;
  for (const t of trits) v = v * 3 + t;
  for (let k = trits.length; k < 5; k++) v *= 3; // fewer than five: shift into the top trits
  return Math.floor((v * 256 + 242) / 243);
}

/** Weight order inside a TQ1_0 block: [byte, trit] for every weight index 0..255. */
const TQ1_LAYOUT: Array<[number, number]> = (() => {
  const at: Array<[number, number]> = new Array(256);
  for (let n = 0; n < 5; n++) for (let m = 0; m < 32; m++) at[n * 32 + m] = [m, n]; // qs[0..31]
  for (let n = 0; n < 5; n++) for (let m = 0; m < 16; m++) at[160 + n * 16 + m] = [32 + m, n]; // qs[32..47]
  for (let n = 0; n < 4; n++) for (let j = 0; j < 4; j++) at[240 + n * 4 + j] = [48 + j, n]; // qh[0..3]
  return at;
})();

/** Decode `count` weights of a block type into f32. */
export function decodeBlocks(t: GgmlBlockType, bytes: Uint8Array, count: number): Float32Array {
  const nb = blockBytes(t, count) / t.typeSize;
  const out = new Float32Array(count);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < nb; b++) {
    const base = b * t.typeSize;
    const o = b * t.blockSize;
    switch (t.name) {
      case "Q8_0": {
        const d = f16BitsToF32(dv.getUint16(base, true));
        for (let j = 0; j < 32; j++) out[o + j] = d * dv.getInt8(base + 2 + j);
        break;
      }
      case "Q4_0": {
        const d = f16BitsToF32(dv.getUint16(base, true));
        for (let j = 0; j < 16; j++) {
          const q = bytes[base + 2 + j];
          out[o + j] = d * ((q & 15) - 8);
          out[o + j + 16] = d * ((q >> 4) - 8);
        }
        break;
      }
      case "TQ2_0": {
        const d = f16BitsToF32(dv.getUint16(base + 64, true));
        for (let h = 0; h < 2; h++) {
          for (let l = 0; l < 4; l++) {
            for (let m = 0; m < 32; m++) {
              out[o + 128 * h + 32 * l + m] = d * (((bytes[base + 32 * h + m] >> (2 * l)) & 3) - 1);
            }
          }
        }
        break;
      }
      case "TQ1_0": {
        const d = f16BitsToF32(dv.getUint16(base + 52, true));
        for (let i = 0; i < 256; i++) {
          const [byte, n] = TQ1_LAYOUT[i];
          out[o + i] = d * (tq1Trit(bytes[base + byte], n) - 1);
        }
        break;
      }
    }
  }
  return out;
}

/**
 * Store integer codes (one per weight, within [minCode, maxCode]) and one f16
 * scale per block: Ŵ = f16(d)·code exactly, as decodeBlocks reads it back.
 */
export function encodeBlocks(t: GgmlBlockType, codes: Int8Array, scaleBits: Uint16Array): Uint8Array {
  const nb = blockBytes(t, codes.length) / t.typeSize;
  if (scaleBits.length !== nb) throw new Error(`${t.name}: ${scaleBits.length} scales for ${nb} blocks`);
  for (let i = 0; i < codes.length; i++) {
    if (codes[i] < t.minCode || codes[i] > t.maxCode) {
      throw new Error(`${t.name}: code ${codes[i]} at ${i} outside [${t.minCode}, ${t.maxCode}]`);
    }
  }
  const out = new Uint8Array(nb * t.typeSize);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    const base = b * t.typeSize;
    const o = b * t.blockSize;
    switch (t.name) {
      case "Q8_0":
        dv.setUint16(base, scaleBits[b], true);
        for (let j = 0; j < 32; j++) dv.setInt8(base + 2 + j, codes[o + j]);
        break;
      case "Q4_0":
        dv.setUint16(base, scaleBits[b], true);
        for (let j = 0; j < 16; j++) out[base + 2 + j] = (codes[o + j] + 8) | ((codes[o + j + 16] + 8) << 4);
        break;
      case "TQ2_0":
        for (let h = 0; h < 2; h++) {
          for (let l = 0; l < 4; l++) {
            for (let m = 0; m < 32; m++) out[base + 32 * h + m] |= (codes[o + 128 * h + 32 * l + m] + 1) << (2 * l);
          }
        }
        dv.setUint16(base + 64, scaleBits[b], true);
        break;
      case "TQ1_0": {
        const trits: number[][] = Array.from({ length: 52 }, () => []);
        for (let i = 0; i < 256; i++) trits[TQ1_LAYOUT[i][0]][TQ1_LAYOUT[i][1]] = codes[o + i] + 1;
        for (let byte = 0; byte < 52; byte++) out[base + byte] = tq1Byte(trits[byte]);
        dv.setUint16(base + 52, scaleBits[b], true);
        break;
      }
    }
  }
  return out;
}
