/**
 * Forced-sparsity k-level (k odd): the ⌊p·n⌉ smallest-magnitude weights of the
 * tensor become exact zeros; the rest take levels ±1..±m (m = (k−1)/2) times a
 * per-group scale fitted Lloyd-style: assign q = clamp(round(|w|/s), 1, m)·sign(w),
 * then least squares for that assignment, s = Σ|w|·|q| / Σq², until the
 * assignment stops changing (≤ 20 rounds). Symbols are q + m.
 */
import { InputError } from "../errors.ts";
import { assertFinite, groupLayout, roundHalfAway } from "./groups.ts";
import { storeMeta } from "./meta.ts";
import { validateGrouping } from "./validate.ts";
import { makeQuantized } from "./dequant.ts";
import type { QuantConfig, Quantized, Quantizer, WeightMatrix } from "./types.ts";

export const LLOYD_ROUNDS = 20;

/** The k-th smallest value (0-based) of `a`, reordering `a` in place (Hoare quickselect, median-of-three). */
export function kthSmallest(a: Float32Array, k: number): number {
  let lo = 0, hi = a.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // median of three as pivot
    let p = a[mid];
    if ((a[lo] > p) !== (a[lo] > a[hi])) p = a[lo];
    else if ((a[hi] > p) !== (a[hi] > a[lo])) p = a[hi];
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i] < p) i++;
      while (a[j] > p) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

/** Mask of the `zeros` smallest |w| (ties broken by index), exactly `zeros` set. */
export function smallestMagnitudeMask(d: Float32Array, zeros: number): Uint8Array {
  const mask = new Uint8Array(d.length);
  if (zeros <= 0) return mask;
  const abs = new Float32Array(d.length);
  for (let i = 0; i < d.length; i++) abs[i] = Math.abs(d[i]);
  const t = kthSmallest(abs.slice(), zeros - 1);
  let below = 0;
  for (let i = 0; i < d.length; i++) if (abs[i] < t) below++;
  let ties = zeros - below;
  for (let i = 0; i < d.length; i++) {
    if (abs[i] < t) mask[i] = 1;
    else if (abs[i] === t && ties > 0) {
      mask[i] = 1;
      ties--;
    }
  }
  return mask;
}

/**
 * Lloyd fit of one group's scale over its non-zero magnitudes absNz[0..n),
 * levels 1..m; q is scratch of the same length.
 */
export function fitScale(absNz: Float64Array, n: number, m: number, q: Int32Array): number {
  if (n === 0) return 0;
  let mean = 0;
  for (let j = 0; j < n; j++) mean += absNz[j];
  mean /= n;
  let s = (mean * 2) / (m + 1); // as if levels 1..m were equally used
  for (let round = 0; round < LLOYD_ROUNDS; round++) {
    let num = 0, den = 0, changed = round === 0;
    for (let j = 0; j < n; j++) {
      const r = s > 0 ? Math.round(absNz[j] / s) : 1;
      const qj = r < 1 ? 1 : r > m ? m : r;
      if (qj !== q[j]) changed = true;
      q[j] = qj;
      num += absNz[j] * qj;
      den += qj * qj;
    }
    s = num / den; // least squares for the assignment: s = Σ|w|·|q| / Σq²
    if (!changed) break;
  }
  return s;
}

export const sparseKlevel: Quantizer = {
  id: "sparse_klevel",
  axes: ["levels", "sparsity"],
  validate(c: QuantConfig): void {
    const k = c.levels;
    if (!Number.isInteger(k) || k! < 3 || k! > 255 || k! % 2 === 0) {
      throw new InputError(`sparse_klevel: levels must be an odd integer 3..255, got ${k}`);
    }
    if (typeof c.sparsity !== "number" || !(c.sparsity >= 0 && c.sparsity < 1)) {
      throw new InputError(`sparse_klevel: sparsity must be in [0, 1), got ${c.sparsity}`);
    }
    validateGrouping(c);
  },
  quantize(w: WeightMatrix, c: QuantConfig): Quantized {
    assertFinite(w);
    const m = (c.levels! - 1) / 2;
    const d = w.data;
    const zero = smallestMagnitudeMask(d, Math.round(c.sparsity! * d.length));
    const layout = groupLayout(w.rows, w.cols, c.groupSize);
    const { starts, ends, count } = layout;
    const raw = new Float32Array(count);
    let widest = 0;
    for (let g = 0; g < count; g++) widest = Math.max(widest, ends[g] - starts[g]);
    const absNz = new Float64Array(widest), scratch = new Int32Array(widest);
    for (let g = 0; g < count; g++) {
      let n = 0;
      for (let i = starts[g]; i < ends[g]; i++) if (!zero[i]) absNz[n++] = Math.abs(d[i]);
      raw[g] = fitScale(absNz, n, m, scratch);
    }
    const sm = storeMeta(raw, c.scaleDtype, w.name);
    const symbols = new Uint8Array(d.length).fill(m);
    for (let g = 0; g < count; g++) {
      const s = sm.stored[g];
      for (let i = starts[g]; i < ends[g]; i++) {
        if (zero[i]) continue;
        const r = s > 0 ? roundHalfAway(Math.abs(d[i]) / s) : 1;
        const q = r < 1 ? 1 : r > m ? m : r;
        symbols[i] = m + (d[i] < 0 ? -q : q);
      }
    }
    return makeQuantized(
      symbols,
      c.levels!,
      { scales: sm.stored, metaBits: sm.bits, scaleBytes: sm.bytes },
      { kind: "scaled", center: m, unit: 1 },
      layout,
    );
  },
};
