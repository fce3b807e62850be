/**
 * One tensor of a .subbit file: a descriptor, the coded symbol stream and the
 * (coded or raw) metadata stream, framed and CRC-protected:
 *
 *   "TNSR" | u32 body length | body | u32 CRC-32(body)
 *   body = u32 n | descriptor JSON (n bytes) | u32 n | symbol stream | u32 n | meta stream
 *
 * All integers little endian. The record's whole size is what the sweep
 * counts as a layer's coded_bits (payload + metadata + per-tensor header).
 */
import { InputError } from "../errors.ts";
import type { Reconstruction } from "../quant/dequant.ts";
import type { Rotation } from "../quant/hadamard.ts";
import type { LowRankDtype } from "../quant/low_rank.ts";
import type { GroupSize, Quantized, ScaleDtype } from "../quant/types.ts";
import { crc32 } from "../coding/crc32.ts";
import { codeBest, getCoder } from "../coding/mod.ts";

export const RECORD_MAGIC = "TNSR";

export interface QuantizedDescriptor {
  kind: "quantized";
  name: string;
  shape: [number, number];
  config_id: string;
  levels: number;
  group_size: GroupSize;
  scale_dtype: ScaleDtype;
  reconstruction: Reconstruction;
  /** Coder of the symbol stream. */
  coder: string;
  /** "raw" or the coder id of the metadata stream. */
  meta_coder: string;
  scale_bytes: number;
  zero_bytes: number;
  /** `awq`: f16 per-input-channel scales in the metadata stream after scales and zeros (cols × 2 bytes). */
  channel_scales?: { alpha: number; bytes: number };
  /** `had`: the codes are of W·Qᵀ (lib/quant/hadamard.ts); absent = not rotated. */
  rotation?: Rotation;
  /** `lr<r>`: the correction's factors, stored in the metadata stream after scales and zeros. */
  low_rank?: { rank: number; dtype: LowRankDtype; bytes: number };
}

export interface F32Descriptor {
  kind: "f32";
  name: string;
  shape: number[];
}

export type Descriptor = QuantizedDescriptor | F32Descriptor;

export interface TensorRecord {
  descriptor: Descriptor;
  symbols: Uint8Array;
  meta: Uint8Array;
}

/** Byte sizes of a record's parts, for the sweep's bit accounting. */
export interface RecordSizes {
  total: number;
  payload: number;
  meta: number;
  header: number;
}

export interface EncodedTensor {
  record: TensorRecord;
  /** Size of every symbol coder tried (bytes). */
  coderSizes: Record<string, number>;
}

/** Code a quantized tensor: best symbol model, metadata coded where that beats raw. */
export function encodeQuantized(
  name: string,
  rows: number,
  cols: number,
  q: Quantized,
  info: { configId: string; groupSize: GroupSize; scaleDtype: ScaleDtype },
  coderIds?: readonly string[],
): EncodedTensor {
  const best = codeBest(q.symbols, q.levels, cols, coderIds);
  const lowRank = q.post?.lowRank;
  const rawMeta = concat(
    concat(q.meta.scaleBytes, q.meta.zeroBytes ?? new Uint8Array(0)),
    concat(q.post?.channelScales?.bytes ?? new Uint8Array(0), lowRank?.bytes ?? new Uint8Array(0)),
  );
  let meta = rawMeta, metaCoder = "raw";
  if (rawMeta.length >= 64) {
    const coded = codeBest(rawMeta, 256, rawMeta.length, ["static_o0", "adaptive_o0"]);
    if (coded.bytes.length < rawMeta.length) [meta, metaCoder] = [coded.bytes, coded.coder];
  }
  const descriptor: QuantizedDescriptor = {
    kind: "quantized",
    name,
    shape: [rows, cols],
    config_id: info.configId,
    levels: q.levels,
    group_size: info.groupSize,
    scale_dtype: info.scaleDtype,
    reconstruction: q.reconstruction,
    coder: best.coder,
    meta_coder: metaCoder,
    scale_bytes: q.meta.scaleBytes.length,
    zero_bytes: q.meta.zeroBytes?.length ?? 0,
  };
  const cs = q.post?.channelScales;
  if (cs) descriptor.channel_scales = { alpha: cs.alpha, bytes: cs.bytes.length };
  if (q.post?.rotation) descriptor.rotation = q.post.rotation;
  if (lowRank) descriptor.low_rank = { rank: lowRank.rank, dtype: lowRank.dtype, bytes: lowRank.bytes.length };
  return { record: { descriptor, symbols: best.bytes, meta }, coderSizes: best.sizes };
}

