/** Pack a model into a .subbit container with one quantization config, and restore tensors from one. */
import { InputError } from "../errors.ts";
import { dequantizeSymbols } from "../quant/dequant.ts";
import { groupLayout } from "../quant/groups.ts";
import { hadamardBlock } from "../quant/hadamard.ts";
import { applyPost, type PostTransforms } from "../quant/post.ts";
import { metaFromBytes } from "../quant/meta.ts";
import { getQuantizer } from "../quant/mod.ts";
import { type HessianSource, quantizeWeight } from "../quant/transforms.ts";
import type { QuantConfig } from "../quant/types.ts";
import { configId } from "../quant/config_id.ts";
import { progress } from "../cli/progress.ts";
import { hashModelFiles, openModel } from "../tensor/model.ts";
import { selectLayers } from "../tensor/select.ts";
import type { Tensor } from "../tensor/types.ts";
import { ContainerReader, ContainerWriter } from "./container.ts";
import {
  decodeStreams,
  encodeF32,
  encodeQuantized,
  type QuantizedDescriptor,
  serializeRecord,
  type TensorRecord,
} from "./record.ts";

export interface PackOptions {
  model: string;
  /**
   * One config for every selected layer, or a config per tensor (a plan,
   * resolved by the caller); tensors without a config are stored as f32.
   */
  config: QuantConfig | Map<string, QuantConfig>;
  /** Layer globs for a single config; default every 2-D weight. */
  layers?: string;
  out: string;
  quiet?: boolean;
  /** Calibration Hessians for configs with transforms (+gptq). */
  hessians?: HessianSource | null;
}

export interface PackSummary {
  tensors: number;
  quantized: number;
  params: number;
  quantizedParams: number;
  /** File size in bytes. */
  bytes: number;
  /** Bits per parameter over the quantized tensors only (their records). */
  quantizedBitsPerParam: number;
  /** The whole file's bits per parameter: bytes × 8 / params (headers, f32 tensors and all). */
  bitsPerParam: number;
}

export async function packModel(o: PackOptions): Promise<PackSummary> {
  const src = await openModel(o.model);
  const configs = o.config instanceof Map ? o.config : new Map(
    selectLayers(src.tensors, o.layers).filter((t) => t.shape[0] * t.shape[1] > 0).map((
      t,
    ) => [t.name, o.config as QuantConfig]),
  );
  for (const c of new Set(configs.values())) getQuantizer(c.method).validate(c);
  const writer = await ContainerWriter.create(o.out, {
    format: "subbit",
    version: 1,
    model_config: src.config,
    source: { path: o.model, sha256: await hashModelFiles(src.files) },
    tensors: src.tensors.map((t) => {
      const c = configs.get(t.name);
      return { name: t.name, config_id: c ? configId(c) : "f32" };
    }),
    created_by: "subbit deno task pack",
  });
  const s: PackSummary = {
    tensors: 0,
    quantized: 0,
    params: 0,
    quantizedParams: 0,
    bytes: 0,
    quantizedBitsPerParam: 0,
    bitsPerParam: 0,
  };
  let quantizedBytes = 0;
  const bar = progress(src.tensors.length, "pack", { quiet: o.quiet });
  try {
    for (const info of src.tensors) {
      const t = await src.read(info.name);
      let rec: TensorRecord;
      const c = configs.get(info.name);
      if (c) {
        const [rows, cols] = info.shape;
        const quant = quantizeWeight({ name: info.name, rows, cols, data: t.data }, c, o.hessians);
        rec = encodeQuantized(info.name, rows, cols, quant, {
          configId: configId(c),
          groupSize: c.groupSize,
          scaleDtype: c.scaleDtype,
        }).record;
      } else {
        rec = encodeF32(info.name, info.shape, t.data);
      }
      const n = await writer.add(rec);
      s.tensors++;
      s.params += t.data.length;
      s.bytes += n;
      if (c) {
        s.quantized++;
        s.quantizedParams += t.data.length;
        quantizedBytes += n;
      }
      bar.tick(s.tensors, info.name);
    }
    await writer.close();
    s.bytes = (await Deno.stat(o.out)).size;
  } catch (e) {
    await writer.abort();
    throw e;
  } finally {
    bar.finish();
  }
  s.quantizedBitsPerParam = s.quantizedParams ? (8 * quantizedBytes) / s.quantizedParams : 0;
  s.bitsPerParam = s.params ? (8 * s.bytes) / s.params : 0;
  return s;
}

