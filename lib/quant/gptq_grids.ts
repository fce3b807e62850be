/**
 * Each base method's grid as GPTQ uses it: fitted per group when the column
 * sweep reaches the group (from the group's current, error-updated weights),
 * then one weight at a time assigned a symbol. The rules are the base
 * quantizers' own (lib/quant/<method>.ts) — same rounding, parameters rounded
 * to the stored dtype before assignment — so with H = I GPTQ reproduces the
 * base method exactly (tested). HQQ fits its zero-point per group with the
 * same proximal loop, stopping when that group's error stops falling.
 */
import { InputError } from "../errors.ts";
import type { Reconstruction } from "./dequant.ts";
import { roundHalfAway } from "./groups.ts";
import { HQQ_PARAMS } from "./hqq.ts";
import { storeMeta } from "./meta.ts";
import { fitScale } from "./sparse_klevel.ts";
import { ABSMEAN_EPS } from "./ternary_absmean.ts";
import type { QuantConfig } from "./types.ts";

export interface GroupParams {
  scale: number;
  zero?: number;
}

export interface GroupGrid {
  levels: number;
  reconstruction: Reconstruction;
  hasZeros: boolean;
  /** Stored parameters of a group from its current values v[0..n); `forced[i]` = 1 where the sparse mask zeroes. */
  fit(v: Float64Array, n: number, forced: Uint8Array | null): GroupParams;
  /** The symbol of x under p (forced: a masked weight). */
  assign(x: number, p: GroupParams, forced: boolean): number;
  /** ŵ of a symbol under p. */
  value(sym: number, p: GroupParams): number;
}

/** Scale dtypes whose stored form is per value (fp8_e4m3 and q8g128 depend on all of a tensor's scales). */
export const GPTQ_SCALE_DTYPES = ["f16", "bf16"];

