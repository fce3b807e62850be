import assert from "node:assert/strict";
import {
  BASE3_DECODE,
  BASE3_PLANE_WEIGHTS,
  BASE3_PLANES,
  BASE3_SEARCH_SEED,
  BASE3_SKIPPED_BIT,
  base3Index,
  decodeTable,
  encodeBase3,
  encodeTable,
  searchBase3Code,
} from "./base3_code.ts";

Deno.test("base-3 code: every 5-trit tuple has a byte that decodes back to it", () => {
  for (let t = 0; t < 243; t++) {
    const c = [0, 1, 2, 3, 4].map((i) => Math.floor(t / 3 ** i) % 3);
    const v = encodeBase3(c[0], c[1], c[2], c[3], c[4]);
    assert.deepEqual(Array.from(BASE3_DECODE.subarray(5 * v, 5 * v + 5)), c, `tuple ${c}`);
  }
});

Deno.test("base-3 code: base3Index drops exactly the skipped bit (the lookup a plane does ignores it)", () => {
  for (let skip = 0; skip < 8; skip++) {
    const seen = new Set<number>();
    for (let v = 0; v < 256; v++) {
      const i = base3Index(v, skip);
      assert.ok(i >= 0 && i < 128);
      assert.equal(i, base3Index(v ^ (1 << skip), skip));
      if (!(v & (1 << skip))) seen.add(i);
    }
    assert.equal(seen.size, 128, `skip ${skip}: the other seven bits are kept`);
  }
  // the index forms the C kernel computes with vector operations
  for (let v = 0; v < 256; v++) {
    assert.equal(base3Index(v, 7), v & 127);
    assert.equal(base3Index(v, 0), v >> 1);
    assert.equal(base3Index(v, 3), (v & 0x07) | ((v >> 1) & 0x78));
  }
  assert.deepEqual([...BASE3_SKIPPED_BIT], [7, 7, 0, 0, 3]);
});

Deno.test("base-3 code: the tables are what the seeded search finds; a table missing a tuple is refused", () => {
  const found = searchBase3Code(BASE3_SEARCH_SEED);
  assert.ok(found);
  assert.deepEqual(found.map((p) => Array.from(p)), BASE3_PLANES.map((p) => Array.from(p)));
  assert.deepEqual(Array.from(BASE3_PLANE_WEIGHTS.subarray(128, 256)), Array.from(BASE3_PLANES[1], (c) => c - 1));
  const flat = BASE3_PLANES.map(() => new Uint8Array(128)); // every byte decodes to (0,0,0,0,0)
  assert.throws(() => encodeTable(decodeTable(flat)), /has no byte/);
});
