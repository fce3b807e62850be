import { strict as assert } from "node:assert";
import fc from "../../tests/fixtures/fc.ts";
import { groupSize, weightMatrix } from "../../tests/fixtures/arbitraries.ts";
import { seededGaussian } from "../random.ts";
import { entropyPerSymbol, histogram } from "../metrics/entropy.ts";
import { roundToF16 } from "../tensor/dtype.ts";
import { groupLayout } from "./groups.ts";
import { HQQ_PARAMS } from "./hqq.ts";
import { getQuantizer } from "./mod.ts";
import type { GroupSize, QuantConfig, WeightMatrix } from "./types.ts";

/** Plain list of each group's flat indices. */
function groupsOf(w: WeightMatrix, gs: GroupSize): number[][] {
  const { starts, ends, count } = groupLayout(w.rows, w.cols, gs);
  return Array.from({ length: count }, (_, g) => Array.from({ length: ends[g] - starts[g] }, (_, j) => starts[g] + j));
}

function nearestOk(x: number, got: number, grid: number[], what: string) {
  const best = Math.min(...grid.map((v) => Math.abs(x - v)));
  assert.ok(
    Math.abs(x - got) <= best * (1 + 1e-5) + Math.abs(x) * 2 ** -22 + 1e-38,
    `${what}: w=${x} ŵ=${got}, nearest grid error ${best}`,
  );
  assert.ok(grid.some((v) => Math.fround(v) === got), `${what}: ŵ=${got} not on grid`);
}

const quant = (w: WeightMatrix, c: Partial<QuantConfig> & { method: QuantConfig["method"] }) =>
  getQuantizer(c.method).quantize(w, { groupSize: 64, scaleDtype: "f16", ...c } as QuantConfig);

Deno.test("rtn_sym: absmax grid k·s, |k| ≤ 2^(b−1)−1 (b=1: ±absmax), nearest point", () => {
  fc.assert(
    fc.property(weightMatrix, groupSize, fc.integer({ min: 1, max: 8 }), (w, gs, bits) => {
      const q = quant(w, { method: "rtn_sym", bits, groupSize: gs });
      const wq = q.dequantize();
      const qmax = bits === 1 ? 1 : 2 ** (bits - 1) - 1;
      assert.equal(q.levels, bits === 1 ? 2 : 2 * qmax + 1);
      assert.ok(Math.ceil(Math.log2(q.levels)) <= bits);
      groupsOf(w, gs).forEach((idx, g) => {
        const s = roundToF16(Math.fround(Math.max(...idx.map((i) => Math.abs(w.data[i]))) / qmax));
        assert.ok(q.meta.scales[g] === s);
        const grid = bits === 1 ? [-s, s] : Array.from({ length: 2 * qmax + 1 }, (_, k) => (k - qmax) * s);
        for (const i of idx) nearestOk(w.data[i], wq[i], s > 0 ? grid : [0], "rtn_sym");
      });
    }),
    { numRuns: 200 },
  );
});

Deno.test("sign: Ŵ = mean|W|·sign(W) per group, sign(0) = +1", () => {
  fc.assert(
    fc.property(weightMatrix, groupSize, (w, gs) => {
      const q = quant(w, { method: "sign", groupSize: gs });
      const wq = q.dequantize();
      assert.equal(q.levels, 2);
      groupsOf(w, gs).forEach((idx) => {
        const s = roundToF16(idx.reduce((a, i) => a + Math.abs(w.data[i]), 0) / idx.length);
        for (const i of idx) {
          const want = w.data[i] >= 0 ? s : -s;
          assert.ok(Math.abs(wq[i] - want) <= Math.abs(s) * 1e-3 + 1e-38, `w=${w.data[i]} ŵ=${wq[i]} want ${want}`);
        }
      });
    }),
    { numRuns: 200 },
  );
});

Deno.test("sparse_klevel: exactly ⌊p·n⌉ smallest-|w| zeros, others on their nearest non-zero level; m=1 scale = mean|w|", () => {
  fc.assert(
    fc.property(weightMatrix, groupSize, fc.constantFrom(3, 5, 7), fc.constantFrom(0, 0.3, 0.5, 0.9), (w, gs, k, p) => {
      const q = quant(w, { method: "sparse_klevel", levels: k, sparsity: p, groupSize: gs });
      const m = (k - 1) / 2;
      const n = w.data.length;
      const zeroIdx = [...q.symbols.keys()].filter((i) => q.symbols[i] === m);
      assert.equal(zeroIdx.length, Math.round(p * n), "zero count");
      const isZero = new Set(zeroIdx);
      const maxZero = Math.max(0, ...zeroIdx.map((i) => Math.abs(w.data[i])));
      for (let i = 0; i < n; i++) {
        if (!isZero.has(i)) assert.ok(Math.abs(w.data[i]) >= maxZero, "zeros must be the smallest magnitudes");
      }
      const wq = q.dequantize();
      groupsOf(w, gs).forEach((idx, g) => {
        const s = q.meta.scales[g];
        const nz = idx.filter((i) => !isZero.has(i));
        if (m === 1 && nz.length) {
          const mean = nz.reduce((a, i) => a + Math.abs(w.data[i]), 0) / nz.length;
          assert.ok(
            s === roundToF16(Math.fround(mean)) || Math.abs(s - mean) <= mean * 1e-3,
            `scale ${s} vs mean|w| ${mean}`,
          );
        }
        const grid = Array.from({ length: m }, (_, j) => (j + 1) * s).flatMap((v) => [v, -v]);
        for (const i of nz) if (s > 0) nearestOk(w.data[i], wq[i], grid, "sparse_klevel");
      });
    }),
    { numRuns: 200 },
  );
});

