/** Weight-space error metrics, accumulated in f64. */

export interface ErrorMetrics {
  /** ‖W − Ŵ‖F / ‖W‖F (0 when both are 0). */
  relError: number;
  /** 10·log10(‖W‖² / ‖W − Ŵ‖²) in dB (Infinity for an exact reconstruction). */
  sqnrDb: number;
  /** ⟨W, Ŵ⟩ / (‖W‖·‖Ŵ‖); 1 when both are 0, 0 when exactly one is. */
  cosine: number;
  /** Fraction of Ŵ that is exactly zero. */
  zeroFraction: number;
}

export function errorMetrics(w: Float32Array, wq: Float32Array): ErrorMetrics {
  let ww = 0, ee = 0, qq = 0, wq_ = 0, zeros = 0;
  for (let i = 0; i < w.length; i++) {
    const a = w[i], b = wq[i], e = a - b;
    ww += a * a;
    ee += e * e;
    qq += b * b;
    wq_ += a * b;
    if (b === 0) zeros++;
  }
  const relError = ww > 0 ? Math.sqrt(ee / ww) : ee > 0 ? Infinity : 0;
  const sqnrDb = ee > 0 ? 10 * Math.log10(ww / ee) : Infinity;
  const cosine = ww > 0 && qq > 0 ? wq_ / Math.sqrt(ww * qq) : ww === 0 && qq === 0 ? 1 : 0;
  return { relError, sqnrDb, cosine, zeroFraction: w.length ? zeros / w.length : 0 };
}
