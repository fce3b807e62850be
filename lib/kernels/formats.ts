/**
 * Weight and activation formats of the GEMV kernels (kernels/c/gemv*.c), built
 * from f32 weights with subbit's own quantizers:
 *   int8      rtn_sym 8-bit, one scale per 64 columns (q ∈ [−127, 127])
 *   ternary2  ternary_absmean per row, codes w+1 packed 2 bits each; 256-column
 *             blocks of 64 bytes, byte j holding columns j, j+64, j+128, j+192, in 4096-column panels
 *   base3     the same ternary weights, 5 trits per byte (base3_code.ts: table-decodable, 320-column blocks)
 *   sparse    layout "blocks": per row and 128-column block, the counts of +1 and −1 weights (two bytes) and
 *             their positions within the block (a byte each: the +1s, then the −1s); layout "columns" (under
 *             sparseColumnsBelow(batch) non-zeros a block on average): per row, the +1s' then the −1s' column numbers
 *             (uint16) and the count of +1s
 *   coded     the same ternary codes, static order-0 range-coded (lib/coding) in
 *             independent chunks of CODED_CHUNK_ROWS rows, decoded per GEMV
 * Activations: int8 per token with scale absmax/127, stored biased (+128) as uint8.
 */
import { InputError } from "../errors.ts";
import type { GroupSize, Quantized } from "../quant/types.ts";
import { staticOrder0 } from "../coding/static_order0.ts";
import { readVarint } from "../coding/varint.ts";
import { encodeBase3 } from "./base3_code.ts";

export const KERNELS = ["fp32", "int8", "ternary2", "ternary_base3", "sparse_ternary", "coded_ternary"] as const;
export type KernelName = (typeof KERNELS)[number];

/** What every prepared format has: its shape, the bytes it streams and Ŵ as the kernel computes it. */
interface PreparedBase<K extends KernelName> {
  kernel: K;
  rows: number;
  cols: number;
  /** Padded column count of the integer formats (multiple of 64; of 256 for ternary2, 320 for ternary_base3). */
  cp: number;
  /** Bytes of weight data the kernel streams per GEMV (payload + scales + sums/offsets). */
  bytes: number;
  /**
   * Bits of payload a weight costs, as ggml's block structs carry their size: a literal where the format fixes it,
   * a number where the data do (sparse positions, arithmetic-coded streams). Metadata is in `bytes`.
   */
  payloadBits: number;
  /** Ŵ as the kernel sees it (for references and tests). */
  dequantized: Float32Array;
}

export interface Fp32Weights extends PreparedBase<"fp32"> {
  payloadBits: 32;
  f32: Float32Array;
}

export interface Int8Weights extends PreparedBase<"int8"> {
  payloadBits: 8;
  /** rows × rowBytes in column panels of INT8_PANEL_GROUPS groups of 64 columns (the last may be narrower), each
   * panel every row's part of it as superblocks of 16 groups — the groups' f32 scales (64 bytes), then their 16 × 64
   * signed codes — so a row's part is one memory stream (kernels/c/gemv.c; `int8Offsets` finds a group, `int8Planes`
   * splits them). */
  blocks: Uint8Array;
  /** A row's bytes over all panels. */
  rowBytes: number;
  /** Σ_g s_g·128·Σq_g per row (removes the +128 activation bias). */
  rowBias: Float32Array;
}

/** Groups of 64 columns in one int8 column panel (4096 columns: the GEMV re-reads 4 KB of activations per panel). */
export const INT8_PANEL_GROUPS = 64;

/** Bytes of one row's part of an int8 panel of `groups` groups: the groups' codes and a 64-byte scale line per 16. */
export const int8RowBytes = (groups: number): number => 64 * (groups + Math.ceil(groups / 16));

/** Byte offsets in `blocks` of row r's group g: its 64 codes and its f32 scale (rows × cp weights). */
export function int8Offsets(rows: number, cp: number, r: number, g: number): { codes: number; scale: number } {
  const g0 = g - (g % INT8_PANEL_GROUPS), l = g - g0; // the panel's first group, and g's place in it
  const row = rows * int8RowBytes(g0) + r * int8RowBytes(Math.min(INT8_PANEL_GROUPS, cp / 64 - g0));
  return { codes: row + 64 * (l + Math.floor(l / 16) + 1), scale: row + 64 * 17 * Math.floor(l / 16) + 4 * (l % 16) };
}

