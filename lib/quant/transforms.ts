/**
 * Transforms over the base methods, written after a config id with "+" and
 * applied in one documented order: awq, had, gptq, lr<r> (e.g.
 * `ternary_absmean.g64.f16+had+gptq+lr8`). The calibrated ones need the
 * layer's inputs — its Hessian H = XᵀX — so every caller quantizes through
 * `quantizeWeight` with a source of Hessians. The codes are stored in the
 * base method's form; `had`'s rotation and `lr`'s factors travel beside them
 * (Quantized.post, lib/quant/post.ts) and every stored bit is in metaBits.
 */
import { InputError } from "../errors.ts";
import { gptqQuantize } from "./gptq.ts";
import { GPTQ_SCALE_DTYPES } from "./gptq_grids.ts";
import { getQuantizer } from "./mod.ts";
import { decodeChannelScales, scaleColumns, scaleHessian, searchChannelScales } from "./awq.ts";
import { rotateHessian, rotateWeight, type Rotation, rotationFor } from "./hadamard.ts";
import { fitLowRank, type LowRankDtype } from "./low_rank.ts";
import { applyPost, type PostTransforms } from "./post.ts";
import type { QuantConfig, Quantized, Transform, WeightMatrix } from "./types.ts";

/** The documented order; only those in IMPLEMENTED parse. */
export const TRANSFORM_ORDER = ["awq", "had", "gptq", "lr"] as const;
export const IMPLEMENTED: readonly string[] = ["awq", "had", "gptq", "lr<r>", "lr<r>i8"];
/** The largest rank `lr<r>` takes (a correction past this costs more than the weights it corrects). */
export const MAX_LOW_RANK = 4096;

/** Where calibrated transforms get a layer's input statistics, or null when it has no inputs. */
export interface HessianSource {
  /** H = XᵀX (f64, cols × cols). */
  hessian(weight: string, cols: number): Float64Array | null;
  /** mean |x_j| per input channel (for `awq`). */
  meanAbs?(weight: string, cols: number): Float64Array | null;
}

/** `lr<r>` / `lr<r>i8` → its rank and factor dtype, or null for another transform. */
export function lowRankOf(t: Transform): { rank: number; dtype: LowRankDtype } | null {
  const m = /^lr(\d+)(i8)?$/.exec(t);
  return m ? { rank: Number(m[1]), dtype: m[2] ? "i8" : "f16" } : null;
}

/** Parse the "+" suffixes of a config id, refusing unknown, unimplemented, repeated or out-of-order ones. */
export function parseTransforms(parts: string[]): Transform[] {
  const out: Transform[] = [];
  let last = -1;
  for (const p of parts) {
    const lr = /^lr(\d*)(i8)?$/.exec(p);
    const base = lr ? "lr" : p;
    const k = TRANSFORM_ORDER.indexOf(base as typeof TRANSFORM_ORDER[number]);
    if (k < 0) throw new InputError(`unknown transform '+${p}' (known: +${IMPLEMENTED.join(", +")})`);
    if (lr) {
      const r = Number(lr[1]);
      if (!/^[1-9]\d*$/.test(lr[1]) || r > MAX_LOW_RANK) {
        throw new InputError(
          `transform '+${p}': the rank must be a whole number from 1 to ${MAX_LOW_RANK} (e.g. +lr8)`,
        );
      }
    }
    if (k <= last) {
      throw new InputError(`transforms go in the order +${TRANSFORM_ORDER.join(", +")}: got +${parts.join("+")}`);
    }
    last = k;
    out.push(p as Transform);
  }
  return out;
}

/** Transforms that the config's base cannot take (GPTQ rounds each group's scale alone: f16/bf16 only). */
export function validateTransforms(c: QuantConfig): void {
  if (c.transforms?.includes("gptq") && !GPTQ_SCALE_DTYPES.includes(c.scaleDtype)) {
    throw new InputError(`+gptq stores scales as f16 or bf16, not ${c.scaleDtype}`);
  }
}

/** Does the config need calibration inputs? (`had` alone does not: its rotation is seeded, not fitted.) */
export function needsCalibration(c: QuantConfig): boolean {
  return (c.transforms ?? []).some((t) => t !== "had");
}

