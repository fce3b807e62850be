import { strict as assert } from "node:assert";
import { kernelCodes } from "../sweep/kernel_codes.ts";
import { seededGaussian } from "../random.ts";
import { addressOf, alignedArray, alignedCopy, alignedWeights, isAligned } from "./aligned.ts";
import { prepareWeights } from "./formats.ts";

Deno.test("alignedArray: every length and element type starts on a 64-byte boundary, zeroed", () => {
  for (const ctor of [Uint8Array, Int8Array, Int32Array, Float32Array, BigInt64Array] as const) {
    for (const n of [1, 3, 64, 1000]) {
      const a = alignedArray(ctor as Float32ArrayConstructor, n);
      assert.equal(addressOf(a) % 64n, 0n, `${ctor.name} ${n}`);
      assert.equal(a.length, n);
      assert.ok(a.every((v) => v === 0 || v === 0n as unknown));
    }
  }
});

Deno.test("alignedCopy: same values; an aligned array is returned as is unless a copy is asked for", () => {
  const raw = new Float32Array(1001).map((_, i) => i * 0.5);
  const misaligned = raw.subarray(1); // 4 bytes past wherever raw starts
  const a = alignedCopy(misaligned);
  assert.ok(isAligned(a));
  assert.deepEqual(Array.from(a), Array.from(misaligned));
  assert.equal(alignedCopy(a), a);
  const b = alignedCopy(a, true);
  assert.notEqual(b, a);
  assert.deepEqual(b, a);
});

Deno.test("alignedWeights: kernel arrays aligned and copied on request; dequantized shared", () => {
  const w = { name: "w", rows: 8, cols: 300, data: seededGaussian(8 * 300, 1, 0.05) };
  const p = prepareWeights("ternary2", kernelCodes("ternary2", w));
  const c = alignedWeights(p, true);
  assert.ok(isAligned(c.packed) && isAligned(c.scale) && isAligned(c.wsum));
  assert.notEqual(c.packed, p.packed);
  assert.deepEqual(c.packed, p.packed);
  assert.equal(c.dequantized, p.dequantized);
});
