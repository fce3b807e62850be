import assert from "node:assert/strict";
import {
  BASE3_DECODE,
  BASE3_PLANE_WEIGHTS,
  BASE3_PLANES,
  BASE3_SEARCH_SEED,
  BASE3_SKIPPED,
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

Deno.test("base-3 code: base3Index drops exactly the skipped bits (the lookup a plane does ignores them)", () => {
  for (const skip of [[0], [3], [7], [6, 7], [0, 7], [1, 4, 5]]) {
    const size = 1 << (8 - skip.length), seen = new Set<number>();
    for (let v = 0; v < 256; v++) {
      const i = base3Index(v, skip);
      assert.ok(i >= 0 && i < size);
      for (const bit of skip) assert.equal(i, base3Index(v ^ (1 << bit), skip));
      seen.add(i);
    }
    assert.equal(seen.size, size, `skip ${skip}: the other bits are kept`);
  }
  // the index forms the C kernel computes with vector operations
  for (let v = 0; v < 256; v++) {
    assert.equal(base3Index(v, [7]), v & 127); // vpermi2b ignores bit 7 of the index
    assert.equal(base3Index(v, [6, 7]), v & 63); // vpermb ignores bits 6-7
    assert.equal(base3Index(v, [0]), v >> 1);
    assert.equal(base3Index(v, [3]), (v & 0x07) | ((v >> 1) & 0x78));
  }
  assert.deepEqual(BASE3_SKIPPED, [[7], [6, 7], [0], [0], [3]]);
});

Deno.test("base-3 code: the tables are what the seeded search finds; a table missing a tuple is refused", () => {
  const found = searchBase3Code(BASE3_SEARCH_SEED);
  assert.ok(found);
  assert.deepEqual(found.map((p) => Array.from(p)), BASE3_PLANES.map((p) => Array.from(p)));
  // the C layout: plane i at 128·i as w = c − 1; plane 1's 64-entry table padded
  assert.deepEqual(Array.from(BASE3_PLANE_WEIGHTS.subarray(0, 128)), Array.from(BASE3_PLANES[0], (c) => c - 1));
  assert.deepEqual(Array.from(BASE3_PLANE_WEIGHTS.subarray(128, 192)), Array.from(BASE3_PLANES[1], (c) => c - 1));
  const flat = BASE3_PLANES.map(() => new Uint8Array(128)); // every byte decodes to (0,0,0,0,0)
  assert.throws(() => encodeTable(decodeTable(flat)), /has no byte/);
});