/** int8 weights as two plain arrays: codes [rows × cp] and scales [rows × cp/64] (the WGSL kernel's buffers). */
export function int8Planes(p: Int8Weights): { q: Int8Array; scale: Float32Array } {
  const groups = p.cp / 64, q = new Int8Array(p.rows * p.cp), scale = new Float32Array(p.rows * groups);
  const view = new DataView(p.blocks.buffer, p.blocks.byteOffset, p.blocks.byteLength);
  for (let r = 0; r < p.rows; r++) {
    for (let g = 0; g < groups; g++) {
      const at = int8Offsets(p.rows, p.cp, r, g);
      q.set(new Int8Array(p.blocks.buffer, p.blocks.byteOffset + at.codes, 64), r * p.cp + g * 64);
      scale[r * groups + g] = view.getFloat32(at.scale, true);
    }
  }
  return { q, scale };
}

/** The per-row scale and Σw every ternary format keeps. */
interface TernaryRows {
  scale: Float32Array;
  /** Σw per row. */
  wsum: Int32Array;
}

export interface Ternary2Weights extends PreparedBase<"ternary2">, TernaryRows {
  payloadBits: 2;
  /** 256-column blocks of 64 bytes in column panels of TERNARY2_PANEL_BLOCKS blocks, each every row's blocks of it
   * (`ternary2Offset`; `ternary2Rows` lays them out row by row). */
  packed: Uint8Array;
}

/** 256-column blocks in one ternary2 column panel (4096 columns, as int8's: kernels/c/gemv.c). */
export const TERNARY2_PANEL_BLOCKS = 16;

/** Byte offset in `packed` of row r's 256-column block b (rows × cp weights). */
export function ternary2Offset(rows: number, cp: number, r: number, b: number): number {
  const b0 = b - (b % TERNARY2_PANEL_BLOCKS); // the panel's first block
  return 64 * (rows * b0 + r * Math.min(TERNARY2_PANEL_BLOCKS, cp / 256 - b0) + b - b0);
}

/** ternary2's blocks row by row (rows × cp/4 bytes: the WGSL kernel's layout). */
export function ternary2Rows(p: Ternary2Weights): Uint8Array {
  const blocks = p.cp / 256, out = new Uint8Array(p.rows * blocks * 64);
  for (let r = 0; r < p.rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const at = ternary2Offset(p.rows, p.cp, r, b);
      out.set(p.packed.subarray(at, at + 64), (r * blocks + b) * 64);
    }
  }
  return out;
}

export interface Base3Weights extends PreparedBase<"ternary_base3">, TernaryRows {
  payloadBits: 1.6;
  /** 320-column blocks of 64 bytes, five trits a byte. */
  packed: Uint8Array;
  bytesPerRow: number;
}

interface SparseBase extends PreparedBase<"sparse_ternary">, TernaryRows {
  /** Per row, the offset of its entries in `positions` or `columns` (rows + 1 entries). */
  rowOff: Int32Array;
}

/** sparse_ternary, "blocks": per 128-column block, counts and positions. */
export interface SparseBlocksWeights extends SparseBase {
  layout: "blocks";
  /** [+1 count, −1 count] per row and 128-column block. */
  counts: Uint8Array;
  /** Positions within the block, the +1s then the −1s; 64 zero bytes at the end (whole-vector loads). */
  positions: Uint8Array;
}

/** sparse_ternary, "columns": per row the +1s' column numbers, then the −1s'. */
export interface SparseColumnsWeights extends SparseBase {
  layout: "columns";
  /** 32 zero entries at the end (never an empty buffer: FFI passes an empty one as NULL). */
  columns: Uint16Array;
  /** The number of +1s per row. */
  rowPlus: Int32Array;
}

export interface CodedTernaryWeights extends PreparedBase<"coded_ternary"> {
  coded: Uint8Array;
  /** Byte offsets of the coded chunks (chunks + 1 entries). */
  chunkOff: BigInt64Array;
  /** Per chunk, the three symbol frequencies (summing to 2^16). */
  chunkFreq: Uint32Array;
  chunkRows: number;
  scale: Float32Array;
}

