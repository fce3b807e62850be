import { strict as assert } from "node:assert";
import { ensureNative } from "../kernels/native.ts";
import { seededGaussian } from "../random.ts";
import { kernelsFor, LatencyTable, rowKernels } from "./latency.ts";
import { expandGrid, GRIDS } from "./grid.ts";
import { configId } from "../quant/config_id.ts";
import { referenceGemv } from "../kernels/gemv.ts";
import { quantizeWeight } from "../quant/transforms.ts";
import type { QuantConfig } from "../quant/types.ts";

const lib = await ensureNative();

Deno.test("kernelsFor: the f32-free formats that store a config as it is", () => {
  const t = (c: Omit<QuantConfig, "scaleDtype">) => kernelsFor({ ...c, scaleDtype: "f16" });
  assert.deepEqual(t({ method: "ternary_absmean", groupSize: "row" }), ["ternary2", "ternary_base3"]);
  assert.deepEqual(t({ method: "sparse_klevel", levels: 3, sparsity: 0.95, groupSize: "row" }), [
    "ternary2",
    "ternary_base3",
    "sparse_ternary",
  ]);
  assert.deepEqual(t({ method: "ternary_absmean", groupSize: 64 }), []); // group scales: uint_b's (packedKernelFor)
  assert.deepEqual(t({ method: "rtn_sym", bits: 8, groupSize: 64 }), ["int8"]);
  assert.deepEqual(t({ method: "rtn_asym", bits: 8, groupSize: 64 }), []);
});

Deno.test({
  name: "LatencyTable: each row's own codes on the kernel of its format; none where no kernel stores it",
  ignore: !lib,
  fn() {
    const t = new LatencyTable(lib!, 3);
    const w = { name: "w", rows: 64, cols: 256, data: seededGaussian(64 * 256, 3, 0.05) };
    const cases: [Omit<QuantConfig, "scaleDtype">, string[] | null][] = [
      [{ method: "hqq", bits: 2, groupSize: 64 }, ["uint_b"]],
      [{ method: "rtn_sym", bits: 4, groupSize: "row" }, ["uint_b"]],
      [{ method: "sparse_klevel", levels: 5, sparsity: 0.8, groupSize: 64 }, ["klevel5"]],
      [{ method: "ternary_absmean", groupSize: 64 }, ["uint_b"]],
      [{ method: "sign", groupSize: "row" }, ["uint_b"]],
      [{ method: "ternary_absmean", groupSize: "row" }, ["ternary2", "ternary_base3"]],
      [{ method: "sparse_klevel", levels: 3, sparsity: 0.95, groupSize: "row" }, [
        "ternary2",
        "ternary_base3",
        "sparse_ternary",
      ]],
      [{ method: "rtn_sym", bits: 8, groupSize: 64 }, ["int8"]],
      [{ method: "rtn_asym", bits: 8, groupSize: 64 }, ["uint_b"]],
      [{ method: "rtn_asym", bits: 6, groupSize: 64 }, null],
      [{ method: "rtn_asym", bits: 4, groupSize: 16 }, null],
      [{ method: "rtn_asym", bits: 4, groupSize: 64, transforms: ["had"] }, null],
    ];
    for (const [cfg, kernels] of cases) {
      const c = { ...cfg, scaleDtype: "f16" } as QuantConfig;
      const r = t.measure(w, c, quantizeWeight(w, c));
      if (kernels === null) assert.equal(r, null, JSON.stringify(c));
      else {
        assert.ok(r && kernels.includes(r.kernel), `${JSON.stringify(c)}: ${r?.kernel}`);
        assert.ok(r.gemv_us > 0 && Number.isFinite(r.gemv_us));
      }
    }
  },
});

Deno.test({
  name: "every config of the quick and default grids: its kernels, fed its own codes, compute X·Ŵᵀ of its dequantize()",
  ignore: !lib,
  fn() {
    const configs = [...expandGrid(GRIDS.quick), ...expandGrid(GRIDS.default)];
    const covered = new Set<string>();
    configs.forEach((c, i) => {
      // a ragged shape and batch per config, seeded by its place in the list
      const rows = 1 + (i * 7) % 13, cols = 1 + (i * 97) % 400, batch = 1 + i % 5, threads = 1 + i % 2;
      const w = { name: "w", rows, cols, data: seededGaussian(rows * cols, 100 + i, 0.05) };
      const q = quantizeWeight(w, c), id = configId(c);
      const kernels = rowKernels(lib!, w, c, q);
      assert.ok(kernels.length > 0, `${id}: no kernel (every default-grid config has one)`);
      const wHat = q.dequantize(), x = seededGaussian(batch * cols, 200 + i, 1);
      const want = new Float32Array(batch * rows);
      referenceGemv({ rows, cols, cp: cols, dequantized: wHat }, x, want, batch, true);
      const scale = Math.max(1e-6, ...Array.from(want, Math.abs));
      for (const k of kernels) {
        const got = new Float32Array(batch * rows);
        k.run(x, got, batch, threads);
        for (let j = 0; j < got.length; j++) {
          assert.ok(
            Math.abs(got[j] - want[j]) <= 1e-4 * scale,
            `${id} on ${k.kernel} ${rows}x${cols} B${batch} @${j}: ${got[j]} vs ${want[j]}`,
          );
        }
        covered.add(k.kernel);
      }
    });
    // the grids' group sizes are 32–128 (no "row"): ternary codes there carry group scales and run uint_b's 2 bits
    assert.deepEqual([...covered].sort(), ["int8", "klevel5", "uint_b"]);
  },
});