export function groupGrid(c: QuantConfig, name: string): GroupGrid {
  if (!GPTQ_SCALE_DTYPES.includes(c.scaleDtype)) {
    throw new InputError(`${name}: +gptq stores scales as f16 or bf16, not ${c.scaleDtype}`);
  }
  const store = (v: number) => storeMeta(Float32Array.of(v), c.scaleDtype, name).stored[0];
  const absMean = (v: Float64Array, n: number) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.abs(v[i]);
    return store(Math.fround(s / n));
  };
  const signGrid: GroupGrid = {
    levels: 2,
    reconstruction: { kind: "scaled", center: 0.5, unit: 2 },
    hasZeros: false,
    fit: (v, n) => ({ scale: absMean(v, n) }),
    assign: (x) => (x >= 0 ? 1 : 0),
    value: (sym, p) => p.scale * 2 * (sym - 0.5),
  };
  switch (c.method) {
    case "sign":
      return signGrid;
    case "ternary_absmean":
      return {
        levels: 3,
        reconstruction: { kind: "scaled", center: 1, unit: 1 },
        hasZeros: false,
        fit: (v, n) => ({ scale: absMean(v, n) }),
        assign: (x, p) => {
          const q = roundHalfAway(x * (1 / (p.scale + ABSMEAN_EPS)));
          return (q < -1 ? -1 : q > 1 ? 1 : q) + 1;
        },
        value: (sym, p) => p.scale * (sym - 1),
      };
    case "rtn_sym": {
      const amax = (v: Float64Array, n: number) => {
        let a = 0;
        for (let i = 0; i < n; i++) a = Math.max(a, Math.abs(v[i]));
        return Math.fround(a);
      };
      if (c.bits === 1) return { ...signGrid, fit: (v, n) => ({ scale: store(amax(v, n)) }) };
      const qmax = 2 ** (c.bits! - 1) - 1;
      return {
        levels: 2 * qmax + 1,
        reconstruction: { kind: "scaled", center: qmax, unit: 1 },
        hasZeros: false,
        fit: (v, n) => ({ scale: store(Math.fround(amax(v, n) / qmax)) }),
        assign: (x, p) => {
          if (!(p.scale > 0)) return qmax;
          const q = roundHalfAway(x * (1 / p.scale));
          return (q < -qmax ? -qmax : q > qmax ? qmax : q) + qmax;
        },
        value: (sym, p) => p.scale * (sym - qmax),
      };
    }
    case "rtn_asym": {
      const L = 2 ** c.bits!;
      return {
        levels: L,
        reconstruction: { kind: "min_plus" },
        hasZeros: true,
        fit: (v, n) => {
          let mn = Infinity, mx = -Infinity;
          for (let i = 0; i < n; i++) {
            const x = Math.fround(v[i]);
            if (x < mn) mn = x;
            if (x > mx) mx = x;
          }
          return { scale: store(Math.fround((mx - mn) / (L - 1))), zero: store(mn) };
        },
        assign: (x, p) => {
          if (!(p.scale > 0)) return 0;
          const q = Math.round((x - p.zero!) * (1 / p.scale));
          return q < 0 ? 0 : q >= L ? L - 1 : q;
        },
        value: (sym, p) => p.zero! + sym * (p.scale > 0 ? p.scale : 0),
      };
    }
    case "hqq": {
      const top = 2 ** c.bits! - 1;
      return {
        levels: top + 1,
        reconstruction: { kind: "zero_point" },
        hasZeros: true,
        fit: (v, n) => hqqGroup(v, n, top, store),
        assign: (x, p) => {
          const q = Math.round(x * (p.scale > 0 ? 1 / p.scale : 0) + p.zero!);
          return q < 0 ? 0 : q > top ? top : q;
        },
        value: (sym, p) => (sym - p.zero!) * p.scale,
      };
    }
    case "sparse_klevel": {
      const m = (c.levels! - 1) / 2;
      let absNz = new Float64Array(0), scratch = new Int32Array(0);
      return {
        levels: c.levels!,
        reconstruction: { kind: "scaled", center: m, unit: 1 },
        hasZeros: false,
        fit: (v, n, forced) => {
          if (absNz.length < n) [absNz, scratch] = [new Float64Array(n), new Int32Array(n)];
          let k = 0;
          for (let i = 0; i < n; i++) if (!forced?.[i]) absNz[k++] = Math.abs(Math.fround(v[i]));
          return { scale: store(Math.fround(fitScale(absNz, k, m, scratch))) };
        },
        assign: (x, p, forced) => {
          if (forced) return m;
          const r = p.scale > 0 ? roundHalfAway(Math.abs(x) / p.scale) : 1;
          const q = r < 1 ? 1 : r > m ? m : r;
          return m + (x < 0 ? -q : q);
        },
        value: (sym, p) => p.scale * (sym - m),
      };
    }
  }
}

/** HQQ's proximal zero-point search (lib/quant/hqq.ts) on one group; stored scale 1/s and zero. */
function hqqGroup(v: Float64Array, n: number, top: number, store: (x: number) => number): GroupParams {
  let mn = Infinity, mx = -Infinity;
  for (let i = 0; i < n; i++) {
    mn = Math.min(mn, Math.fround(v[i]));
    mx = Math.max(mx, Math.fround(v[i]));
  }
  const inv = top / (mx - mn);
  const s = Number.isFinite(inv) && inv > 0 ? inv : 1;
  let z = -mn * s, bestZ = z, bestErr = Infinity, beta = HQQ_PARAMS.beta;
  const p = HQQ_PARAMS.lpNorm;
  for (let it = 0; it < HQQ_PARAMS.iters; it++) {
    let err = 0, acc = 0;
    for (let i = 0; i < n; i++) {
      const x = Math.fround(v[i]);
      let q = Math.round(x * s + z);
      q = q < 0 ? 0 : q > top ? top : q;
      const e = x - (q - z) / s, ae = Math.abs(e);
      const shrunk = Math.max(0, ae - Math.pow(ae + 1e-8, p - 1) / beta);
      acc += q - (x - (e < 0 ? -shrunk : shrunk)) * s;
      err += ae;
    }
    if (err / n < bestErr * (1 - 1e-9)) [bestErr, bestZ] = [err / n, z];
    else break;
    z = acc / n;
    beta *= HQQ_PARAMS.kappa;
  }
  return { scale: store(Math.fround(1 / s)), zero: store(Math.fround(bestZ)) };
}
