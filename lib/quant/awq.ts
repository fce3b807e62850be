/**
 * The `awq` transform (AWQ, Lin et al. 2023): per-input-channel scales
 *   s_j = max(mean|x_j|, 1e-4)^α, normalised by √(max s · min s),
 * stored as f16 (one per input channel, counted in meta_bits). The layer is
 * quantized as W' = W·diag(s) — salient input channels get finer steps —
 * and Ŵ = Ŵ'·diag(1/s) brings it back to the original basis; the inputs seen
 * by W' are diag(1/s)·x, so its Hessian is diag(1/s)·H·diag(1/s). α is
 * searched over AWQ_ALPHAS with the base method's own rounding, minimising the
 * calibration output error tr(E·H·Eᵀ), E = W − Ŵ, as AWQ's grid search does.
 */
import { f16BitsToF32, f32ToF16Bits } from "../tensor/dtype.ts";
import type { QuantConfig, Quantizer, WeightMatrix } from "./types.ts";

export const AWQ_ALPHAS = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];
/** Stored scales stay within f16's normal range. */
const MIN_SCALE = 2 ** -14, MAX_SCALE = 65504;

export interface ChannelScales {
  /** The α the search chose (recorded in the descriptor; not needed to decode). */
  alpha: number;
  /** One f16 per input channel, little endian. */
  bytes: Uint8Array;
}

/** The scales as a decoder sees them (f16 → f64). */
export function decodeChannelScales(cs: ChannelScales, cols: number): Float64Array {
  const dv = new DataView(cs.bytes.buffer, cs.bytes.byteOffset, cs.bytes.byteLength);
  const s = new Float64Array(cols);
  for (let j = 0; j < cols; j++) s[j] = f16BitsToF32(dv.getUint16(2 * j, true));
  return s;
}

/** s_j = mean|x_j|^α normalised, rounded to f16 as stored. */
export function channelScalesFor(meanAbs: Float64Array, alpha: number): ChannelScales {
  const cols = meanAbs.length;
  const raw = Array.from(meanAbs, (m) => Math.max(m, 1e-4) ** alpha);
  const norm = Math.sqrt(Math.max(...raw) * Math.min(...raw));
  const bytes = new Uint8Array(2 * cols);
  const dv = new DataView(bytes.buffer);
  for (let j = 0; j < cols; j++) {
    dv.setUint16(2 * j, f32ToF16Bits(Math.min(MAX_SCALE, Math.max(MIN_SCALE, raw[j] / norm))), true);
  }
  return { alpha, bytes };
}

/** W·diag(s). */
export function scaleColumns(w: Float32Array, rows: number, cols: number, s: Float64Array): Float32Array {
  const out = new Float32Array(w.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = w[i * cols + j] * s[j];
  return out;
}

/** Ŵ'·diag(1/s), in place (each value divided in f64, rounded once to f32). */
export function unscaleColumns(w: Float32Array, rows: number, cols: number, s: Float64Array): void {
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) w[i * cols + j] = w[i * cols + j] / s[j];
}

/** diag(1/s)·H·diag(1/s): the Hessian of the inputs W' sees. */
export function scaleHessian(h: Float64Array, cols: number, s: Float64Array): Float64Array {
  const out = new Float64Array(cols * cols);
  for (let a = 0; a < cols; a++) for (let b = 0; b < cols; b++) out[a * cols + b] = h[a * cols + b] / (s[a] * s[b]);
  return out;
}

/** tr(E·H·Eᵀ) for E = W − Ŵ [rows × cols]. */
export function outputErrorTrace(
  w: Float32Array,
  wq: Float32Array,
  rows: number,
  cols: number,
  h: Float64Array,
): number {
  const e = new Float64Array(cols);
  let total = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) e[j] = w[i * cols + j] - wq[i * cols + j];
    for (let a = 0; a < cols; a++) {
      if (e[a] === 0) continue;
      let s = 0;
      const ho = a * cols;
      for (let b = 0; b < cols; b++) s += h[ho + b] * e[b];
      total += e[a] * s;
    }
  }
  return total;
}

/** AWQ's grid search: the α whose scaled, base-rounded Ŵ has the smallest output error on the calibration inputs. */
export function searchChannelScales(
  w: WeightMatrix,
  c: QuantConfig,
  base: Quantizer,
  h: Float64Array,
  meanAbs: Float64Array,
): ChannelScales {
  let best: { err: number; cs: ChannelScales } | null = null;
  for (const alpha of AWQ_ALPHAS) {
    const cs = channelScalesFor(meanAbs, alpha);
    const s = decodeChannelScales(cs, w.cols);
    const wq = base.quantize({ ...w, data: scaleColumns(w.data, w.rows, w.cols, s) }, c).dequantize();
    unscaleColumns(wq, w.rows, w.cols, s);
    const err = outputErrorTrace(w.data, wq, w.rows, w.cols, h);
    if (!best || err < best.err) best = { err, cs };
  }
  return best!.cs;
}
