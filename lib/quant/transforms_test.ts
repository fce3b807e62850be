import { strict as assert } from "node:assert";
import fc from "../../tests/fixtures/fc.ts";
import { encodeQuantized, parseRecordBody, serializeRecord } from "../pack/record.ts";
import { restoreTensor } from "../pack/pack.ts";
import { seededGaussian } from "../random.ts";
import { configId, parseConfigId } from "./config_id.ts";
import { jacobiEigen, topEigenvectors } from "./eigen.ts";
import { hadamardBlock, rotateHessian, rotateRows, rotateWeight, rotationFor, unrotateWeight } from "./hadamard.ts";
import { dampedHessian, hessianFromInputs } from "./hessian.ts";
import { fitLowRank, lowRankByteLength } from "./low_rank.ts";
import { addLowRank } from "./low_rank.ts";
import { outputErrorTrace } from "./awq.ts";
import { getQuantizer } from "./mod.ts";
import { type HessianSource, quantizeWeight } from "./transforms.ts";
import type { WeightMatrix } from "./types.ts";

/** Q as a dense [n × n] f64 matrix: Q applied to each unit vector gives Q's columns. */
function denseQ(name: string, n: number): Float64Array {
  const eye = new Float64Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  rotateRows(eye, n, n, rotationFor(name, n)); // row i = (Q·e_i)ᵀ = column i of Q
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) q[i * n + j] = eye[j * n + i];
  return q;
}

Deno.test("had: Q is orthogonal to 1e-6 for power-of-two, block (768 = 3 × 256), ragged and odd widths", () => {
  for (const n of [1, 3, 8, 12, 40, 256, 768]) {
    const q = denseQ(`t${n}`, n);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += q[i * n + k] * q[j * n + k];
        worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
      }
    }
    assert.ok(worst < 1e-6, `n=${n}: |QQᵀ − I| = ${worst}`);
  }
  assert.deepEqual([256, 768, 1024, 12, 7].map(hadamardBlock), [256, 256, 1024, 4, 1]);
});

Deno.test("had: unrotate(rotate(W)) = W, and the rotated Hessian is Q·H·Qᵀ", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 70 }), fc.integer(), (rows, cols, seed) => {
      const w = seededGaussian(rows * cols, seed);
      const r = rotationFor(`w${seed}`, cols);
      const back = unrotateWeight(rotateWeight(w, rows, cols, r), rows, cols, r);
      for (let i = 0; i < w.length; i++) assert.ok(Math.abs(back[i] - w[i]) < 1e-5, `${i}: ${back[i]} vs ${w[i]}`);
    }),
  );
  const n = 24, x = seededGaussian(50 * n, 5), h = hessianFromInputs(x, n);
  const q = denseQ("h", n), hr = rotateHessian(h, n, rotationFor("h", n));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) s += q[i * n + a] * h[a * n + b] * q[j * n + b];
      assert.ok(Math.abs(hr[i * n + j] - s) < 1e-9 * (1 + Math.abs(s)), `H'[${i},${j}]`);
    }
  }
});

Deno.test("eigen: subspace iteration finds Jacobi's top eigenvectors of a 120×120 PSD matrix", () => {
  const n = 120, r = 5, x = seededGaussian(300 * n, 9);
  // a spectrum with a clear gap after r: scale five input directions up
  for (let t = 0; t < 300; t++) for (let j = 0; j < r; j++) x[t * n + j] *= 4;
  const a = hessianFromInputs(x, n);
  const top = topEigenvectors(a, n, r, 3);
  const ref = jacobiEigen(a, n);
  for (let j = 0; j < r; j++) {
    let d = 0;
    for (let i = 0; i < n; i++) d += top[i * r + j] * ref.vectors[i * n + j];
    assert.ok(Math.abs(Math.abs(d) - 1) < 1e-6, `vector ${j}: |cos| = ${Math.abs(d)}`);
  }
});

/** tr((E − Δ)·H·(E − Δ)ᵀ) with Δ the stored correction, H = identity when null. */
function weightedResidual(
  e: Float32Array,
  delta: Float32Array,
  rows: number,
  cols: number,
  h: Float64Array | null,
): number {
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const d = new Float64Array(cols);
    for (let j = 0; j < cols; j++) d[j] = e[i * cols + j] - delta[i * cols + j];
    if (!h) { for (let j = 0; j < cols; j++) total += d[j] * d[j]; }
    else for (let a = 0; a < cols; a++) for (let b = 0; b < cols; b++) total += d[a] * h[a * cols + b] * d[b];
  }
  return total;
}