/** A kernel's prepared weights: one variant per format, told apart by `kernel` (and a sparse one's `layout`). */
export type PreparedWeights =
  | Fp32Weights
  | Int8Weights
  | Ternary2Weights
  | Base3Weights
  | SparseBlocksWeights
  | SparseColumnsWeights
  | CodedTernaryWeights;

/** Rows per independently coded chunk of a coded_ternary layer (the unit threads split). */
export const CODED_CHUNK_ROWS = 16;

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/** Ternary symbols (0, 1, 2 = −1, 0, +1), their per-row scales and the dequantized weights. */
interface TernaryCodes {
  sym: Uint8Array;
  scale: Float32Array;
  deq: Float32Array;
}

/** A matrix's shape. */
interface Shape {
  rows: number;
  cols: number;
}

/**
 * What a kernel format is prepared from — never f32 weights it quantizes itself:
 *   f32    the weights as they are (the fp32 kernel);
 *   quant  a quantizer's codes of a [rows × cols] matrix with its group size: int8 takes 8-bit symmetric codes in
 *          groups of 64 (rtn_sym.b8.g64), the ternary formats 3-level symmetric codes with one scale a row
 *          (ternary_absmean or sparse_klevel l3 at group size "row").
 * Codes of another form are refused with the reason.
 */
export type WeightCodes =
  | { kind: "f32"; rows: number; cols: number; data: Float32Array }
  | { kind: "quant"; rows: number; cols: number; q: Quantized; groupSize: GroupSize };

/** The ternary formats' codes out of a Quantized: 3 levels, ŵ = s_r·unit·(q − 1), one scale a row. */
function ternaryCodes(kernel: KernelName, c: Extract<WeightCodes, { kind: "quant" }>): TernaryCodes {
  const { q } = c, rec = q.reconstruction;
  if (q.levels !== 3 || rec.kind !== "scaled" || rec.center !== 1 || c.groupSize !== "row" || q.post) {
    throw new InputError(
      `${kernel}: needs 3-level symmetric codes with one scale a row and no stored transform (got ${q.levels} levels, ` +
        `${rec.kind} reconstruction, group size ${c.groupSize}${q.post ? ", a stored transform" : ""})`,
    );
  }
  const scale = Float32Array.from(q.meta.scales, (s) => Math.fround(s * rec.unit));
  return { sym: q.symbols, scale, deq: q.dequantize() };
}

/** The most tokens one GEMV call takes (the C kernels keep R rows × B tokens of accumulators in registers). */
export const MAX_BATCH = 16;

/** Options of prepareWeights. */
export interface PrepareOptions {
  /** Forces sparse_ternary's layout (default: by density and `batch`, see sparseLayoutFor). */
  sparseLayout?: SparseLayout;
  /** Tokens per GEMV the weights are prepared for (1…MAX_BATCH, default 1: decode); picks sparse_ternary's layout. */
  batch?: number;
}

/** The prepared-weights variant of one kernel. */
export type PreparedFor<K extends KernelName> = Extract<PreparedWeights, { kernel: K }>;

