import { strict as assert } from "node:assert";
import fc from "../../tests/fixtures/fc.ts";
import {
  bf16BitsToF32,
  e4m3BitsToF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToE4m3Bits,
  f32ToF16Bits,
  roundToE4m3,
  roundToF16,
} from "./dtype.ts";

/** Brute force: the representable value nearest to x, ties to the even bit pattern. */
function nearest(x: number, values: { v: number; bits: number }[]): number {
  let best = values[0];
  for (const c of values) {
    const d = Math.abs(c.v - x), db = Math.abs(best.v - x);
    if (d < db || (d === db && (c.bits & 1) === 0 && (best.bits & 1) === 1)) best = c;
  }
  return best.v;
}

const F16_VALUES = Array.from({ length: 0x7c00 }, (_, b) => ({ v: f16BitsToF32(b), bits: b }));
const E4M3_VALUES = Array.from({ length: 0x7f }, (_, b) => ({ v: e4m3BitsToF32(b), bits: b }));

Deno.test("f16: every finite bit pattern round-trips", () => {
  for (let b = 0; b < 0x10000; b++) {
    if ((b & 0x7c00) === 0x7c00) continue;
    assert.equal(f32ToF16Bits(f16BitsToF32(b)), b, `bits ${b.toString(16)}`);
  }
});

Deno.test("f16: rounding equals brute-force nearest-even over all f16 values", () => {
  fc.assert(
    fc.property(fc.double({ min: 0, max: 65504, noNaN: true }), (x) => {
      const xf = Math.fround(x);
      assert.equal(roundToF16(xf), nearest(xf, F16_VALUES));
    }),
    { numRuns: 400 },
  );
  assert.equal(roundToF16(-1.00048828125), -1); // tie 1 + 2^-11 → even (1.0)
  assert.equal(roundToF16(1e6), Infinity);
  assert.equal(roundToF16(2 ** -26), 0); // below half the smallest subnormal
});

Deno.test("bf16: round-trips and rounds to nearest even", () => {
  for (let b = 0; b < 0x10000; b += 7) {
    const v = bf16BitsToF32(b);
    if (Number.isNaN(v)) continue;
    assert.equal(f32ToBf16Bits(v), b);
  }
  assert.equal(bf16BitsToF32(f32ToBf16Bits(1 + 2 ** -8)), 1); // tie → even
  assert.equal(bf16BitsToF32(f32ToBf16Bits(1 + 3 * 2 ** -8)), 1 + 2 ** -6);
});

Deno.test("fp8 e4m3: round-trip, saturation and brute-force nearest", () => {
  for (let b = 0; b < 0x7f; b++) assert.equal(f32ToE4m3Bits(e4m3BitsToF32(b)), b);
  assert.equal(e4m3BitsToF32(0x7e), 448);
  assert.equal(roundToE4m3(1e9), 448);
  assert.equal(roundToE4m3(-1e9), -448);
  fc.assert(
    fc.property(fc.double({ min: 0, max: 448, noNaN: true }), (x) => {
      assert.equal(roundToE4m3(x), nearest(x, E4M3_VALUES));
    }),
    { numRuns: 500 },
  );
});