Deno.test("lr: the fitted correction reaches the optimum Σ of the discarded eigenvalues of E·H·Eᵀ (Eckart–Young)", () => {
  for (
    const [rows, cols, rank, withH] of [[12, 20, 3, false], [20, 12, 4, true], [30, 16, 1, true], [
      9,
      9,
      9,
      false,
    ]] as const
  ) {
    const w = seededGaussian(rows * cols, rows + cols), wq = new Float32Array(rows * cols); // E = W
    const h = withH ? hessianFromInputs(seededGaussian(64 * cols, 7), cols) : null;
    const lr = fitLowRank(w, wq, rows, cols, h, rank, "f16", "t");
    assert.equal(lr.bytes.length, lowRankByteLength(rows, cols, rank, "f16"));
    const delta = new Float32Array(rows * cols);
    addLowRank(delta, lr, rows, cols, "t");
    const hd = h ? dampedHessian(h, cols) : null;
    const got = weightedResidual(w, delta, rows, cols, hd);
    // brute force: K = E·H·Eᵀ, the optimum leaves its rows − rank smallest eigenvalues
    const k = new Float64Array(rows * rows);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < rows; j++) {
        let s = 0;
        for (let a = 0; a < cols; a++) {
          for (let b = 0; b < cols; b++) {
            s += w[i * cols + a] * (hd ? hd[a * cols + b] : a === b ? 1 : 0) * w[j * cols + b];
          }
        }
        k[i * rows + j] = s;
      }
    }
    const ev = jacobiEigen(k, rows).values;
    let optimum = 0, total = 0;
    ev.forEach((v, i) => {
      total += v;
      if (i >= rank) optimum += Math.max(0, v);
    });
    // f16 factors cost ~1e-3 relative of the correction; the optimum can be 0 (full rank)
    assert.ok(got <= optimum + 2e-5 * total, `${rows}×${cols} r${rank}: ${got} vs optimum ${optimum} (of ${total})`);
  }
});

const matrix = (rows: number, cols: number, seed: number): WeightMatrix => ({
  name: `layer${seed}`,
  rows,
  cols,
  data: seededGaussian(rows * cols, seed, 0.05),
});

/** Correlated calibration inputs, channel j scaled by (1 + j % 5)² so a few channels dominate (AWQ's premise). */
function calib(cols: number, seed: number): HessianSource {
  const x = seededGaussian(200 * cols, seed);
  for (let t = 0; t < 200; t++) for (let j = 1; j < cols; j++) x[t * cols + j] += 0.8 * x[t * cols + j - 1];
  for (let i = 0; i < x.length; i++) x[i] *= (1 + (i % cols) % 5) ** 2;
  const h = hessianFromInputs(x, cols);
  const meanAbs = new Float64Array(cols);
  for (let i = 0; i < x.length; i++) meanAbs[i % cols] += Math.abs(x[i]) / 200;
  return { hessian: () => h, meanAbs: () => meanAbs };
}

Deno.test("config ids: awq, had, lr<r>, lr<r>i8 parse in order and round-trip; bad ranks are refused", () => {
  for (
    const id of [
      "hqq.b2.g64.f16+had",
      "ternary_absmean.g64.f16+had+gptq",
      "hqq.b2.g64.f16+gptq+lr8",
      "sparse_klevel.l3.s0.9.g64.f16+had+gptq+lr4i8",
      "rtn_asym.b3.g32.fp8_e4m3+had+lr2",
      "hqq.b3.g64.f16+awq",
      "rtn_asym.b2.g64.f16+awq+had+gptq+lr4",
    ]
  ) {
    assert.equal(configId(parseConfigId(id)), id);
  }
  assert.deepEqual(parseConfigId("hqq.b2.g64.f16+had+gptq+lr16").transforms, ["had", "gptq", "lr16"]);
  for (const bad of ["+lr0", "+lr", "+lr08", "+lr5000", "+lr8i4"]) {
    assert.throws(() => parseConfigId(`hqq.b2.g64.f16${bad}`), /rank must be|unknown transform/, bad);
  }
  assert.throws(() => parseConfigId("hqq.b2.g64.f16+had+awq"), /in the order/);
  assert.throws(() => parseConfigId("hqq.b2.g64.f16+gptq+had"), /in the order/);
  assert.throws(() => parseConfigId("hqq.b2.g64.f16+lr4+lr8"), /in the order/);
});

Deno.test("+had alone needs no calibration; Ŵ comes back in the original basis", () => {
  const w = matrix(16, 64, 3);
  const c = parseConfigId("rtn_sym.b4.g64.f16+had");
  const q = quantizeWeight(w, c, null);
  assert.ok(q.post?.rotation);
  const base = getQuantizer("rtn_sym").quantize(w, parseConfigId("rtn_sym.b4.g64.f16"));
  const rel = (a: Float32Array) =>
    Math.sqrt(a.reduce((s, v, i) => s + (v - w.data[i]) ** 2, 0) / w.data.reduce((s, v) => s + v * v, 0));
  assert.ok(
    rel(q.dequantize()) < 2 * rel(base.dequantize()),
    `had ${rel(q.dequantize())} vs plain ${rel(base.dequantize())}`,
  );
  assert.equal(q.meta.metaBits, base.meta.metaBits, "a rotation costs no metadata bits");
  assert.throws(() => quantizeWeight(w, parseConfigId("rtn_sym.b4.g64.f16+had+lr2"), null), /needs calibration inputs/);
});