/** A record's stored transforms (rotation, low-rank factors), checked against what the format knows. */
function storedPost(
  d: QuantizedDescriptor,
  channelScaleBytes: Uint8Array,
  lowRankBytes: Uint8Array,
  what: string,
): PostTransforms {
  const post: PostTransforms = {};
  if (d.channel_scales) {
    if (d.channel_scales.bytes !== 2 * d.shape[1] || typeof d.channel_scales.alpha !== "number") {
      throw new InputError(`${what}: bad channel-scale descriptor ${JSON.stringify(d.channel_scales)}`);
    }
    post.channelScales = { alpha: d.channel_scales.alpha, bytes: channelScaleBytes };
  }
  if (d.rotation) {
    const r = d.rotation;
    if (r.kind !== "hadamard" || !Number.isInteger(r.seed) || r.block !== hadamardBlock(d.shape[1])) {
      throw new InputError(`${what}: unknown rotation ${JSON.stringify(r)}`);
    }
    post.rotation = r;
  }
  if (d.low_rank) {
    const { rank, dtype } = d.low_rank;
    if (!Number.isInteger(rank) || rank < 1 || rank > Math.min(...d.shape) || (dtype !== "f16" && dtype !== "i8")) {
      throw new InputError(`${what}: bad low-rank descriptor ${JSON.stringify(d.low_rank)}`);
    }
    post.lowRank = { rank, dtype, bytes: lowRankBytes };
  }
  return post;
}

/** Rebuild a tensor (Ŵ for quantized ones) from its record. */
export function restoreTensor(r: TensorRecord, file: string): Tensor {
  const d = r.descriptor;
  const what = `${file}: tensor ${d.name}`;
  if (d.kind === "f32") {
    const n = d.shape.reduce((a, b) => a * b, 1);
    if (r.symbols.length !== 4 * n) throw new InputError(`${what}: ${r.symbols.length} bytes for ${n} f32 values`);
    const dv = new DataView(r.symbols.buffer, r.symbols.byteOffset, r.symbols.byteLength);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = dv.getFloat32(4 * i, true);
    return { name: d.name, shape: d.shape, data };
  }
  const [rows, cols] = d.shape;
  const layout = groupLayout(rows, cols, d.group_size);
  const { symbols, scaleBytes, zeroBytes, channelScaleBytes, lowRankBytes } = decodeStreams(r, what);
  const scales = metaFromBytes(scaleBytes, layout.count, d.scale_dtype, `${what}: scales`);
  const zeros = zeroBytes.length ? metaFromBytes(zeroBytes, layout.count, d.scale_dtype, `${what}: zeros`) : undefined;
  if (d.reconstruction.kind !== "scaled" && !zeros) {
    throw new InputError(`${what}: ${d.reconstruction.kind} needs zero-points`);
  }
  const base = dequantizeSymbols(symbols, { scales, zeros }, d.reconstruction, layout);
  return {
    name: d.name,
    shape: d.shape,
    data: applyPost(base, rows, cols, storedPost(d, channelScaleBytes, lowRankBytes, what), what),
  };
}

/** Read every tensor of a container, dequantized. */
export async function* unpackModel(path: string): AsyncGenerator<Tensor> {
  const reader = await ContainerReader.open(path);
  try {
    for await (const r of reader.records()) yield restoreTensor(r, path);
  } finally {
    reader.close();
  }
}

/** One tensor of a container as stored: what a model card reports per tensor. */
export interface StoredTensorStats {
  name: string;
  config_id: string;
  shape: number[];
  params: number;
  /** The record's bytes in the file (header, coded payload, metadata, CRC). */
  record_bytes: number;
  bits_per_param: number;
  /** Fraction of Ŵ that is exactly 0. */
  zero_fraction: number;
  /** Quantized tensors: how many weights hold each level's symbol (index = symbol); null for f32. */
  level_counts: number[] | null;
}

/** Per-tensor sizes, zero fractions and level counts of a .subbit file (CRC-checked like unpack). */
export async function describeContainer(path: string): Promise<StoredTensorStats[]> {
  const reader = await ContainerReader.open(path);
  const out: StoredTensorStats[] = [];
  try {
    for await (const r of reader.records()) {
      const t = restoreTensor(r, path);
      let zeros = 0;
      for (let i = 0; i < t.data.length; i++) if (t.data[i] === 0) zeros++;
      let counts: number[] | null = null;
      if (r.descriptor.kind === "quantized") {
        counts = new Array(r.descriptor.levels).fill(0);
        for (const s of decodeStreams(r, `${path}: tensor ${t.name}`).symbols) counts[s]++;
      }
      const bytes = serializeRecord(r).sizes.total;
      out.push({
        name: t.name,
        config_id: r.descriptor.kind === "quantized" ? r.descriptor.config_id : "f32",
        shape: t.shape,
        params: t.data.length,
        record_bytes: bytes,
        bits_per_param: (8 * bytes) / t.data.length,
        zero_fraction: zeros / t.data.length,
        level_counts: counts,
      });
    }
  } finally {
    reader.close();
  }
  return out;
}
