/**
 * Bit-budget allocation. Sensitivity: quantize one layer at a time with each
 * menu config and measure Δbpb on a held-out slice. Allocation: assuming Δbpb
 * adds across layers, choose one config per layer to minimise Σ Δbpb subject
 * to Σ bits ≤ budget × params, by Lagrangian relaxation — for a multiplier λ
 * each layer independently takes argmin Δbpb + λ·bits; λ is bisected to the
 * smallest value whose plan fits the budget.
 */
import { encodeF32, encodeQuantized, serializeRecord } from "../pack/record.ts";
import { InputError } from "../errors.ts";
import { type HessianSource, quantizeWeight } from "../quant/transforms.ts";
import type { QuantConfig } from "../quant/types.ts";
import { configId } from "../quant/config_id.ts";
import type { Progress } from "../cli/progress.ts";
import type { ModelSource } from "../tensor/model.ts";
import { heldoutBpbAndKl, scoreLogProbs, windowLogProbs } from "../model/bpb.ts";
import type { NeoxForward, Weights } from "../model/neox.ts";

export interface MenuEntry {
  layer: string;
  config_id: string;
  /** The layer's .subbit record size under this config. */
  bits: number;
  params: number;
  rel_error: number;
  delta_bpb: number;
  /** KL(fp32 ‖ this layer quantized), bits per predicted byte on the same slice (≥ 0). */
  kl_bits: number;
}

/** What the allocator minimises (summed over layers): Δbpb, or the KL from the fp32 model (less noisy, never < 0). */
export type Objective = "kl_bits" | "delta_bpb";
export const OBJECTIVES: readonly Objective[] = ["kl_bits", "delta_bpb"];

export interface Sensitivity {
  baseBpb: number;
  entries: MenuEntry[];
  /** Bits of the tensors that stay f32 (norms, biases): their records. */
  fixedBits: number;
  totalParams: number;
}

/** Measure Δbpb of every (2-D layer, menu config) on `text`, one layer quantized at a time. */
export function measureSensitivity(
  src: ModelSource,
  weights: Weights,
  model: NeoxForward,
  menu: QuantConfig[],
  text: Uint8Array,
  bar?: Progress,
  hessians?: HessianSource | null,
): Sensitivity {
  // one fp32 pass: the reference distributions, and the base bpb from them
  const reference = windowLogProbs(model, text);
  const mc = model.config;
  const baseBpb = scoreLogProbs(reference, text, mc.max_position_embeddings, mc.vocab_size).bpb;
  const entries: MenuEntry[] = [];
  let fixedBits = 0, totalParams = 0, done = 0;
  for (const info of src.tensors) {
    const w = weights.get(info.name)!;
    totalParams += w.length;
    if (info.shape.length !== 2) {
      fixedBits += 8 * serializeRecord(encodeF32(info.name, info.shape, w)).sizes.total;
      continue;
    }
    const [rows, cols] = info.shape;
    for (const c of menu) {
      const q = quantizeWeight({ name: info.name, rows, cols, data: w }, c, hessians);
      const wq = q.dequantize();
      const rec = encodeQuantized(info.name, rows, cols, q, {
        configId: configId(c),
        groupSize: c.groupSize,
        scaleDtype: c.scaleDtype,
      }).record;
      let ee = 0, ww = 0;
      for (let i = 0; i < w.length; i++) {
        ee += (w[i] - wq[i]) ** 2;
        ww += w[i] ** 2;
      }
      model.setWeight(info.name, wq);
      const { bpb, kl } = heldoutBpbAndKl(model, text, reference);
      model.setWeight(info.name, w);
      entries.push({
        layer: info.name,
        config_id: configId(c),
        bits: 8 * serializeRecord(rec).sizes.total,
        params: w.length,
        rel_error: Math.sqrt(ee / ww),
        delta_bpb: bpb - baseBpb,
        kl_bits: kl,
      });
      bar?.tick(++done, `${info.name} ${configId(c)}`);
    }
  }
  return { baseBpb, entries, fixedBits, totalParams };
}

/** A sensitivity.json written by `allocate`, checked against the model it is to plan. */
export async function readSensitivity(path: string, src: ModelSource): Promise<Sensitivity> {
  let s: Sensitivity;
  try {
    s = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new InputError(`--sensitivity ${path}: cannot read JSON: ${(e as Error).message.split("\n")[0]}`);
  }
  if (!s || !Array.isArray(s.entries) || !s.entries.length || !(s.totalParams > 0) || !(s.fixedBits >= 0)) {
    throw new InputError(`--sensitivity ${path}: not an allocate sensitivity.json (entries, totalParams, fixedBits)`);
  }
  const names = new Set(src.tensors.map((t) => t.name));
  for (const e of s.entries) {
    if (!names.has(e.layer)) throw new InputError(`--sensitivity ${path}: layer ${e.layer} is not in the model`);
    for (const k of ["bits", "delta_bpb", "kl_bits"] as const) {
      if (typeof e[k] !== "number") throw new InputError(`--sensitivity ${path}: ${e.layer} ${e.config_id} lacks ${k}`);
    }
  }
  return s;
}

export interface Allocation {
  layers: Record<string, string>;
  bits: number;
  bitsPerParam: number;
  /** Σ of the objective over the plan's layers (for kl_bits: the predicted Δbpb to first order). */
  predictedDeltaBpb: number;
}

/** Choose a config per layer: the Lagrangian plan with the smallest λ that fits the budget (bits per parameter). */
export function allocate(s: Sensitivity, budget: number, objective: Objective = "delta_bpb"): Allocation {
  const byLayer = new Map<string, MenuEntry[]>();
  for (const e of s.entries) {
    if (!byLayer.has(e.layer)) byLayer.set(e.layer, []);
    byLayer.get(e.layer)!.push(e);
  }
  const pick = (lambda: number): Allocation => {
    const layers: Record<string, string> = {};
    let bits = s.fixedBits, delta = 0;
    for (const [layer, es] of byLayer) {
      let best = es[0], bestCost = Infinity;
      for (const e of es) {
        const cost = e[objective] + lambda * e.bits;
        if (cost < bestCost || (cost === bestCost && e.bits < best.bits)) [best, bestCost] = [e, cost];
      }
      layers[layer] = best.config_id;
      bits += best.bits;
      delta += best[objective];
    }
    return { layers, bits, bitsPerParam: bits / s.totalParams, predictedDeltaBpb: delta };
  };
  const cheapest = pick(1e9);
  if (cheapest.bitsPerParam > budget) {
    throw new InputError(
      `budget ${budget} bits/param is below the cheapest plan the menu allows (${cheapest.bitsPerParam.toFixed(4)})`,
    );
  }
  let lo = 0, hi = 1;
  while (pick(hi).bitsPerParam > budget) hi *= 2;
  if (pick(lo).bitsPerParam <= budget) return pick(lo);
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (pick(mid).bitsPerParam > budget) lo = mid;
    else hi = mid;
  }
  return pick(hi);
}
