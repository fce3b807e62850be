/** Group layout: groups of `size` consecutive weights along each row (the last may be shorter). */
import { InputError } from "../errors.ts";
import type { GroupSize, WeightMatrix } from "./types.ts";

export interface GroupLayout {
  /** Flat [start, end) of every group, row-major order. */
  starts: Int32Array;
  ends: Int32Array;
  count: number;
}

/** Group boundaries of a [rows, cols] matrix for a group size. */
export function groupLayout(rows: number, cols: number, size: GroupSize): GroupLayout {
  if (size === "tensor") {
    return { starts: Int32Array.of(0), ends: Int32Array.of(rows * cols), count: 1 };
  }
  const g = size === "row" ? cols : size;
  const perRow = Math.ceil(cols / g);
  const count = rows * perRow;
  const starts = new Int32Array(count);
  const ends = new Int32Array(count);
  let k = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c += g) {
      starts[k] = r * cols + c;
      ends[k] = r * cols + Math.min(c + g, cols);
      k++;
    }
  }
  return { starts, ends, count };
}

/** Fail with the tensor name and position when W holds NaN or ±Inf. */
export function assertFinite(w: WeightMatrix): void {
  const d = w.data;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i])) {
      throw new InputError(`tensor ${w.name}: non-finite weight ${d[i]} at [${Math.floor(i / w.cols)}, ${i % w.cols}]`);
    }
  }
}

/** Check a group size is a positive integer, "row" or "tensor". */
export function validateGroupSize(size: GroupSize): void {
  if (size === "row" || size === "tensor") return;
  if (!Number.isInteger(size) || size < 1) {
    throw new InputError(`group size ${size} must be a positive integer, "row" or "tensor"`);
  }
}

/** Symmetric rounding: half away from zero, so round(-x) = -round(x). */
export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/** mean|w| of every group (the least-squares scale of a ±1 pattern). */
export function groupAbsMean(d: Float32Array, layout: GroupLayout): Float32Array {
  const { starts, ends, count } = layout;
  const out = new Float32Array(count);
  for (let g = 0; g < count; g++) {
    let sum = 0;
    for (let i = starts[g]; i < ends[g]; i++) sum += Math.abs(d[i]);
    out[g] = sum / (ends[g] - starts[g]);
  }
  return out;
}
