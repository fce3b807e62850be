import { strict as assert } from "node:assert";
import { addressOf, alignedArray, alignedCopy } from "./aligned.ts";
import { adviseHugePages, HUGE_PAGE_BYTES, transparentHugePages } from "./huge_pages.ts";

/** /proc/self/smaps's THPeligible flag of the mapping holding `at` (null: no such mapping or field). */
function thpEligible(at: bigint): boolean | null {
  let inside = false;
  for (const line of Deno.readTextFileSync("/proc/self/smaps").split("\n")) {
    const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (range) inside = BigInt(`0x${range[1]}`) <= at && at < BigInt(`0x${range[2]}`);
    else if (inside && line.startsWith("THPeligible:")) return line.trim().endsWith("1");
  }
  return null;
}

const linux = Deno.build.os === "linux";
const thp = transparentHugePages();
/** Kernels since 4.x report each mapping's THPeligible flag; without it there is nothing to check. */
const smapsSaysThp = linux && Deno.readTextFileSync("/proc/self/smaps").includes("THPeligible:");

Deno.test("alignedArray: 2 MiB and more start on a huge-page boundary, zeroed, the right length", () => {
  for (const bytes of [HUGE_PAGE_BYTES, 3 * HUGE_PAGE_BYTES + 4]) {
    const a = alignedArray(Float32Array, bytes / 4);
    assert.equal(addressOf(a) % BigInt(HUGE_PAGE_BYTES), 0n);
    assert.equal(a.length, bytes / 4);
    assert.ok(a.every((v) => v === 0));
  }
  const small = alignedArray(Uint8Array, HUGE_PAGE_BYTES - 1);
  assert.equal(addressOf(small) % 64n, 0n);
});

Deno.test("alignedCopy: a large array 64-byte aligned but off a 2 MiB boundary is copied onto one", () => {
  const big = alignedArray(Uint8Array, 3 * HUGE_PAGE_BYTES);
  big.forEach((_, i) => big[i] = i % 251);
  const off = big.subarray(64, 64 + 2 * HUGE_PAGE_BYTES + 5);
  const c = alignedCopy(off);
  assert.notEqual(c, off);
  assert.equal(addressOf(c) % BigInt(HUGE_PAGE_BYTES), 0n);
  assert.deepEqual(c, off);
  assert.equal(alignedCopy(c), c, "already on a boundary: as is");
});

Deno.test("alignedArray: wholeHugePages leaves room for the last page whole", () => {
  const a = alignedArray(Uint8Array, HUGE_PAGE_BYTES + 100, true);
  assert.ok(a.buffer.byteLength - a.byteOffset >= 2 * HUGE_PAGE_BYTES);
  const b = alignedArray(Uint8Array, HUGE_PAGE_BYTES + 100);
  assert.ok(b.buffer.byteLength - b.byteOffset < 2 * HUGE_PAGE_BYTES);
});

Deno.test({
  name: "adviseHugePages: the whole huge pages inside an array, marked THP-eligible in /proc/self/smaps",
  ignore: !smapsSaysThp || thp === null || thp === "never",
  fn() {
    const raw = new Uint8Array(5 * HUGE_PAGE_BYTES);
    const at = addressOf(raw), page = BigInt(HUGE_PAGE_BYTES);
    const start = (at + page - 1n) / page * page, end = (at + BigInt(raw.byteLength)) / page * page;
    if (thp === "madvise") assert.equal(thpEligible(start), false, "not advised yet: small pages");
    assert.equal(adviseHugePages(raw), Number(end - start));
    assert.equal(thpEligible(start), true);
    assert.equal(adviseHugePages(new Uint8Array(HUGE_PAGE_BYTES - 1)), 0, "smaller than a huge page: nothing");
    const big = alignedArray(Uint8Array, 2 * HUGE_PAGE_BYTES);
    assert.equal(thpEligible(addressOf(big)), true, "alignedArray advises its arrays");
  },
});
