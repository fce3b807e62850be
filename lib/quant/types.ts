/** The quantizer contract every method implements (see DESIGN.md). */
import type { Reconstruction } from "./dequant.ts";
import type { PostTransforms } from "./post.ts";

export type MethodId = "rtn_sym" | "rtn_asym" | "sign" | "ternary_absmean" | "sparse_klevel" | "hqq";
export type ScaleDtype = "f16" | "bf16" | "fp8_e4m3" | "q8g128";
/** Elements per group along the input (column) dimension; "row" = a whole row, "tensor" = one group. */
export type GroupSize = number | "row" | "tensor";
/** The grid axes a method may take besides group size and scale dtype. */
export type Axis = "bits" | "levels" | "sparsity";

/**
 * A transform over a base method, written after its config id with "+"
 * (lib/quant/transforms.ts): had, gptq, lr<r> (f16 factors) or lr<r>i8.
 */
export type Transform = "awq" | "had" | "gptq" | `lr${number}` | `lr${number}i8`;

/** One point of the grid. */
export interface QuantConfig {
  method: MethodId;
  bits?: number;
  levels?: number;
  sparsity?: number;
  groupSize: GroupSize;
  scaleDtype: ScaleDtype;
  /** Calibrated transforms, in their documented order; absent = plain rounding. */
  transforms?: Transform[];
}

export interface QuantMeta {
  /** Per-group scales as stored (already rounded to scaleDtype). */
  scales: Float32Array;
  /** Per-group zero-points/offsets as stored, when the method has them. */
  zeros?: Float32Array;
  /** Exact stored size of scales + zeros in bits (= 8 × their serialised bytes). */
  metaBits: number;
  /** Serialised scales and zeros, as a file stores them (meta.ts: StoredMeta.bytes). */
  scaleBytes: Uint8Array;
  zeroBytes?: Uint8Array;
}

/** What every quantizer returns. */
export interface Quantized {
  /** Level index per weight, 0..levels-1, same layout as W. */
  symbols: Uint8Array;
  levels: number;
  meta: QuantMeta;
  /** How symbols + meta map back to weights (see dequant.ts). */
  reconstruction: Reconstruction;
  /**
   * Transforms stored beside the codes (`had`'s rotation, `lr`'s factors);
   * absent when Ŵ is the base reconstruction. Their bits are in meta.metaBits.
   */
  post?: PostTransforms;
  /** Ŵ in W's layout (in the original basis, corrections added). */
  dequantize(): Float32Array;
}

/** A weight matrix to quantize: row-major [rows, cols], groups run along cols. */
export interface WeightMatrix {
  name: string;
  rows: number;
  cols: number;
  data: Float32Array;
}

export interface Quantizer {
  id: MethodId;
  /** Axes of the grid this method takes (others are ignored for it). */
  axes: readonly Axis[];
  /** Throw InputError when the config is not valid for this method. */
  validate(config: QuantConfig): void;
  quantize(w: WeightMatrix, config: QuantConfig): Quantized;
}
