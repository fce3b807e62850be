/** Pack a model into a .subbit container with one quantization config, and restore tensors from one. */
import { InputError } from "../errors.ts";
import { dequantizeSymbols } from "../quant/dequant.ts";
import { groupLayout } from "../quant/groups.ts";
import { metaFromBytes } from "../quant/meta.ts";
import { getQuantizer } from "../quant/mod.ts";
import type { QuantConfig } from "../quant/types.ts";
import { configId } from "../sweep/grid.ts";
import { progress } from "../sweep/progress.ts";
import { hashModelFiles, openModel } from "../tensor/model.ts";
import { selectLayers } from "../tensor/select.ts";
import type { Tensor } from "../tensor/types.ts";
import { ContainerReader, ContainerWriter } from "./container.ts";
import { decodeStreams, encodeF32, encodeQuantized, type TensorRecord } from "./record.ts";

export interface PackOptions {
  model: string;
  config: QuantConfig;
  /** Layer globs; default every 2-D weight. Other tensors are stored as f32. */
  layers?: string;
  out: string;
  quiet?: boolean;
}

export interface PackSummary {
  tensors: number;
  quantized: number;
  params: number;
  quantizedParams: number;
  bytes: number;
  /** File size in bytes. */
  /** Bits per parameter over the quantized tensors only (their records). */
  quantizedBitsPerParam: number;
}

export async function packModel(o: PackOptions): Promise<PackSummary> {
  const src = await openModel(o.model);
  const chosen = new Set(selectLayers(src.tensors, o.layers).map((t) => t.name));
  const q = getQuantizer(o.config.method);
  q.validate(o.config);
  const cid = configId(o.config);
  const writer = await ContainerWriter.create(o.out, {
    format: "subbit",
    version: 1,
    model_config: src.config,
    source: { path: o.model, sha256: await hashModelFiles(src.files) },
    tensors: src.tensors.map((t) => ({ name: t.name, config_id: chosen.has(t.name) ? cid : "f32" })),
    created_by: "subbit deno task pack",
  });
  const s: PackSummary = {
    tensors: 0,
    quantized: 0,
    params: 0,
    quantizedParams: 0,
    bytes: 0,
    quantizedBitsPerParam: 0,
  };
  let quantizedBytes = 0;
  const bar = progress(src.tensors.length, "pack", { quiet: o.quiet });
  try {
    for (const info of src.tensors) {
      const t = await src.read(info.name);
      let rec: TensorRecord;
      if (chosen.has(info.name)) {
        const [rows, cols] = info.shape;
        const quant = q.quantize({ name: info.name, rows, cols, data: t.data }, o.config);
        rec = encodeQuantized(info.name, rows, cols, quant, {
          configId: cid,
          groupSize: o.config.groupSize,
          scaleDtype: o.config.scaleDtype,
        }).record;
      } else {
        rec = encodeF32(info.name, info.shape, t.data);
      }
      const n = await writer.add(rec);
      s.tensors++;
      s.params += t.data.length;
      s.bytes += n;
      if (chosen.has(info.name)) {
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
  return s;
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
  const { symbols, scaleBytes, zeroBytes } = decodeStreams(r, what);
  const scales = metaFromBytes(scaleBytes, layout.count, d.scale_dtype, `${what}: scales`);
  const zeros = zeroBytes.length ? metaFromBytes(zeroBytes, layout.count, d.scale_dtype, `${what}: zeros`) : undefined;
  if (d.reconstruction.kind !== "scaled" && !zeros) {
    throw new InputError(`${what}: ${d.reconstruction.kind} needs zero-points`);
  }
  return {
    name: d.name,
    shape: d.shape,
    data: dequantizeSymbols(symbols, { scales, zeros }, d.reconstruction, layout),
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
