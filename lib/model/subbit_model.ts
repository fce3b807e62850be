/**
 * A .subbit container as a model for the forward pass: every tensor decoded
 * (Ŵ for quantized ones, exactly what pack measured), the model config from
 * the container header, and the file's true size.
 */
import { ContainerReader } from "../pack/container.ts";
import { restoreTensor } from "../pack/pack.ts";
import type { ContainerHeader } from "../pack/container.ts";
import type { Weights } from "./neox.ts";

export interface SubbitModel {
  header: ContainerHeader;
  weights: Weights;
  params: number;
  /** File size in bytes. */
  bytes: number;
  /** bytes × 8 / params: everything the file stores, per parameter. */
  bitsPerParam: number;
  /** Tensors stored quantized (config_id other than f32). */
  quantized: number;
}

export async function loadSubbitModel(path: string): Promise<SubbitModel> {
  const reader = await ContainerReader.open(path);
  const weights: Weights = new Map();
  let params = 0;
  try {
    for await (const r of reader.records()) {
      const t = restoreTensor(r, path);
      weights.set(t.name, t.data);
      params += t.data.length;
    }
  } finally {
    reader.close();
  }
  const bytes = (await Deno.stat(path)).size;
  const quantized = reader.header.tensors.filter((t) => t.config_id !== "f32").length;
  return { header: reader.header, weights, params, bytes, bitsPerParam: (8 * bytes) / params, quantized };
}