/** A tensor kept in f32 (norms, biases, layers left unquantized). */
export function encodeF32(name: string, shape: number[], data: Float32Array): TensorRecord {
  const bytes = new Uint8Array(data.length * 4);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat32(4 * i, data[i], true);
  return { descriptor: { kind: "f32", name, shape }, symbols: bytes, meta: new Uint8Array(0) };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Frame a record: magic, length, body, CRC. */
export function serializeRecord(r: TensorRecord): { bytes: Uint8Array; sizes: RecordSizes } {
  const desc = new TextEncoder().encode(JSON.stringify(r.descriptor));
  const bodyLen = 12 + desc.length + r.symbols.length + r.meta.length;
  const out = new Uint8Array(8 + bodyLen + 4);
  const dv = new DataView(out.buffer);
  out.set(new TextEncoder().encode(RECORD_MAGIC), 0);
  dv.setUint32(4, bodyLen, true);
  let p = 8;
  for (const part of [desc, r.symbols, r.meta]) {
    dv.setUint32(p, part.length, true);
    out.set(part, p + 4);
    p += 4 + part.length;
  }
  dv.setUint32(p, crc32(out.subarray(8, p)), true);
  return {
    bytes: out,
    sizes: {
      total: out.length,
      payload: r.symbols.length,
      meta: r.meta.length,
      header: out.length - r.symbols.length - r.meta.length,
    },
  };
}

/** Parse a record body (after magic + length), checking the CRC. `offset` is its file position, for errors. */
export function parseRecordBody(body: Uint8Array, crc: number, offset: number, file: string): TensorRecord {
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const parts: Uint8Array[] = [];
  let p = 0;
  for (let k = 0; k < 3; k++) {
    if (p + 4 > body.length) throw new InputError(`${file}: record at byte ${offset}: truncated body`);
    const n = dv.getUint32(p, true);
    if (p + 4 + n > body.length) {
      throw new InputError(`${file}: record at byte ${offset}: part ${k} of ${n} bytes overruns the record`);
    }
    parts.push(body.subarray(p + 4, p + 4 + n));
    p += 4 + n;
  }
  let descriptor: Descriptor;
  try {
    descriptor = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(parts[0]));
  } catch {
    throw new InputError(
      `${file}: record at byte ${offset}: corrupt descriptor (CRC ${crc32(body) === crc ? "ok" : "mismatch"})`,
    );
  }
  const actual = crc32(body);
  const name = typeof descriptor?.name === "string" ? `tensor ${descriptor.name} ` : "";
  if (actual !== crc) {
    throw new InputError(
      `${file}: ${name}(record at byte ${offset}): CRC mismatch (stored ${crc.toString(16)}, computed ${
        actual.toString(16)
      })`,
    );
  }
  checkDescriptor(descriptor, `${file}: ${name}(record at byte ${offset})`);
  return { descriptor, symbols: parts[1], meta: parts[2] };
}

/** Largest tensor a record may describe (elements): a corrupt shape is refused before anything is allocated. */
export const MAX_RECORD_ELEMENTS = 2 ** 32;

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isFiniteNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/**
 * A descriptor's fields as the readers use them: types, ranges, and a shape whose size is bounded — JSON that
 * passes its CRC can still be ill-formed (a file written by another tool, or a fuzzer's fixed-up mutation).
 */
