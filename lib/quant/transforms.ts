/**
 * Calibrated transforms over the base methods, written after a config id with
 * "+" and applied in one documented order: awq, had, gptq, lr<r> (e.g.
 * `ternary_absmean.g64.f16+gptq`). Each needs the layer's calibration
 * inputs — its Hessian H = XᵀX — so every caller quantizes through
 * `quantizeWeight` with a source of Hessians. The stored form is the base
 * method's, so coding, packing and the kernels see nothing new.
 */
import { InputError } from "../errors.ts";
import { gptqQuantize } from "./gptq.ts";
import { GPTQ_SCALE_DTYPES } from "./gptq_grids.ts";
import { getQuantizer } from "./mod.ts";
import type { QuantConfig, Quantized, Transform, WeightMatrix } from "./types.ts";

/** The documented order; only those in IMPLEMENTED parse. */
export const TRANSFORM_ORDER = ["awq", "had", "gptq", "lr"] as const;
export const IMPLEMENTED: readonly Transform[] = ["gptq"];

/** Where calibrated transforms get a layer's Hessian (f64, cols × cols), or null when it has no inputs. */
export interface HessianSource {
  hessian(weight: string, cols: number): Float64Array | null;
}

/** Parse the "+" suffixes of a config id, refusing unknown, unimplemented, repeated or out-of-order ones. */
export function parseTransforms(parts: string[]): Transform[] {
  const out: Transform[] = [];
  let last = -1;
  for (const p of parts) {
    const base = p.replace(/\d+(i8)?$/, "");
    const k = TRANSFORM_ORDER.indexOf(base as typeof TRANSFORM_ORDER[number]);
    if (k < 0) throw new InputError(`unknown transform '+${p}' (known: +${IMPLEMENTED.join(", +")})`);
    if (!IMPLEMENTED.includes(p as Transform)) {
      throw new InputError(`transform '+${p}' is not implemented yet (implemented: +${IMPLEMENTED.join(", +")})`);
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

/** Does the config need calibration inputs? */
export function needsCalibration(c: QuantConfig): boolean {
  return (c.transforms?.length ?? 0) > 0;
}

/**
 * Quantize one weight with its config: the base method, or its transforms
 * given the layer's Hessian. A weight the calibration pass never feeds as a
 * matmul input — the input embedding, a lookup whose output error is per
 * element (GPTQ with H = I, i.e. the base method) — takes the base method.
 */
export function quantizeWeight(w: WeightMatrix, c: QuantConfig, hessians?: HessianSource | null): Quantized {
  const q = getQuantizer(c.method);
  if (!needsCalibration(c)) return q.quantize(w, c);
  q.validate(c);
  validateTransforms(c);
  if (!hessians) {
    throw new InputError(
      `${w.name}: +${c.transforms!.join("+")} needs calibration inputs (a GPT-NeoX model and calib.txt)`,
    );
  }
  const h = hessians.hessian(w.name, w.cols);
  return h ? gptqQuantize(w, c, h) : q.quantize(w, c);
}
