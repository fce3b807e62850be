import { strict as assert } from "node:assert";
import fc from "../../tests/fixtures/fc.ts";
import { InputError } from "../errors.ts";
import { allocate, type MenuEntry, type Objective, type Sensitivity } from "./allocate.ts";

/** A synthetic menu: per layer, configs with decreasing Δbpb as bits grow. */
const sensitivity = fc
  .record({ layers: fc.integer({ min: 1, max: 5 }), configs: fc.integer({ min: 1, max: 4 }), seed: fc.nat() })
  .map(({ layers, configs, seed }): Sensitivity => {
    let s = seed + 1;
    const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
    const entries: MenuEntry[] = [];
    for (let l = 0; l < layers; l++) {
      for (let c = 0; c < configs; c++) {
        entries.push({
          layer: `l${l}`,
          config_id: `c${c}`,
          bits: 1000 * (c + 1) * (0.5 + rnd()),
          params: 1000,
          rel_error: 0,
          delta_bpb: rnd() / (c + 1),
          kl_bits: rnd() / (c + 1),
        });
      }
    }
    return { baseBpb: 2, entries, fixedBits: 100, totalParams: 1000 * layers };
  });

/** Exhaustive optimum of Σ Δbpb under the budget. */
function bruteForce(s: Sensitivity, budget: number, objective: Objective = "delta_bpb"): number {
  const layers = [...new Set(s.entries.map((e) => e.layer))];
  let best = Infinity;
  const rec = (i: number, bits: number, delta: number) => {
    if (bits / s.totalParams > budget) return;
    if (i === layers.length) return void (best = Math.min(best, delta));
    for (const e of s.entries.filter((x) => x.layer === layers[i])) rec(i + 1, bits + e.bits, delta + e[objective]);
  };
  rec(0, s.fixedBits, 0);
  return best;
}

Deno.test("allocator: plans fit the budget, never beat the exhaustive optimum, improve with budget", () => {
  fc.assert(
    fc.property(sensitivity, fc.double({ min: 0.5, max: 5, noNaN: true }), (s, budget) => {
      const opt = bruteForce(s, budget);
      if (!Number.isFinite(opt)) {
        assert.throws(() => allocate(s, budget), InputError);
        return;
      }
      const a = allocate(s, budget);
      assert.ok(a.bitsPerParam <= budget + 1e-12, `over budget: ${a.bitsPerParam} > ${budget}`);
      assert.ok(a.predictedDeltaBpb >= opt - 1e-12);
      const bigger = allocate(s, budget * 2);
      assert.ok(bigger.predictedDeltaBpb <= a.predictedDeltaBpb + 1e-12);
    }),
    { numRuns: 300 },
  );
});

Deno.test("allocator: the kl_bits objective plans by KL, never beating its exhaustive optimum", () => {
  fc.assert(
    fc.property(sensitivity, fc.double({ min: 0.5, max: 5, noNaN: true }), (s, budget) => {
      const opt = bruteForce(s, budget, "kl_bits");
      if (!Number.isFinite(opt)) return;
      const a = allocate(s, budget, "kl_bits");
      assert.ok(a.bitsPerParam <= budget + 1e-12);
      assert.ok(a.predictedDeltaBpb >= opt - 1e-12);
      const kl = Object.entries(a.layers).reduce(
        (sum, [layer, id]) => sum + s.entries.find((e) => e.layer === layer && e.config_id === id)!.kl_bits,
        0,
      );
      assert.ok(Math.abs(kl - a.predictedDeltaBpb) < 1e-9, "the plan's objective is its layers' KL");
    }),
    { numRuns: 200 },
  );
});