/** Prepare weights for a kernel from their codes (WeightCodes: the fp32 kernel takes f32, the others a Quantized). */
export function prepareWeights<K extends KernelName>(
  kernel: K,
  codes: WeightCodes,
  options?: PrepareOptions,
): PreparedFor<K>;
export function prepareWeights(
  kernel: KernelName,
  codes: WeightCodes,
  options: PrepareOptions = {},
): PreparedWeights {
  const { rows, cols } = codes;
  const batch = options.batch ?? 1;
  if (!(Number.isInteger(batch) && batch >= 1 && batch <= MAX_BATCH)) {
    throw new InputError(`prepareWeights: batch ${batch} outside 1..${MAX_BATCH}`);
  }
  if (kernel === "fp32") {
    if (codes.kind !== "f32") throw new InputError("fp32: prepared from f32 weights, not codes");
    const f32 = codes.data;
    return { kernel, rows, cols, cp: cols, bytes: 4 * rows * cols, payloadBits: 32, dequantized: f32, f32 };
  }
  if (codes.kind !== "quant") throw new InputError(`${kernel}: prepared from a quantizer's codes, not f32 weights`);
  if (kernel === "int8") {
    const qz = codes.q, rec = qz.reconstruction;
    if (rec.kind !== "scaled" || rec.center !== 127 || qz.levels > 255 || codes.groupSize !== 64 || qz.post) {
      throw new InputError(
        `int8: needs 8-bit symmetric codes in groups of 64 (rtn_sym.b8.g64; got ${qz.levels} levels, ` +
          `${rec.kind} reconstruction, group size ${codes.groupSize})`,
      );
    }
    const cp = roundUp(cols, 64), groups = cp / 64, rowBytes = int8RowBytes(groups);
    const blocks = new Uint8Array(rows * rowBytes), rowBias = new Float32Array(rows);
    const signed = new Int8Array(blocks.buffer), view = new DataView(blocks.buffer);
    const scale = Float32Array.from(qz.meta.scales, (s) => Math.fround(s * rec.unit));
    for (let r = 0; r < rows; r++) {
      let bias = 0; // Σ_g s_g·128·Σq_g: what the +128 activation bias adds to the row's dot product
      for (let g = 0; g < groups; g++) {
        const at = int8Offsets(rows, cp, r, g);
        let sum = 0;
        for (let k = g * 64; k < Math.min(cols, (g + 1) * 64); k++) {
          const v = qz.symbols[r * cols + k] - 127;
          signed[at.codes + k - g * 64] = v;
          sum += v;
        }
        view.setFloat32(at.scale, scale[r * groups + g], true);
        bias += scale[r * groups + g] * 128 * sum;
      }
      rowBias[r] = bias;
    }
    return {
      kernel,
      rows,
      cols,
      cp,
      bytes: blocks.length + 4 * rows,
      payloadBits: 8,
      dequantized: qz.dequantize(),
      blocks,
      rowBytes,
      rowBias,
    };
  }
  const t = ternaryCodes(kernel, codes);
  const wsum = new Int32Array(rows);
  for (let i = 0; i < t.sym.length; i++) wsum[Math.floor(i / cols)] += t.sym[i] - 1;
  // the packed ternary formats: payload + per-row f32 scale and Σw (8 bytes a row)
  const packedTernary = (cp: number, packed: Uint8Array) => ({
    rows,
    cols,
    cp,
    bytes: packed.length + 8 * rows,
    dequantized: t.deq,
    packed,
    scale: t.scale,
    wsum,
  });
  if (kernel === "ternary2") {
    const cp = roundUp(cols, 256), packed = new Uint8Array((rows * cp) / 4);
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < cp; k++) {
        const code = k < cols ? t.sym[r * cols + k] : 1; // padding: weight 0
        const blk = Math.floor(k / 256), within = k % 256, s = Math.floor(within / 64), j = within % 64;
        packed[ternary2Offset(rows, cp, r, blk) + j] |= code << (2 * s);
      }
    }
    return { kernel, payloadBits: 2, ...packedTernary(cp, packed) };
  }
  if (kernel === "ternary_base3") {
    // 320-column blocks of 64 bytes; byte j holds the codes c_i of columns j + 64·i (i = 0…4) in the
    // base-3 code of base3_code.ts (each c_i a lookup on 7 of the byte's bits)
    const cp = roundUp(cols, 320), bytesPerRow = cp / 5;
    const packed = new Uint8Array(rows * bytesPerRow);
    const code = (r: number, k: number) => k < cols ? t.sym[r * cols + k] : 1; // padding: weight 0
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < bytesPerRow; j++) {
        const k = Math.floor(j / 64) * 320 + (j % 64);
        packed[r * bytesPerRow + j] = encodeBase3(
          code(r, k),
          code(r, k + 64),
          code(r, k + 128),
          code(r, k + 192),
          code(r, k + 256),
        );
      }
    }
    return { kernel, payloadBits: 1.6, ...packedTernary(cp, packed), bytesPerRow };
  }
  if (kernel === "coded_ternary") return codedTernary(codes, t);
  const nonzeros = nonzerosOf(t.sym); // counted once, for the layout choice and the builder
  const layout = options.sparseLayout ?? layoutForCount(nonzeros, rows, cols, batch);
  if (layout === "columns" && cols > 65536) {
    throw new InputError(`sparse_ternary: the columns layout holds at most 65536 columns, not ${cols}`);
  }
  // int32 row offsets cover the non-zeros and the pad (64 position bytes for whole-vector loads; 32 column numbers)
  if (nonzeros > 2 ** 31 - 1 - (layout === "columns" ? 32 : 64)) {
    throw new InputError(`sparse_ternary: ${nonzeros} non-zeros exceed int32 offsets`);
  }
  return layout === "columns" ? sparseColumns(codes, t, wsum, nonzeros) : sparseTernary(codes, t, wsum, nonzeros);
}

