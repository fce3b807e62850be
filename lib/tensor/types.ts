/** A dense tensor, row-major, always widened to f32 in memory. */
export interface Tensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Stored dtypes the readers understand: plain elements, or ggml blocks (ggml_blocks.ts). */
export type StoredDtype = "F32" | "F16" | "BF16" | "I8" | "U8" | "Q8_0" | "Q4_0" | "TQ2_0" | "TQ1_0";

/** Where one tensor lives inside a checkpoint file. */
export interface TensorInfo {
  name: string;
  dtype: StoredDtype;
  shape: number[];
  /** Absolute byte offset of the tensor data in `file`. */
  offset: number;
  byteLength: number;
  file: string;
}

/** Product of a shape's dimensions (1 for a scalar). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
