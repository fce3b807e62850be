/**
 * uint_b: the kernel format of uniform b-bit codes (b = 2, 3, 4, 8) with a scale
 * and an offset per group, prepared from what the quantizer returned — its
 * symbols, stored scales/zeros and reconstruction — never by quantizing again.
 * Every weight is ŵ = s_g·q + c_g with, by reconstruction (quant/dequant.ts):
 *   scaled     s_g = S_g·unit, c_g = −centre·s_g       (rtn_sym)
 *   min_plus   s_g = max(S_g, 0), c_g = Z_g            (rtn_asym)
 *   zero_point s_g = S_g, c_g = −Z_g·S_g               (hqq)
 * Layout and kernel: kernels/c/gemv_uintb.c.
 */
import { InputError } from "../errors.ts";
import type { GroupSize, Quantized } from "../quant/types.ts";
import { activationScratch, checkGemvArgs, referenceGemv } from "./gemv.ts";
import type { NativeLib } from "./native.ts";
import { alignedArray } from "./aligned.ts";

export interface UintBWeights {
  kernel: "uint_b";
  /** Bits a code: the payload costs bits/8 bytes a weight (plus 8 bytes of (s, c) a group). */
  bits: 2 | 3 | 4 | 8;
  rows: number;
  cols: number;
  /** Padded columns: a multiple of the block (256 columns at 2 and 3 bits, 128 at 4, 64 at 8) and of the group. */
  cp: number;
  /** Columns a group along the padded row: 32, or a multiple of 64. */
  group: number;
  /** Bytes the kernel streams per GEMV: payload + metadata (+ each row's padding to 64 bytes). */
  bytes: number;
  /** Bytes a row: its superblocks, each eight groups' (s, c) as f32 (64 bytes) then their code blocks of 64
   * bytes (96 at 3 bits), padded to a multiple of 64 — see kernels/c/gemv_uintb.c. */
  rowBytes: number;
  /** rows × rowBytes. */
  packed: Uint8Array;
  /** Ŵ as the kernel computes it, s_g·q + c_g in f32 ([rows × cols]). */
  dequantized: Float32Array;
}

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;
const gcd = (a: number, b: number): number => b ? gcd(b, a % b) : a;

/** Columns one 64-byte load of codes holds: sections of 64 columns, w = 2 bits (b = 2, 3), else b bits each. */
const blockColumns = (bits: 2 | 3 | 4 | 8): number => 64 * (8 / (bits === 3 ? 2 : bits));

/** Where a row's bytes go: its blocks of codes (64 bytes, 96 at 3 bits) grouped into superblocks of eight groups
 * (or the whole row), each after its 64 metadata bytes. */
function uintBGeometry(bits: 2 | 3 | 4 | 8, cp: number, group: number) {
  const blockCols = blockColumns(bits), blockBytes = bits === 3 ? 96 : 64;
  const blocks = cp / blockCols, sbBlocks = Math.min(8 * group, cp) / blockCols;
  const superblocks = Math.ceil(blocks / sbBlocks), sbBytes = 64 + sbBlocks * blockBytes;
  return {
    rowBytes: roundUp(64 * superblocks + blocks * blockBytes, 64),
    /** byte offset in the row of block `blk` */
    block: (blk: number) => {
      const sb = Math.floor(blk / sbBlocks);
      return sb * sbBytes + 64 + (blk - sb * sbBlocks) * blockBytes;
    },
    /** byte offset in the row of group g's (s, c) */
    meta: (g: number) => Math.floor(g / 8) * sbBytes + 8 * (g % 8),
  };
}

/**
 * Why a quantized layer has no uint_b kernel, or null when it has one: b-bit
 * codes (2–4) of a uniform reconstruction, no stored transform (a rotation or
 * correction changes Ŵ beyond the codes), groups of 32, a multiple of 64, a
 * row or the tensor.
 */
export function uintBUnsupported(q: Quantized, bits: number | undefined, group: GroupSize): string | null {
  if (bits === undefined || ![2, 3, 4, 8].includes(bits)) return `${bits ?? "no"} bits (uint_b takes 2, 3, 4 or 8)`;
  if (q.levels > 2 ** bits) return `${q.levels} levels exceed ${bits} bits`;
  if (q.post) return "a stored transform (rotation, channel scales or low-rank) beside the codes";
  if (typeof group === "number" && group !== 32 && group % 64 !== 0) return `groups of ${group} (32 or 64k)`;
  return null;
}

