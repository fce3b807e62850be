import { strict as assert } from "node:assert";
import fc from "../../tests/fixtures/fc.ts";
import { InputError } from "../errors.ts";
import { entropyPerSymbol, histogram } from "../metrics/entropy.ts";
import { mulberry32 } from "../random.ts";
import { codeBest, CODERS } from "./mod.ts";
import { MAX_TOTAL } from "./range_coder.ts";
import { scaleFrequencies } from "./static_order0.ts";

const ALL = [...CODERS.values()];

function roundTrip(sym: Uint8Array, levels: number, cols: number) {
  for (const c of ALL) {
    if (!c.accepts(levels)) continue;
    const bytes = c.encode(sym, levels, cols);
    const back = c.decode(bytes, sym.length, levels, cols);
    assert.ok(
      back.length === sym.length && back.every((v, i) => v === sym[i]),
      `${c.id}: round trip failed (n=${sym.length}, levels=${levels})`,
    );
  }
}

Deno.test("coders: exact round trip on random streams of any length, alphabet and row length", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 256 }).chain((levels) =>
        fc.tuple(
          fc.constant(levels),
          fc.array(fc.integer({ min: 0, max: levels - 1 }), { maxLength: 600 }),
          fc.integer({ min: 1, max: 40 }),
        )
      ),
      ([levels, arr, cols]) => roundTrip(Uint8Array.from(arr), levels, cols),
    ),
    { numRuns: 150 },
  );
});

Deno.test("coders: adversarial streams — empty, one symbol, constant, alternating, uniform over 255, a 1e-6 rare symbol", () => {
  const r = mulberry32(5);
  roundTrip(new Uint8Array(0), 3, 4);
  roundTrip(Uint8Array.of(2), 3, 1);
  roundTrip(new Uint8Array(10000).fill(1), 3, 100);
  roundTrip(Uint8Array.from({ length: 10000 }, (_, i) => (i % 2 ? 0 : 2)), 3, 7);
  roundTrip(Uint8Array.from({ length: 50000 }, () => Math.floor(r() * 255)), 255, 250);
  const rare = new Uint8Array(2_000_000).fill(1);
  rare[123_457] = 0;
  rare[1_999_999] = 2;
  for (const id of ["static_o0", "adaptive_o0", "static_o0_x2"]) {
    const c = CODERS.get(id)!;
    const bytes = c.encode(rare, 3, 1000);
    assert.ok(c.decode(bytes, rare.length, 3, 1000).every((v, i) => v === rare[i]), id);
    assert.ok(bytes.length < 200, `${id}: ${bytes.length} bytes for an almost-constant stream`);
  }
});

Deno.test("static order-0: frequencies sum to 2^16, keep present symbols, and code within 0.1% + 64 B of the entropy", () => {
  fc.assert(fc.property(fc.array(fc.nat(1_000_000), { minLength: 1, maxLength: 256 }), (counts) => {
    const f = scaleFrequencies(counts);
    if (counts.some((c) => c > 0)) assert.equal(f.reduce((a, b) => a + b, 0), MAX_TOTAL);
    counts.forEach((c, i) => assert.equal(c > 0, f[i] > 0));
  }));
  const r = mulberry32(9);
  for (
    const [name, probs] of [["ternary", [0.2, 0.6, 0.2]], ["sparse 5/90/5", [0.05, 0.9, 0.05]], ["5-level", [
      0.02,
      0.08,
      0.8,
      0.08,
      0.02,
    ]]] as const
  ) {
    const n = 1 << 18;
    const sym = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      let u = r(), s = 0;
      while (s < probs.length - 1 && u >= probs[s]) u -= probs[s++];
      sym[i] = s;
    }
    const entropyBytes = (entropyPerSymbol(histogram(sym, probs.length)) * n) / 8;
    const best = codeBest(sym, probs.length, 512);
    const staticBytes = best.sizes.static_o0;
    assert.ok(
      staticBytes <= entropyBytes * 1.001 + 64,
      `${name}: ${staticBytes} B vs entropy ${entropyBytes.toFixed(1)} B`,
    );
    assert.ok(staticBytes >= entropyBytes - 1, `${name}: below the entropy bound?`);
  }
});

Deno.test("context models find structure that order-0 cannot", () => {
  // rows that repeat the previous row: 'above' should win by far
  const cols = 256, rows = 64, r = mulberry32(3);
  const sym = new Uint8Array(rows * cols);
  for (let c = 0; c < cols; c++) sym[c] = Math.floor(r() * 3);
  for (let i = cols; i < sym.length; i++) sym[i] = r() < 0.97 ? sym[i - cols] : Math.floor(r() * 3);
  const best = codeBest(sym, 3, cols);
  assert.equal(best.coder, "above");
  assert.ok(best.sizes.above < best.sizes.static_o0 * 0.5);
});

Deno.test("coders: truncated, bit-flipped or random bytes never hang or crash", () => {
  const r = mulberry32(11);
  const sym = Uint8Array.from({ length: 4000 }, () => (r() < 0.1 ? 0 : r() < 0.9 ? 1 : 2));
  for (const c of ALL) {
    const good = c.encode(sym, 3, 100);
    const attempts: Uint8Array[] = [good.slice(0, good.length >> 1), good.slice(0, 3), new Uint8Array(0)];
    for (let k = 0; k < 20; k++) {
      const flipped = good.slice();
      flipped[Math.floor(r() * flipped.length)] ^= 1 << Math.floor(r() * 8);
      attempts.push(flipped, Uint8Array.from({ length: 1 + Math.floor(r() * 200) }, () => Math.floor(r() * 256)));
    }
    for (const bytes of attempts) {
      try {
        const out = c.decode(bytes, sym.length, 3, 100);
        assert.equal(out.length, sym.length); // undetected damage: the container's CRC catches it
        assert.ok(out.every((v) => v < 3));
      } catch (e) {
        assert.ok(e instanceof InputError, `${c.id}: ${(e as Error).message}`);
      }
    }
  }
});
