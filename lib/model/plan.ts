/**
 * Quantization plans: which config each 2-D weight gets. A plan file
 * (plan-<budget>.json, written by the allocator, read by eval) is
 * {"model": path, "layers": {tensor name: config_id}}; tensors not listed stay f32.
 * Applying a plan yields Ŵ for the forward pass and the model's true size:
 * every tensor's .subbit record (coded payload + metadata + header), f32
 * records for the rest, divided by the parameter count.
 */
import { encodeF32, encodeQuantized, serializeRecord } from "../pack/record.ts";
import { InputError } from "../errors.ts";
import { type HessianSource, quantizeWeight } from "../quant/transforms.ts";
import type { QuantConfig } from "../quant/types.ts";
import { parseConfigId } from "../quant/config_id.ts";
import type { ModelSource } from "../tensor/model.ts";
import type { Weights } from "./neox.ts";

export interface PlanFile {
  model?: string;
  budget?: number;
  layers: Record<string, string>;
}

export async function readPlan(path: string): Promise<PlanFile> {
  let json: PlanFile;
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new InputError(`--plan ${path}: cannot read a JSON plan: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || !json || typeof json.layers !== "object") {
    throw new InputError(`--plan ${path}: no "layers" object`);
  }
  return json;
}

/** A plan as configs by tensor name (each id read by `parse`); every name must be a 2-D tensor of the model. */
export function resolvePlan<C = QuantConfig>(
  plan: Record<string, string>,
  src: ModelSource,
  parse: (id: string) => C = parseConfigId as (id: string) => C,
): Map<string, C> {
  const out = new Map<string, C>();
  for (const [name, id] of Object.entries(plan)) {
    const info = src.tensors.find((t) => t.name === name);
    if (!info) throw new InputError(`plan names tensor ${name}, which the model does not have`);
    if (info.shape.length !== 2) throw new InputError(`plan quantizes ${name}, which is not 2-D`);
    out.set(name, parse(id));
  }
  return out;
}

/** Every 2-D weight with one config (or, for export, one storage choice). */
export function uniformPlan<C = QuantConfig>(src: ModelSource, config: C): Map<string, C> {
  return new Map(src.tensors.filter((t) => t.shape.length === 2).map((t) => [t.name, config]));
}

export interface AppliedPlan {
  weights: Weights;
  params: number;
  bits: number;
  bitsPerParam: number;
}

/** Quantize the planned tensors (Ŵ replaces W) and count the model's record bits. */
export function applyPlan(
  src: ModelSource,
  weights: Weights,
  plan: Map<string, QuantConfig>,
  hessians?: HessianSource | null,
): AppliedPlan {
  const out: Weights = new Map();
  let bits = 0, params = 0;
  for (const info of src.tensors) {
    const w = weights.get(info.name)!;
    params += w.length;
    const c = plan.get(info.name);
    if (!c) {
      out.set(info.name, w);
      bits += 8 * serializeRecord(encodeF32(info.name, info.shape, w)).sizes.total;
      continue;
    }
    const [rows, cols] = info.shape;
    const q = quantizeWeight({ name: info.name, rows, cols, data: w }, c, hessians);
    out.set(info.name, q.dequantize());
    const enc = encodeQuantized(info.name, rows, cols, q, {
      configId: "",
      groupSize: c.groupSize,
      scaleDtype: c.scaleDtype,
    });
    bits += 8 * serializeRecord(enc.record).sizes.total;
  }
  return { weights: out, params, bits, bitsPerParam: bits / params };
}