function checkDescriptor(d: Descriptor, where: string): void {
  const bad = (why: string): never => {
    throw new InputError(`${where}: corrupt descriptor (${why})`);
  };
  if (!d || typeof d !== "object") bad("not an object");
  if (typeof d.name !== "string") bad("no tensor name");
  if (!Array.isArray(d.shape) || !d.shape.every(isCount) || d.shape.length > 8) bad("shape is not a list of sizes");
  if (d.shape.reduce((a: number, b: number) => a * b, 1) > MAX_RECORD_ELEMENTS) bad(`shape ${d.shape} too large`);
  if (d.kind === "f32") return;
  if (d.kind !== "quantized") bad(`kind ${JSON.stringify((d as { kind: unknown }).kind)}`);
  const q = d as QuantizedDescriptor;
  if (q.shape.length !== 2) bad("a quantized tensor is 2-D");
  if (!Number.isInteger(q.levels) || q.levels < 1 || q.levels > 256) bad(`levels ${q.levels}`);
  const g = q.group_size;
  if (!(g === "row" || g === "tensor" || (Number.isSafeInteger(g) && (g as number) >= 1))) bad(`group size ${g}`);
  if (!["f16", "bf16", "fp8_e4m3", "q8g128"].includes(q.scale_dtype)) bad(`scale dtype ${q.scale_dtype}`);
  const r = q.reconstruction;
  if (!r || !["scaled", "min_plus", "zero_point"].includes(r.kind)) bad("reconstruction");
  if (r.kind === "scaled" && !(isFiniteNumber(r.center) && isFiniteNumber(r.unit))) bad("reconstruction numbers");
  if (typeof q.coder !== "string" || typeof q.meta_coder !== "string") bad("coder ids");
  if (!isCount(q.scale_bytes) || !isCount(q.zero_bytes)) bad("metadata sizes");
  if (q.channel_scales && !(isFiniteNumber(q.channel_scales.alpha) && isCount(q.channel_scales.bytes))) {
    bad("channel scales");
  }
  if (q.rotation && !(q.rotation.kind === "hadamard" && isCount(q.rotation.seed) && isCount(q.rotation.block))) {
    bad("rotation");
  }
  const lr = q.low_rank;
  if (lr && !(isCount(lr.rank) && (lr.dtype === "f16" || lr.dtype === "i8") && isCount(lr.bytes))) bad("low rank");
}

/** Decode a quantized record's symbol and metadata streams. */
export function decodeStreams(
  r: TensorRecord,
  what: string,
): {
  symbols: Uint8Array;
  scaleBytes: Uint8Array;
  zeroBytes: Uint8Array;
  channelScaleBytes: Uint8Array;
  lowRankBytes: Uint8Array;
} {
  const d = r.descriptor;
  if (d.kind !== "quantized") throw new InputError(`${what}: not a quantized tensor`);
  const [rows, cols] = d.shape;
  const symbols = getCoder(d.coder).decode(r.symbols, rows * cols, d.levels, cols, `${what}: symbols`);
  for (let i = 0; i < symbols.length; i++) {
    if (symbols[i] >= d.levels) throw new InputError(`${what}: symbol ${symbols[i]} out of range`);
  }
  const zeroEnd = d.scale_bytes + d.zero_bytes;
  const channelEnd = zeroEnd + (d.channel_scales?.bytes ?? 0);
  const metaLen = channelEnd + (d.low_rank?.bytes ?? 0);
  const meta = d.meta_coder === "raw"
    ? r.meta
    : getCoder(d.meta_coder).decode(r.meta, metaLen, 256, metaLen, `${what}: metadata`);
  if (meta.length !== metaLen) {
    throw new InputError(`${what}: metadata is ${meta.length} bytes, descriptor says ${metaLen}`);
  }
  return {
    symbols,
    scaleBytes: meta.subarray(0, d.scale_bytes),
    zeroBytes: meta.subarray(d.scale_bytes, zeroEnd),
    channelScaleBytes: meta.subarray(zeroEnd, channelEnd),
    lowRankBytes: meta.subarray(channelEnd),
  };
}