Deno.test("+lr<r>: factors counted in meta_bits, output error below the base's, and rank > min(rows, cols) refused", () => {
  const w = matrix(24, 48, 4), h = calib(48, 8);
  const hm = h.hessian("", 48)!;
  const base = quantizeWeight(w, parseConfigId("hqq.b2.g16.f16+gptq"), h);
  for (const [t, bytes] of [["lr4", 2 * 4 * (24 + 48)], ["lr4i8", 4 * (24 + 48) + 2 * (24 + 4)]] as const) {
    const q = quantizeWeight(w, parseConfigId(`hqq.b2.g16.f16+gptq+${t}`), h);
    assert.equal(q.meta.metaBits, base.meta.metaBits + 8 * bytes, t);
    const e = (wq: Float32Array) => weightedResidual(w.data, wq, 24, 48, hm);
    assert.ok(e(q.dequantize()) < 0.9 * e(base.dequantize()), `${t}: ${e(q.dequantize())} vs ${e(base.dequantize())}`);
  }
  assert.throws(() => quantizeWeight(matrix(4, 48, 1), parseConfigId("hqq.b2.g16.f16+lr5"), h), /rank from 1 to min/);
});

Deno.test("a record of a transformed config restores exactly the Ŵ quantizeWeight returned (random shapes and chains)", () => {
  const chains = ["had", "gptq+lr2", "had+gptq", "had+gptq+lr3i8", "had+lr1", "awq", "awq+had+gptq+lr2"];
  const methods = ["ternary_absmean.g8.f16", "hqq.b2.g8.f16", "sparse_klevel.l3.s0.5.g8.f16", "rtn_asym.b3.grow.bf16"];
  fc.assert(
    fc.property(
      fc.integer({ min: 3, max: 12 }),
      fc.integer({ min: 3, max: 40 }),
      fc.constantFrom(...chains),
      fc.constantFrom(...methods),
      fc.integer({ min: 1, max: 1000 }),
      (rows, cols, chain, method, seed) => {
        const w = matrix(rows, cols, seed);
        const c = parseConfigId(`${method}+${chain}`);
        const q = quantizeWeight(w, c, calib(cols, seed));
        const rec = encodeQuantized(w.name, rows, cols, q, {
          configId: configId(c),
          groupSize: c.groupSize,
          scaleDtype: c.scaleDtype,
        }).record;
        const bytes = serializeRecord(rec).bytes;
        const dv = new DataView(bytes.buffer);
        const body = bytes.subarray(8, 8 + dv.getUint32(4, true));
        const back = restoreTensor(parseRecordBody(body, dv.getUint32(8 + body.length, true), 0, "t"), "t");
        assert.deepEqual(back.data, q.dequantize());
      },
    ),
    { numRuns: 40 },
  );
});

Deno.test("+awq: searched α never worse than the base rounding (α = 0 is s = 1), better on skewed channels; scales counted", () => {
  const cases = [["rtn_asym.b2.g16.f16", 1, true], ["hqq.b3.g16.f16", 2, true], ["ternary_absmean.g16.f16", 3, false]];
  for (const [method, seed, strict] of cases as [string, number, boolean][]) {
    const w = matrix(20, 40, seed), h = calib(40, seed + 10);
    const hm = h.hessian("", 40)!;
    const base = quantizeWeight(w, parseConfigId(method), h);
    const awq = quantizeWeight(w, parseConfigId(`${method}+awq`), h);
    assert.ok(awq.post?.channelScales, method);
    assert.equal(awq.meta.metaBits, base.meta.metaBits + 16 * 40, `${method}: one f16 per input channel`);
    const e = (wq: Float32Array) => outputErrorTrace(w.data, wq, 20, 40, hm);
    const [ea, eb] = [e(awq.dequantize()), e(base.dequantize())];
    assert.ok(strict ? ea < 0.95 * eb : ea <= eb * (1 + 1e-12), `${method}: ${ea} vs ${eb}`);
  }
  const noStats: HessianSource = { hessian: () => calib(40, 1).hessian("", 40) };
  const q = quantizeWeight(matrix(20, 40, 4), parseConfigId("rtn_asym.b2.g16.f16+awq"), noStats);
  assert.equal(q.post, undefined, "no per-channel statistics: awq stores nothing");
});