/** Prepare uint_b weights from a Quantized [rows × cols] of a b-bit config with group size `groupSize`. */
export function prepareUintB(
  q: Quantized,
  rows: number,
  cols: number,
  bits: number,
  groupSize: GroupSize,
): UintBWeights {
  const why = uintBUnsupported(q, bits, groupSize);
  if (why) throw new InputError(`uint_b: no kernel for ${why}`);
  const b = bits as 2 | 3 | 4 | 8;
  // the quantizer's groups (per row: ⌈cols/G⌉, or one, or one for the whole tensor) in padded columns
  const G = typeof groupSize === "number" ? groupSize : 0, blockCols = blockColumns(b);
  const cp = roundUp(cols, G ? (blockCols * G) / gcd(blockCols, G) : blockCols);
  const group = G || cp, groups = cp / group, perRow = G ? Math.ceil(cols / G) : 1;
  const geo = uintBGeometry(b, cp, group), rowBytes = geo.rowBytes;
  const packed = new Uint8Array(rows * rowBytes), meta = new Float32Array(packed.buffer);
  const S = q.meta.scales, Z = q.meta.zeros, rec = q.reconstruction;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      if (g >= perRow) continue; // padding only: s = c = 0
      const src = groupSize === "tensor" ? 0 : r * perRow + g;
      let s: number, c: number;
      if (rec.kind === "scaled") (s = Math.fround(S[src] * rec.unit), c = Math.fround(-rec.center * s));
      else if (rec.kind === "min_plus") (s = S[src] > 0 ? S[src] : 0, c = Z![src]);
      else (s = S[src], c = Math.fround(-Z![src] * S[src]));
      const m = (r * rowBytes + geo.meta(g)) / 4;
      meta[m] = s;
      meta[m + 1] = c;
    }
  }
  // a block: byte j holds column 64·i + j of the block in bits w·i … (w = 2 for b = 2, 3); b = 3 then has four
  // 64-bit words, bit j of word i the third bit of column 64·i + j
  const w = b === 3 ? 2 : b;
  const dequantized = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < cols; k++) {
      const code = q.symbols[r * cols + k], m = (r * rowBytes + geo.meta(Math.floor(k / group))) / 4;
      dequantized[r * cols + k] = Math.fround(Math.fround(meta[m] * code) + meta[m + 1]);
      const o = r * rowBytes + geo.block(Math.floor(k / blockCols)), i = Math.floor((k % blockCols) / 64), j = k % 64;
      packed[o + j] |= (code & ((1 << w) - 1)) << (w * i);
      if (b === 3) packed[o + 64 + 8 * i + (j >> 3)] |= ((code >> 2) & 1) << (j & 7);
    }
  }
  return {
    kernel: "uint_b",
    bits: b,
    rows,
    cols,
    cp,
    group,
    bytes: packed.length,
    rowBytes,
    packed,
    dequantized,
  };
}

/** The reference: Ŵ (as the format stores it) times the int8 activations, accumulated in f64. */
export function tsUintBGemv(p: UintBWeights, x: Float32Array, y: Float32Array, batch: number): void {
  referenceGemv(p, x, y, batch, true);
}

/** A copy of prepared weights in 64-byte-aligned arrays (the C path's loads; also a benchmark's DRAM copies). */
export function alignedUintB(p: UintBWeights, wholeHugePages = false): UintBWeights {
  const packed = alignedArray(Uint8Array, p.packed.length, wholeHugePages);
  packed.set(p.packed);
  return { ...p, packed };
}

/** The C kernel (kernels/c/gemv_uintb.c), with weights in 64-byte-aligned arrays. */
export function cUintBGemv(lib: NativeLib) {
  const scratchFor = activationScratch();
  return {
    prepare: (q: Quantized, rows: number, cols: number, bits: number, group: GroupSize): UintBWeights =>
      alignedUintB(prepareUintB(q, rows, cols, bits, group)),
    run(p: UintBWeights, x: Float32Array, y: Float32Array, batch: number, threads = 1): void {
      checkGemvArgs(p, x, y, batch);
      const a = scratchFor(batch, p.cp);
      lib.sb_quantize_acts(x, batch, BigInt(p.cols), BigInt(p.cp), a.xu, a.sx);
      const rc = lib.sb_gemv_uintb(
        p.packed,
        p.bits,
        BigInt(p.group),
        a.xu,
        a.sx,
        y,
        BigInt(p.rows),
        BigInt(p.cp),
        batch,
        threads,
      );
      if (rc !== 0) throw new Error(`sb_gemv_uintb failed (${rc}): out of memory or bad arguments`);
    },
  };
}
