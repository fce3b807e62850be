import { strict as assert } from "node:assert";
import fc from "../../tests/fixtures/fc.ts";
import { InputError } from "../errors.ts";
import { ensureNative } from "../kernels/native.ts";
import { mulberry32 } from "../random.ts";
import { staticOrder0C, staticOrder0Ts } from "./static_order0.ts";
import { staticOrder0x2C, staticOrder0x2Ts } from "./static_order0_x2.ts";

const lib = await ensureNative();

/** An alphabet size 1…256 and up to 3000 symbols below it (at least minLength). */
const alphabetAndSymbols = (minLength: number) =>
  fc.integer({ min: 1, max: 256 }).chain((k) =>
    fc.tuple(fc.constant(k), fc.array(fc.nat(k - 1), { minLength, maxLength: 3000 }))
  );

Deno.test({
  name:
    "static order-0 in C: byte-identical to the TypeScript reference, random and adversarial streams, every alphabet path (1-8 compares, table)",
  ignore: lib === null,
  fn() {
    const c = staticOrder0C(lib!);
    const check = (sym: Uint8Array, levels: number) => {
      const ref = staticOrder0Ts.encode(sym, levels, 1);
      const got = c.encode(sym, levels, 1);
      assert.deepEqual(got, ref, `encode differs (n=${sym.length}, levels=${levels})`);
      assert.deepEqual(c.decode(ref, sym.length, levels, 1), sym);
      assert.deepEqual(c.decodeInto(ref, new Uint8Array(sym.length).fill(99), levels), sym); // reused, dirty buffer
    };
    fc.assert(
      fc.property(alphabetAndSymbols(0), ([k, arr]) => check(Uint8Array.from(arr), k)),
      { numRuns: 200 },
    );
    const r = mulberry32(4);
    check(new Uint8Array(0), 3);
    check(new Uint8Array(100000).fill(2), 3);
    check(Uint8Array.from({ length: 200000 }, () => Math.floor(r() * 255)), 255);
    const rare = new Uint8Array(1_500_000).fill(1);
    rare[777] = 0;
    check(rare, 3);
  },
});

Deno.test({
  name: "static order-0 in C: truncated or damaged streams fail cleanly like the reference",
  ignore: lib === null,
  fn() {
    const c = staticOrder0C(lib!);
    const r = mulberry32(8);
    const sym = Uint8Array.from({ length: 20000 }, () => (r() < 0.05 ? 0 : r() < 0.95 ? 1 : 2));
    const good = c.encode(sym, 3, 1);
    assert.throws(
      () => c.decode(good.slice(0, good.length - 40), sym.length, 3, 1),
      (e: Error) => e instanceof InputError && /truncated at byte offset/.test(e.message),
    );
    for (let k = 0; k < 50; k++) {
      const bad = good.slice();
      bad[Math.floor(r() * bad.length)] ^= 1 << Math.floor(r() * 8);
      let refOut: Uint8Array | string, cOut: Uint8Array | string;
      try {
        refOut = staticOrder0Ts.decode(bad, sym.length, 3, 1);
      } catch (e) {
        assert.ok(e instanceof InputError);
        refOut = "error";
      }
      try {
        cOut = c.decode(bad, sym.length, 3, 1);
      } catch (e) {
        assert.ok(e instanceof InputError);
        cOut = "error";
      }
      assert.deepEqual(cOut, refOut, "C and TS must agree on damaged input");
    }
  },
});

Deno.test({
  name:
    "static_o0_x2 in C: byte-identical to its TS reference, interleaved decode exact (odd/even lengths, every alphabet path)",
  ignore: lib === null,
  fn() {
    const c = staticOrder0x2C(lib!);
    const check = (sym: Uint8Array, levels: number) => {
      const ref = staticOrder0x2Ts.encode(sym, levels, 1);
      assert.deepEqual(c.encode(sym, levels, 1), ref, `encode differs (n=${sym.length}, levels=${levels})`);
      assert.deepEqual(c.decode(ref, sym.length, levels, 1), sym);
      assert.deepEqual(staticOrder0x2Ts.decode(ref, sym.length, levels, 1), sym);
      const single = staticOrder0Ts.encode(sym, levels, 1);
      assert.ok(ref.length <= single.length + 16, `x2 costs ${ref.length - single.length} bytes over static_o0`);
    };
    fc.assert(
      fc.property(alphabetAndSymbols(1), ([k, arr]) => check(Uint8Array.from(arr), k)),
      { numRuns: 200 },
    );
    const r = mulberry32(9);
    for (const levels of [2, 3, 5, 8, 9]) {
      check(Uint8Array.from({ length: 100001 }, () => Math.floor(r() * r() * levels)), levels);
    }
    check(Uint8Array.of(1), 3);
    const bytes = c.encode(Uint8Array.from({ length: 5000 }, () => Math.floor(r() * 3)), 3, 1);
    assert.throws(
      () => c.decode(bytes.slice(0, bytes.length - 30), 5000, 3, 1),
      (e: Error) => e instanceof InputError && /truncated at byte offset|corrupt/.test(e.message),
    );
    assert.throws(() => c.decode(bytes.slice(0, 4), 5000, 3, 1), InputError);
  },
});
