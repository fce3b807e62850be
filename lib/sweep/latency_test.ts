import { strict as assert } from "node:assert";
import { ensureNative } from "../kernels/native.ts";
import { seededGaussian } from "../random.ts";
import { kernelsFor, LatencyTable } from "./latency.ts";
import { quantizeWeight } from "../quant/transforms.ts";
import type { QuantConfig } from "../quant/types.ts";

const lib = await ensureNative();

Deno.test("kernelsFor: int8 for multi-bit formats, the 2-bit and base-3 kernels for ternary, sparse too at ≥ 90% zeros", () => {
  assert.deepEqual(kernelsFor({ method: "rtn_asym", bits: 4, groupSize: 64, scaleDtype: "f16" }), [{ kernel: "int8" }]);
  assert.deepEqual(kernelsFor({ method: "ternary_absmean", groupSize: 64, scaleDtype: "f16" }), [
    { kernel: "ternary2" },
    { kernel: "ternary_base3" },
  ]);
  const sparse = (s: number) =>
    kernelsFor({ method: "sparse_klevel", levels: 3, sparsity: s, groupSize: 64, scaleDtype: "f16" }).map((k) =>
      k.kernel
    );
  assert.deepEqual(sparse(0.8), ["ternary2", "ternary_base3"]);
  assert.deepEqual(sparse(0.95), ["ternary2", "ternary_base3", "sparse_ternary"]);
});

Deno.test({
  name: "LatencyTable: reports the faster of the candidate kernels, timed once per shape",
  ignore: !lib,
  fn() {
    const table = new LatencyTable(lib!, 5);
    const w = { name: "w", rows: 64, cols: 256, data: seededGaussian(64 * 256, 1, 0.05) };
    const c = {
      method: "sparse_klevel" as const,
      levels: 3,
      sparsity: 0.95,
      groupSize: 64,
      scaleDtype: "f16" as const,
    };
    const r = table.measure(w, c);
    assert.ok(["ternary2", "ternary_base3", "sparse_ternary"].includes(r.kernel), r.kernel);
    assert.ok(r.gemv_us > 0 && Number.isFinite(r.gemv_us));
    const again = table.measure(w, c); // cached: the same figures
    assert.deepEqual(again, r);
  },
});

Deno.test({
  name: "LatencyTable: 2–4-bit uniform rows run uint_b, 5-level sparse rows klevel5, on the row's own Quantized",
  ignore: !lib,
  fn() {
    const t = new LatencyTable(lib!, 3);
    const w = { name: "w", rows: 64, cols: 256, data: seededGaussian(64 * 256, 3, 0.05) };
    const cases: [QuantConfig, string][] = [
      [{ method: "hqq", bits: 2, groupSize: 64, scaleDtype: "f16" }, "uint_b"],
      [{ method: "rtn_sym", bits: 4, groupSize: "row", scaleDtype: "f16" }, "uint_b"],
      [{ method: "sparse_klevel", levels: 5, sparsity: 0.8, groupSize: 64, scaleDtype: "f16" }, "klevel5"],
      [{ method: "rtn_asym", bits: 8, groupSize: 64, scaleDtype: "f16" }, "int8"],
      [{ method: "rtn_asym", bits: 4, groupSize: 64, scaleDtype: "f16", transforms: ["had"] }, "int8"],
    ];
    for (const [c, kernel] of cases) {
      const r = t.measure(w, c, quantizeWeight(w, c));
      assert.equal(r.kernel, kernel, JSON.stringify(c));
      assert.ok(r.gemv_us > 0);
    }
  },
});
