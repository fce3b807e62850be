import { strict as assert } from "node:assert";
import fc from "../../tests/fixtures/fc.ts";
import { groupSize, weightMatrix } from "../../tests/fixtures/arbitraries.ts";
import { InputError } from "../errors.ts";
import { roundToF16 } from "../tensor/dtype.ts";
import { groupLayout } from "./groups.ts";
import { getQuantizer } from "./mod.ts";
import { ABSMEAN_EPS } from "./ternary_absmean.ts";
import { metaFromBytes } from "./meta.ts";
import type { QuantConfig, ScaleDtype, WeightMatrix } from "./types.ts";

/** Brute-force group list: walk each row in steps of g (or the whole tensor). */
function bruteGroups(w: WeightMatrix, gs: QuantConfig["groupSize"]): number[][] {
  if (gs === "tensor") return [Array.from({ length: w.rows * w.cols }, (_, i) => i)];
  const g = gs === "row" ? w.cols : gs;
  const out: number[][] = [];
  for (let r = 0; r < w.rows; r++) {
    for (let c0 = 0; c0 < w.cols; c0 += g) {
      const idx: number[] = [];
      for (let c = c0; c < Math.min(c0 + g, w.cols); c++) idx.push(r * w.cols + c);
      out.push(idx);
    }
  }
  return out;
}

/** Numeric equality treating +0 and -0 as equal. */
function same(a: number, b: number, msg?: string) {
  assert.ok(a === b, msg ?? `${a} !== ${b}`);
}

/** Each ŵ must be a nearest point of its group's grid (ties either way), within float slack. */
function assertNearest(w: number, got: number, grid: number[]) {
  const best = Math.min(...grid.map((v) => Math.abs(w - v)));
  assert.ok(
    Math.abs(w - got) <= best * (1 + 1e-5) + Math.abs(w) * 2 ** -22 + 1e-38,
    `w=${w} got ${got}, nearest grid error ${best}`,
  );
  assert.ok(grid.some((v) => Math.fround(v) === got), `ŵ=${got} is not on the grid ${grid}`);
}

Deno.test("groups: layout matches the brute-force group list", () => {
  fc.assert(fc.property(weightMatrix, groupSize, (w, gs) => {
    const { starts, ends, count } = groupLayout(w.rows, w.cols, gs);
    const brute = bruteGroups(w, gs);
    assert.equal(count, brute.length);
    brute.forEach((idx, g) => assert.deepEqual([starts[g], ends[g]], [idx[0], idx[idx.length - 1] + 1]));
  }));
});

Deno.test("rtn_asym: min-max grid in f16, every weight on its nearest grid point", () => {
  fc.assert(
    fc.property(weightMatrix, groupSize, fc.integer({ min: 1, max: 8 }), (w, gs, bits) => {
      const L = 2 ** bits;
      const q = getQuantizer("rtn_asym").quantize(w, { method: "rtn_asym", bits, groupSize: gs, scaleDtype: "f16" });
      const wq = q.dequantize();
      const groups = bruteGroups(w, gs);
      assert.equal(q.levels, L);
      assert.equal(q.meta.metaBits, groups.length * 2 * 16);
      groups.forEach((idx, g) => {
        const vals = idx.map((i) => w.data[i]);
        const mn = Math.min(...vals), mx = Math.max(...vals);
        const m = roundToF16(mn), s = roundToF16(Math.fround((mx - mn) / (L - 1)));
        same(q.meta.zeros![g], m);
        same(q.meta.scales[g], s);
        const grid = s > 0 ? Array.from({ length: L }, (_, k) => m + k * s) : [m];
        for (const i of idx) {
          assert.ok(q.symbols[i] < L);
          same(wq[i], Math.fround(m + q.symbols[i] * (s > 0 ? s : 0)));
          assertNearest(w.data[i], wq[i], grid);
        }
      });
    }),
    { numRuns: 300 },
  );
});

