/**
 * The `had` transform's rotation (QuIP#/QuaRot-style incoherence processing):
 * an orthogonal Q = B·D along a layer's input dimension, where D = diag(±1)
 * is a seeded random sign flip and B is block-diagonal with normalised
 * Walsh–Hadamard blocks H_b / √b. The block b is the largest power of two
 * dividing cols (capped at MAX_BLOCK): 256 and 1024 columns take one block, 768
 * takes three of 256, an odd width only the sign flip. Since y = W·x =
 * (W·Qᵀ)·(Q·x), a layer quantized as W' = W·Qᵀ serves rotated activations,
 * and Ŵ = Ŵ'·Q brings it back to the original basis. The Hessian of the
 * rotated inputs is H' = Q·H·Qᵀ. The seed is derived from the tensor's name
 * (stored in the record's descriptor; no payload bits).
 */

/** Largest Hadamard block used (the cost of one butterfly pass per row grows with it, the incoherence too). */
export const MAX_BLOCK = 4096;

export interface Rotation {
  kind: "hadamard";
  seed: number;
  block: number;
}

/** The rotation used for a tensor: seed from its name (FNV-1a 32), block from its width. */
export function rotationFor(name: string, cols: number): Rotation {
  let h = 0x811c9dc5;
  for (const ch of new TextEncoder().encode(name)) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  return { kind: "hadamard", seed: h, block: hadamardBlock(cols) };
}

export function hadamardBlock(cols: number): number {
  let b = 1;
  while (b < MAX_BLOCK && cols % (2 * b) === 0) b *= 2;
  return b;
}

/** D's diagonal: ±1 per column from the seed (xorshift32, one bit a column). */
export function rotationSigns(r: Rotation, cols: number): Float64Array {
  const s = new Float64Array(cols);
  let x = r.seed || 0x9e3779b9;
  for (let i = 0; i < cols; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    s[i] = (x >>> 0) & 0x100 ? -1 : 1;
  }
  return s;
}

/** In-place normalised fast Walsh–Hadamard transform of v[o .. o+b) (b a power of two). */
function fwht(v: Float64Array, o: number, b: number): void {
  for (let h = 1; h < b; h *= 2) {
    for (let i = o; i < o + b; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const a = v[j], c = v[j + h];
        v[j] = a + c;
        v[j + h] = a - c;
      }
    }
  }
  const k = 1 / Math.sqrt(b);
  for (let i = o; i < o + b; i++) v[i] *= k;
}

/** v ← Q·v for each of `count` vectors of length cols stored row by row (Q = B·D). */
export function rotateRows(v: Float64Array, count: number, cols: number, r: Rotation): void {
  const d = rotationSigns(r, cols);
  for (let n = 0; n < count; n++) {
    const o = n * cols;
    for (let i = 0; i < cols; i++) v[o + i] *= d[i];
    for (let s = 0; s < cols; s += r.block) fwht(v, o + s, r.block);
  }
}

/** v ← Qᵀ·v for each row (Qᵀ = D·B, B symmetric). */
export function unrotateRows(v: Float64Array, count: number, cols: number, r: Rotation): void {
  const d = rotationSigns(r, cols);
  for (let n = 0; n < count; n++) {
    const o = n * cols;
    for (let s = 0; s < cols; s += r.block) fwht(v, o + s, r.block);
    for (let i = 0; i < cols; i++) v[o + i] *= d[i];
  }
}

/** W' = W·Qᵀ: each row w of W becomes (Q·wᵀ)ᵀ. */
export function rotateWeight(w: Float32Array, rows: number, cols: number, r: Rotation): Float32Array {
  const v = Float64Array.from(w);
  rotateRows(v, rows, cols, r);
  return Float32Array.from(v);
}

/** Ŵ = Ŵ'·Q: each row v becomes (Qᵀ·vᵀ)ᵀ, computed in f64 and rounded once to f32. */
export function unrotateWeight(w: Float32Array, rows: number, cols: number, r: Rotation): Float32Array {
  const v = Float64Array.from(w);
  unrotateRows(v, rows, cols, r);
  return Float32Array.from(v);
}

/** H' = Q·H·Qᵀ for a symmetric H [cols × cols] (f64). */
export function rotateHessian(h: Float64Array, cols: number, r: Rotation): Float64Array {
  const a = Float64Array.from(h);
  rotateRows(a, cols, cols, r); // rows of H·Qᵀ (H symmetric: row i of H is column i)
  const t = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) t[j * cols + i] = a[i * cols + j];
  rotateRows(t, cols, cols, r); // (Q·H·Qᵀ)ᵀ = Q·H·Qᵀ
  return t;
}