export type SparseLayout = "blocks" | "columns";

/** Non-zero ternary symbols (0, 1, 2 = −1, 0, +1). */
function nonzerosOf(sym: Uint8Array): number {
  let n = 0;
  for (const s of sym) if (s !== 1) n++;
  return n;
}

/** Below this many non-zeros per 128-column block on average, sparse_ternary lists column numbers, at batch 1: the
 * blocks layout costs ~6 cycles a block there, the columns layout ~1.4 a non-zero. Interleaved A/B (Ice Lake, 4096²,
 * one thread): blocks faster at 96 % zeros (5.1 a block), columns at 97 % (3.8) and 2–4× at 98–99 %. */
export const SPARSE_COLUMNS_BELOW = 4;

/** The columns layout's threshold (non-zeros a block) for `batch` tokens: SPARSE_COLUMNS_BELOW at batch 1, else 7 per
 * four tokens. The blocks layout's per-token lookups pad tokens to fours (2 and 4 tokens cost the same, 6 the same as
 * 8) while the columns layout pays per non-zero and token. Interleaved A/B (Ice Lake, 4096², one thread), the
 * crossover (blocks faster above, columns below): 2 and 4 tokens between 9.0 and 7.7 a block (93–94 % zeros), 6 and 8
 * between 17.9 and 15.4 (86–88 %), 12 between 25.6 and 17.9, 16 between 32 and 25.6 (75–80 %). */
export function sparseColumnsBelow(batch: number): number {
  return batch <= 1 ? SPARSE_COLUMNS_BELOW : 7 * Math.ceil(batch / 4);
}

/** sparse_ternary's layout by density and tokens per GEMV: "columns" under sparseColumnsBelow(batch) non-zeros a
 * block on average (≤ 65536 columns), else "blocks". */
export function sparseLayoutFor(sym: Uint8Array, rows: number, cols: number, batch = 1): SparseLayout {
  return layoutForCount(nonzerosOf(sym), rows, cols, batch);
}

function layoutForCount(nonzeros: number, rows: number, cols: number, batch: number): SparseLayout {
  const blocks = rows * Math.ceil(cols / SPARSE_BLOCK);
  return cols <= 65536 && nonzeros < sparseColumnsBelow(batch) * blocks ? "columns" : "blocks";
}

/** Columns per block of sparse_ternary: a byte holds the position, one `vpermi2b` looks up 64 of them. */
export const SPARSE_BLOCK = 128;

/** The sparse_ternary format (see the header): the non-zeros' positions by row and 128-column block. */
function sparseTernary(
  w: Shape,
  t: TernaryCodes,
  wsum: Int32Array,
  nonzeros: number,
): SparseBlocksWeights {
  const { rows, cols } = w;
  const blocks = Math.ceil(cols / SPARSE_BLOCK), cp = blocks * SPARSE_BLOCK;
  const rowOff = new Int32Array(rows + 1), counts = new Uint8Array(2 * rows * blocks);
  const positions = new Uint8Array(nonzeros + 64);
  let at = 0;
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const k0 = b * SPARSE_BLOCK, k1 = Math.min(cols, k0 + SPARSE_BLOCK);
      for (const [sign, slot] of [[2, 0], [0, 1]]) { // +1 (symbol 2) first, then −1 (symbol 0)
        for (let k = k0; k < k1; k++) {
          if (t.sym[r * cols + k] === sign) positions[at++] = k - k0, counts[2 * (r * blocks + b) + slot]++;
        }
      }
    }
    rowOff[r + 1] = at;
  }
  return {
    kernel: "sparse_ternary",
    rows,
    cols,
    cp,
    bytes: nonzeros + counts.length + 4 * (rows + 1) + 8 * rows,
    payloadBits: (8 * (nonzeros + counts.length)) / (rows * cols),
    dequantized: t.deq,
    layout: "blocks",
    rowOff,
    counts,
    positions,
    scale: t.scale,
    wsum,
  };
}

