/**
 * HQQ, half-quadratic quantization (Badri & Shaji 2023; the public HQQ
 * library's optimize_weights_proximal). Per group, with L = 2^b levels:
 *   s = (L − 1) / (max − min) fixed from min-max, z₀ = −min·s
 *   repeat ≤ 20 times, β₀ = 10, κ = 1.01:
 *     W_q = clamp(round(W·s + z), 0, L − 1);  W_r = (W_q − z) / s
 *     W_e = shrink_lp(W − W_r, β),  shrink_lp(x) = sign(x)·relu(|x| − |x|^(p−1)/β), p = 0.7
 *     z   = mean_group(W_q − (W − W_e)·s);  β ← κ·β
 *     stop when the tensor's mean |W − W_r| stops falling (by more than 1e-9 relative)
 * Each group keeps the zero-point of its own lowest mean |W − W_r|. "Lower" and
 * "falling" mean by more than 1e-9 relative: smaller changes are summation noise. Stored:
 * scale 1/s and zero z in the scale dtype; Ŵ = (q − z)·scale.
 */
import { assertFinite, groupLayout } from "./groups.ts";
import { makeQuantized } from "./dequant.ts";
import { storeMeta } from "./meta.ts";
import { validateBitsAndGrouping } from "./validate.ts";
import type { QuantConfig, Quantized, Quantizer, WeightMatrix } from "./types.ts";

const ID = "hqq";

export const HQQ_PARAMS = { lpNorm: 0.7, beta: 10, kappa: 1.01, iters: 20 };

export const hqq: Quantizer = {
  id: ID,
  axes: ["bits"],
  validate(c: QuantConfig): void {
    validateBitsAndGrouping(ID, c);
  },
  quantize(w: WeightMatrix, c: QuantConfig): Quantized {
    assertFinite(w);
    const L = 2 ** c.bits!, top = L - 1;
    const layout = groupLayout(w.rows, w.cols, c.groupSize);
    const { starts, ends, count } = layout;
    const d = w.data;
    const s = new Float64Array(count), z = new Float64Array(count);
    for (let g = 0; g < count; g++) {
      let mn = Infinity, mx = -Infinity;
      for (let i = starts[g]; i < ends[g]; i++) {
        mn = Math.min(mn, d[i]);
        mx = Math.max(mx, d[i]);
      }
      const inv = top / (mx - mn);
      s[g] = Number.isFinite(inv) && inv > 0 ? inv : 1; // constant group: any scale reproduces it
      z[g] = -mn * s[g];
    }
    const bestZ = Float64Array.from(z);
    const bestErr = new Float64Array(count).fill(Infinity);
    const { lpNorm: p, kappa, iters } = HQQ_PARAMS;
    let beta = HQQ_PARAMS.beta, best = Infinity;
    for (let it = 0; it < iters; it++) {
      let total = 0;
      for (let g = 0; g < count; g++) {
        const sg = s[g], zg = z[g];
        let err = 0, acc = 0;
        for (let i = starts[g]; i < ends[g]; i++) {
          const x = d[i];
          let q = Math.round(x * sg + zg);
          q = q < 0 ? 0 : q > top ? top : q;
          const r = (q - zg) / sg;
          const e = x - r, ae = Math.abs(e);
          const shrunk = Math.max(0, ae - Math.pow(ae + 1e-8, p - 1) / beta);
          const we = e < 0 ? -shrunk : shrunk;
          acc += q - (x - we) * sg;
          err += ae;
        }
        const n = ends[g] - starts[g];
        if (err / n < bestErr[g] * (1 - 1e-9)) {
          bestErr[g] = err / n;
          bestZ[g] = zg;
        }
        z[g] = acc / n;
        total += err;
      }
      beta *= kappa;
      const mean = total / d.length;
      if (mean < best * (1 - 1e-9)) best = mean;
      else break;
    }
    const rawScale = new Float32Array(count), rawZero = new Float32Array(count);
    for (let g = 0; g < count; g++) {
      rawScale[g] = 1 / s[g];
      rawZero[g] = bestZ[g];
    }
    const scales = storeMeta(rawScale, c.scaleDtype, w.name);
    const zeros = storeMeta(rawZero, c.scaleDtype, w.name);
    const S = scales.stored, Z = zeros.stored;
    const symbols = new Uint8Array(d.length);
    for (let g = 0; g < count; g++) {
      const inv = S[g] > 0 ? 1 / S[g] : 0, zg = Z[g];
      for (let i = starts[g]; i < ends[g]; i++) {
        const q = Math.round(d[i] * inv + zg);
        symbols[i] = q < 0 ? 0 : q > top ? top : q;
      }
    }
    const meta = {
      scales: scales.stored,
      zeros: zeros.stored,
      metaBits: scales.bits + zeros.bits,
      scaleBytes: scales.bytes,
      zeroBytes: zeros.bytes,
    };
    return makeQuantized(symbols, L, meta, { kind: "zero_point" }, layout);
  },
};
