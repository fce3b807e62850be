/** Symbol statistics: level histogram and order-0 entropy. */

/** Count of each level 0..levels-1. */
export function histogram(symbols: Uint8Array, levels: number): Float64Array {
  const h = new Float64Array(levels);
  for (let i = 0; i < symbols.length; i++) h[symbols[i]]++;
  return h;
}

/** Order-0 entropy in bits per symbol: H = −Σ p_k log2 p_k. */
export function entropyPerSymbol(hist: ArrayLike<number>): number {
  let n = 0;
  for (let k = 0; k < hist.length; k++) n += hist[k];
  if (n === 0) return 0;
  let h = 0;
  for (let k = 0; k < hist.length; k++) {
    if (hist[k] > 0) {
      const p = hist[k] / n;
      h -= p * Math.log2(p);
    }
  }
  return h;
}

/** Fixed-width storage: ceil(log2(levels)) bits per symbol (0 for one level). */
export function packedBitsPerSymbol(levels: number): number {
  return levels <= 1 ? 0 : Math.ceil(Math.log2(levels));
}