/** Is the stored form rotated (its kernel would need rotated activations)? */
export function isRotated(c: QuantConfig): boolean {
  return c.transforms?.includes("had") ?? false;
}

/** H' = Q·H·Qᵀ per (Hessian, rotation seed), cached: a layer's menu of configs shares one (and GPTQ's factor of it). */
const rotatedHessians = new WeakMap<Float64Array, Map<number, Float64Array>>();
function rotatedHessianFor(h: Float64Array, cols: number, r: Rotation): Float64Array {
  let bySeed = rotatedHessians.get(h);
  if (!bySeed) rotatedHessians.set(h, bySeed = new Map());
  let hr = bySeed.get(r.seed);
  if (!hr) bySeed.set(r.seed, hr = rotateHessian(h, cols, r));
  return hr;
}

/**
 * Quantize one weight with its config: the base method, then its transforms
 * in order — `awq` scales W's input channels by searched per-channel scales
 * (and H by their inverse), `had` rotates W (and H) along the input dimension, `gptq`
 * quantizes with error feedback through H, `lr<r>` fits a low-rank
 * correction of the residual in the original basis. A weight the
 * calibration pass never feeds as a matmul input — the input embedding, a
 * lookup whose output error is per element — takes H = I: GPTQ is then the
 * base method, the correction the plain truncated SVD of the residual, and
 * `awq` (no input statistics) stores no scales.
 */
export function quantizeWeight(w: WeightMatrix, c: QuantConfig, hessians?: HessianSource | null): Quantized {
  const q = getQuantizer(c.method);
  const transforms = c.transforms ?? [];
  if (!transforms.length) return q.quantize(w, c);
  q.validate(c);
  validateTransforms(c);
  let h: Float64Array | null = null;
  if (needsCalibration(c)) {
    if (!hessians) {
      throw new InputError(
        `${w.name}: +${transforms.join("+")} needs calibration inputs (a GPT-NeoX model and calib.txt)`,
      );
    }
    h = hessians.hessian(w.name, w.cols);
  }
  const { rows, cols } = w;
  const post: PostTransforms = {};
  let wIn = w, hIn = h;
  const meanAbs = transforms.includes("awq") && h ? hessians?.meanAbs?.(w.name, cols) ?? null : null;
  if (meanAbs) {
    post.channelScales = searchChannelScales(w, c, q, h!, meanAbs);
    const s = decodeChannelScales(post.channelScales, cols);
    wIn = { ...w, data: scaleColumns(w.data, rows, cols, s) };
    hIn = scaleHessian(h!, cols, s);
  }
  if (isRotated(c)) {
    post.rotation = rotationFor(w.name, cols);
    wIn = { ...wIn, data: rotateWeight(wIn.data, rows, cols, post.rotation) };
    if (hIn) hIn = hIn === h ? rotatedHessianFor(hIn, cols, post.rotation) : rotateHessian(hIn, cols, post.rotation);
  }
  const base = transforms.includes("gptq") && hIn ? gptqQuantize(wIn, c, hIn) : q.quantize(wIn, c);
  const lr = transforms.map(lowRankOf).find((x) => x !== null);
  if (!post.rotation && !post.channelScales && !lr) return base;
  if (lr) {
    const wq = applyPost(base.dequantize(), rows, cols, post, w.name);
    post.lowRank = fitLowRank(w.data, wq, rows, cols, h, lr.rank, lr.dtype, w.name);
  }
  return withPost(base, post, rows, cols, w.name);
}

/** The base quantization with stored transforms: Ŵ through applyPost, their bits counted in metaBits. */
function withPost(base: Quantized, post: PostTransforms, rows: number, cols: number, name: string): Quantized {
  return {
    ...base,
    meta: {
      ...base.meta,
      metaBits: base.meta.metaBits + 8 * ((post.lowRank?.bytes.length ?? 0) + (post.channelScales?.bytes.length ?? 0)),
    },
    post,
    dequantize: () => applyPost(base.dequantize(), rows, cols, post, name),
  };
}