/** The sparse_ternary "columns" layout: per row the +1s' column numbers, then the −1s'. */
function sparseColumns(
  w: Shape,
  t: TernaryCodes,
  wsum: Int32Array,
  nonzeros: number,
): SparseColumnsWeights {
  const { rows, cols } = w;
  const rowOff = new Int32Array(rows + 1), rowPlus = new Int32Array(rows), columns = new Uint16Array(nonzeros + 32);
  let at = 0;
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < cols; k++) if (t.sym[r * cols + k] === 2) columns[at++] = k;
    rowPlus[r] = at - rowOff[r];
    for (let k = 0; k < cols; k++) if (t.sym[r * cols + k] === 0) columns[at++] = k;
    rowOff[r + 1] = at;
  }
  return {
    kernel: "sparse_ternary",
    rows,
    cols,
    cp: roundUp(cols, SPARSE_BLOCK),
    bytes: 2 * nonzeros + 4 * (rows + 1) + 4 * rows + 8 * rows,
    payloadBits: (16 * nonzeros) / (rows * cols),
    dequantized: t.deq,
    layout: "columns",
    rowOff,
    columns,
    rowPlus,
    scale: t.scale,
    wsum,
  };
}

/** Range-code the ternary codes chunk by chunk with the registered static order-0 coder. */
function codedTernary(
  w: Shape,
  t: TernaryCodes,
): CodedTernaryWeights {
  const { rows, cols } = w;
  const chunks = Math.ceil(rows / CODED_CHUNK_ROWS);
  const parts: Uint8Array[] = [], chunkOff = new BigInt64Array(chunks + 1), chunkFreq = new Uint32Array(3 * chunks);
  let total = 0;
  for (let c = 0; c < chunks; c++) {
    const r0 = c * CODED_CHUNK_ROWS, r1 = Math.min(rows, r0 + CODED_CHUNK_ROWS);
    const bytes = staticOrder0.encode(t.sym.subarray(r0 * cols, r1 * cols), 3, cols);
    let pos = 0; // the stream opens with the three frequencies as varints, then the range-coded payload
    for (let s = 0; s < 3; s++) [chunkFreq[3 * c + s], pos] = readVarint(bytes, pos, "coded_ternary");
    parts.push(bytes.subarray(pos));
    total += bytes.length - pos;
    chunkOff[c + 1] = BigInt(total);
  }
  const coded = new Uint8Array(total);
  for (let c = 0; c < chunks; c++) coded.set(parts[c], Number(chunkOff[c]));
  return {
    kernel: "coded_ternary",
    rows,
    cols,
    cp: roundUp(cols, 64),
    bytes: total + chunkOff.byteLength + chunkFreq.byteLength + 4 * rows,
    payloadBits: (8 * total) / (rows * cols),
    dequantized: t.deq,
    coded,
    chunkOff,
    chunkFreq,
    chunkRows: CODED_CHUNK_ROWS,
    scale: t.scale,
  };
}

export interface QuantizedActivations {
  /** x + 128 as uint8, [B × cp]. */
  xu: Uint8Array;
  /** Per-token scale absmax/127. */
  sx: Float32Array;
  /** x̂ = sx·xq, [B × cols] (what the integer kernels multiply by). */
  dequantized: Float32Array;
}

/** Per-token absmax int8 activations, padded to cp columns. */
export function quantizeActivations(x: Float32Array, B: number, cols: number, cp: number): QuantizedActivations {
  const xu = new Uint8Array(B * cp).fill(128), sx = new Float32Array(B), deq = new Float32Array(B * cols);
  for (let b = 0; b < B; b++) {
    let amax = 0;
    for (let k = 0; k < cols; k++) amax = Math.max(amax, Math.abs(x[b * cols + k]));
    const s = Math.fround(amax / 127);
    sx[b] = s;
    for (let k = 0; k < cols; k++) {
      // f32 division and round half away from zero, as the C version (lroundf) computes it
      const r = Math.max(-127, Math.min(127, Math.fround(x[b * cols + k] / s)));
      const q = s > 0 ? (r < 0 ? -Math.round(-r) : Math.round(r)) : 0;
      xu[b * cp + k] = q + 128;
      deq[b * cols + k] = q * s;
    }
  }
  return { xu, sx, dequantized: deq };
}