Deno.test("sparse_klevel on Gaussian weights: ternary at 90% zeros ≈ 5/90/5, H ≈ 0.569; 5 levels at 80% zeros", () => {
  const w = { name: "g", rows: 256, cols: 1024, data: seededGaussian(256 * 1024, 3, 0.02) };
  const t = quant(w, { method: "sparse_klevel", levels: 3, sparsity: 0.9, groupSize: 64 });
  const h = histogram(t.symbols, 3);
  const frac = Array.from(h, (c) => c / w.data.length);
  assert.ok(Math.abs(frac[1] - 0.9) < 0.005, `zeros ${frac[1]}`);
  assert.ok(Math.abs(frac[0] - 0.05) < 0.005 && Math.abs(frac[2] - 0.05) < 0.005, `split ${frac}`);
  assert.ok(Math.abs(entropyPerSymbol(h) - 0.569) < 0.03, `entropy ${entropyPerSymbol(h)}`);
  const f = quant(w, { method: "sparse_klevel", levels: 5, sparsity: 0.8, groupSize: 64 });
  const h5 = Array.from(histogram(f.symbols, 5), (c) => c / w.data.length);
  assert.ok(Math.abs(h5[2] - 0.8) < 0.005);
  assert.ok(h5[0] > 0 && h5[4] > 0 && h5[0] < h5[1], `5-level split ${h5}`);
});

/** HQQ written straight from the formulas on plain arrays (the stop test is global, over the whole tensor). */
function hqqReference(w: WeightMatrix, gs: GroupSize, bits: number): { scale: number[]; zero: number[] } {
  const groups = groupsOf(w, gs).map((idx) => idx.map((i) => w.data[i]));
  const top = 2 ** bits - 1;
  const s = groups.map((g) => {
    const r = top / (Math.max(...g) - Math.min(...g));
    return Number.isFinite(r) && r > 0 ? r : 1;
  });
  let z = groups.map((g, j) => -Math.min(...g) * s[j]);
  const bestZ = [...z];
  const bestErr = groups.map(() => Infinity);
  const { lpNorm: p, kappa, iters } = HQQ_PARAMS;
  let beta = HQQ_PARAMS.beta, best = Infinity;
  const shrink = (x: number) => Math.sign(x) * Math.max(0, Math.abs(x) - Math.pow(Math.abs(x) + 1e-8, p - 1) / beta);
  for (let it = 0; it < iters; it++) {
    const Wq = groups.map((g, j) => g.map((x) => Math.min(top, Math.max(0, Math.round(x * s[j] + z[j])))));
    const Wr = Wq.map((q, j) => q.map((v) => (v - z[j]) / s[j]));
    const errs = groups.map((g, j) => g.map((x, i) => Math.abs(x - Wr[j][i])));
    errs.forEach((e, j) => {
      const mean = e.reduce((a, b) => a + b, 0) / e.length;
      if (mean < bestErr[j] * (1 - 1e-9)) [bestErr[j], bestZ[j]] = [mean, z[j]];
    });
    z = groups.map((g, j) => g.reduce((a, x, i) => a + Wq[j][i] - (x - shrink(x - Wr[j][i])) * s[j], 0) / g.length);
    beta *= kappa;
    // summed group by group, as "mean over the tensor" is computed in the implementation
    const total = errs.map((e) => e.reduce((a, b) => a + b, 0)).reduce((a, b) => a + b, 0) / w.data.length;
    if (total < best * (1 - 1e-9)) best = total;
    else break;
  }
  return { scale: s.map((v) => 1 / v), zero: bestZ };
}

Deno.test("hqq: matches the formula-by-formula reference; Ŵ = (q − z)·scale with q nearest", () => {
  fc.assert(
    fc.property(weightMatrix, groupSize, fc.integer({ min: 1, max: 8 }), (w, gs, bits) => {
      const q = quant(w, { method: "hqq", bits, groupSize: gs, scaleDtype: "bf16" });
      const ref = hqqReference(w, gs, bits);
      const wq = q.dequantize();
      groupsOf(w, gs).forEach((idx, g) => {
        const S = q.meta.scales[g], Z = q.meta.zeros![g];
        assert.ok(Math.abs(S - ref.scale[g]) <= Math.abs(ref.scale[g]) * 8e-3 + 1e-38, `scale ${S} vs ${ref.scale[g]}`);
        assert.ok(Math.abs(Z - ref.zero[g]) <= Math.abs(ref.zero[g]) * 8e-3 + 1e-6, `zero ${Z} vs ${ref.zero[g]}`);
        const grid = Array.from({ length: 2 ** bits }, (_, k) => (k - Z) * S);
        for (const i of idx) nearestOk(w.data[i], wq[i], grid, "hqq");
      });
    }),
    { numRuns: 150 },
  );
});

Deno.test("hqq: lower mean |W − Ŵ| than min-max RTN on heavy-tailed weights at 2 and 3 bits", () => {
  const n = 128 * 512;
  const g = seededGaussian(n, 11, 0.02);
  const data = g.map((x, i) => (i % 97 === 0 ? x * 8 : x)); // outliers, as in real layers
  const w = { name: "t", rows: 128, cols: 512, data };
  for (const bits of [2, 3]) {
    const mae = (m: "hqq" | "rtn_asym") => {
      const wq = quant(w, { method: m, bits, groupSize: 64 }).dequantize();
      return wq.reduce((a, v, i) => a + Math.abs(v - data[i]), 0) / n;
    };
    assert.ok(mae("hqq") < mae("rtn_asym"), `bits ${bits}: hqq ${mae("hqq")} vs rtn ${mae("rtn_asym")}`);
  }
});