Deno.test("ternary_absmean: γ = mean|W| per group, W̃ = RoundClip(W/γ, -1, 1)", () => {
  fc.assert(
    fc.property(weightMatrix, groupSize, (w, gs) => {
      const q = getQuantizer("ternary_absmean").quantize(w, {
        method: "ternary_absmean",
        groupSize: gs,
        scaleDtype: "f16",
      });
      const wq = q.dequantize();
      const groups = bruteGroups(w, gs);
      assert.equal(q.levels, 3);
      assert.equal(q.meta.metaBits, groups.length * 16);
      groups.forEach((idx, g) => {
        const gamma = roundToF16(idx.reduce((s, i) => s + Math.abs(w.data[i]), 0) / idx.length);
        assert.ok(Math.abs(q.meta.scales[g] - gamma) <= Math.abs(gamma) * 1e-3, `γ ${q.meta.scales[g]} vs ${gamma}`);
        const gs_ = q.meta.scales[g];
        for (const i of idx) {
          assert.ok(q.symbols[i] <= 2);
          same(wq[i], Math.fround(gs_ * (q.symbols[i] - 1)));
          const x = w.data[i] / (gs_ + ABSMEAN_EPS); // the definition's W/(γ+ε)
          if (Math.abs(Math.abs(x) - 0.5) > 1e-6) {
            assert.equal(q.symbols[i] - 1, Math.abs(x) < 0.5 ? 0 : Math.sign(x), `w=${w.data[i]} γ=${gs_}`);
          }
        }
      });
    }),
    { numRuns: 300 },
  );
});

Deno.test("quantizers: NaN/Inf weights and unstorable scales are InputErrors naming the tensor", () => {
  for (const id of ["rtn_asym", "ternary_absmean"]) {
    const c: QuantConfig = { method: id as QuantConfig["method"], bits: 2, groupSize: 4, scaleDtype: "f16" };
    for (const bad of [NaN, Infinity, -Infinity]) {
      const w = { name: "blk.3.w", rows: 2, cols: 4, data: Float32Array.of(1, 2, 3, 4, 5, bad, 7, 8) };
      assert.throws(
        () => getQuantizer(id).quantize(w, c),
        (e: Error) => e instanceof InputError && /blk\.3\.w.*\[1, 1\]/.test(e.message),
      );
    }
    const huge = { name: "big", rows: 1, cols: 4, data: Float32Array.of(1e30, -1e30, 5, 1) };
    assert.throws(
      () => getQuantizer(id).quantize(huge, c),
      (e: Error) => e instanceof InputError && /big.*does not fit f16/.test(e.message),
    );
    // bf16 holds it
    const ok = getQuantizer(id).quantize(huge, { ...c, scaleDtype: "bf16" }).dequantize();
    assert.ok(ok.every(Number.isFinite));
  }
});

Deno.test("scale dtypes: metadata bits are exact and reconstruction stays close", () => {
  const n = 4096;
  const data = new Float32Array(n);
  let s = 1;
  for (let i = 0; i < n; i++) {
    s = (s * 16807) % 2147483647;
    data[i] = ((s / 2147483647) - 0.5) * 0.1;
  }
  const w = { name: "w", rows: 8, cols: 512, data };
  const groups = 8 * 512 / 64;
  const expectBits: Record<string, number> = {
    f16: 2 * 16 * groups,
    bf16: 2 * 16 * groups,
    fp8_e4m3: 2 * (8 * groups + 32),
    q8g128: 2 * (8 * groups + 32 * Math.ceil(groups / 128)),
  };
  for (const [dt, bits] of Object.entries(expectBits)) {
    const q = getQuantizer("rtn_asym").quantize(w, {
      method: "rtn_asym",
      bits: 4,
      groupSize: 64,
      scaleDtype: dt as QuantConfig["scaleDtype"],
    });
    assert.equal(q.meta.metaBits, bits, dt);
    assert.equal(8 * (q.meta.scaleBytes.length + (q.meta.zeroBytes?.length ?? 0)), bits, `${dt}: serialised size`);
    const back = metaFromBytes(q.meta.scaleBytes, q.meta.scales.length, dt as ScaleDtype, "w");
    assert.ok(
      back.every((v, i) => Object.is(v, q.meta.scales[i])),
      `${dt}: scales not bit-identical after serialisation`,
    );
    const backZ = metaFromBytes(q.meta.zeroBytes!, q.meta.zeros!.length, dt as ScaleDtype, "w");
    assert.ok(
      backZ.every((v, i) => Object.is(v, q.meta.zeros![i])),
      `${dt}: zeros not bit-identical after serialisation`,
    );
    const wq = q.dequantize();
    let e = 0, ww = 0;
    for (let i = 0; i < n; i++) {
      e += (wq[i] - data[i]) ** 2;
      ww += data[i] ** 2;
    }
    assert.ok(Math.sqrt(e / ww) < 0.15, `${dt}: rel error ${Math.sqrt(e / ww)}`);
  }
});
