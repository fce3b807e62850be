import assert from "node:assert/strict";
import fc from "../../tests/fixtures/fc.ts";
import { quantile } from "./quantile.ts";

Deno.test("quantile: index ⌊q·n⌋ of the sorted values, the input left unsorted", () => {
  const xs = [3, 1, 2];
  assert.equal(quantile(xs, 0.5), 2);
  assert.deepEqual(xs, [3, 1, 2]);
  assert.equal(quantile([5], 0.75), 5);
  assert.equal(quantile([4, 1, 3, 2], 0.5), 3); // even length: the upper middle
  assert.equal(quantile([4, 1, 3, 2], 1), 4); // q = 1 clamps to the largest
  assert.equal(quantile([4, 1, 3, 2], 0), 1);
});

Deno.test("quantile: against a counting definition on random inputs", () => {
  fc.assert(fc.property(
    fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 40 }),
    fc.double({ min: 0, max: 1, noNaN: true }),
    (xs, q) => {
      const v = quantile(xs, q), k = Math.min(xs.length - 1, Math.floor(q * xs.length));
      // at most k values lie below the k-th order statistic, and at least k + 1 are ≤ it
      assert.ok(xs.filter((x) => x < v).length <= k);
      assert.ok(xs.filter((x) => x <= v).length >= k + 1);
    },
  ));
});
