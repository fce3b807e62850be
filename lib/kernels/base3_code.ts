/**
 * The base-3 weight code: 5 ternary codes c_i = w + 1 ∈ {0, 1, 2} (i = 0…4) in one byte (1.6 bit a weight),
 * chosen so that each c_i is a table lookup on 7 or 6 of the byte's 8 bits: c_i = PLANE[i][base3Index(byte,
 * BASE3_SKIPPED[i])], where base3Index deletes the skipped bits and packs the others. AVX-512 VBMI looks up 64
 * bytes at once in a 128-entry table with one `vpermi2b` (a 7-bit index) or in a 64-entry one with one `vpermb`
 * (6 bits), so the C kernel decodes 64 bytes into 5 × 64 signed weights with five lookups, one shift (skipped
 * bit 0: byte >> 1) and one bit select (skipped bit 3), then one `vpdpbusd` per plane — where TQ1_0's scaled base 3
 * (c_i = ⌊3·(byte·3^i mod 256)/256⌋) needed ten VNNI and ten byte adds per 64 bytes on this project's machine, and
 * was compute-bound at ~60 % of one core's memory bandwidth.
 *
 * 243 of the 256 bytes are needed. The planes skip bit 7, bits 6–7, bit 0, bit 0 and bit 3: planes 0 and 1 both
 * index by the byte itself and planes 2 and 3 by byte >> 1, and plane 1's 6-bit lookup does not overwrite its index
 * (`vpermi2b` does), which saves a register copy. Such tables are not unique and we know no closed form: they were
 * found by the seeded search `searchBase3Code` (simulated annealing over the table entries, maximizing the number
 * of distinct 5-trit tuples the 256 bytes decode to) and are checked by base3_code_test.ts.
 */
import { mulberry32 } from "../random.ts";

/** The byte bits each plane's trit does not depend on. */
export const BASE3_SKIPPED: readonly (readonly number[])[] = [[7], [6, 7], [0], [0], [3]];

/** The seed `searchBase3Code` found BASE3_PLANES with. */
export const BASE3_SEARCH_SEED = 1;

/** The bits of `byte` other than `skip`, packed in order. */
export function base3Index(byte: number, skip: readonly number[]): number {
  let index = 0, at = 0;
  for (let bit = 0; bit < 8; bit++) {
    if (!skip.includes(bit)) index |= ((byte >> bit) & 1) << at++;
  }
  return index;
}

/** Entries of plane i's table: 2^(8 − skipped bits). */
const tableSize = (skip: readonly number[]) => 1 << (8 - skip.length);

/** Per plane, 128 or 64 codes c ∈ {0,1,2} indexed by base3Index(byte, BASE3_SKIPPED[plane]). */
export const BASE3_PLANES: readonly Uint8Array[] = [
  "10210112121020100121221210202202021002011202122011010212001112220202202220012100100202200010211010112221011021110020010122112021",
  "0111211210021021221110002022201100122211202002101200102212102020",
  "21011222102102202221110020121220102001100210201021112011120021222222111212001002001002011121102010202220211120100012112210001020",
  "12000111222110112121122002120100000010010221012022210200000222120221212200212201011221111121111112011202122020020110220202100002",
  "10022222120002112001110122221200012221121002021021102100120110100022211210201210212001222100110211021222002112112012100100010200",
].map((s) => Uint8Array.from(s, (ch) => Number(ch)));

/** The plane tables as the C kernel takes them: weights w = c − 1 (int8), plane i at 128·i (a 64-entry table padded). */
export const BASE3_PLANE_WEIGHTS: Int8Array = (() => {
  const out = new Int8Array(5 * 128);
  BASE3_PLANES.forEach((p, i) => p.forEach((c, k) => out[128 * i + k] = c - 1));
  return out;
})();

/** Codes c_0…c_4 of every byte: DECODE[5·byte + i]. */
export const BASE3_DECODE: Uint8Array = decodeTable(BASE3_PLANES);

/** The byte of every tuple t = Σ c_i·3^i (the smallest byte decoding to it). */
export const BASE3_ENCODE: Uint8Array = encodeTable(BASE3_DECODE);

/** The per-byte decode table a set of plane tables defines. */
export function decodeTable(planes: readonly Uint8Array[]): Uint8Array {
  const d = new Uint8Array(256 * 5);
  for (let v = 0; v < 256; v++) {
    for (let i = 0; i < 5; i++) d[5 * v + i] = planes[i][base3Index(v, BASE3_SKIPPED[i])];
  }
  return d;
}

/** Tuple index Σ c_i·3^i of byte v under a decode table. */
function tupleOf(decode: Uint8Array, v: number): number {
  let t = 0;
  for (let i = 4; i >= 0; i--) t = 3 * t + decode[5 * v + i];
  return t;
}

/** Inverse of a decode table; throws if some tuple has no byte. */
export function encodeTable(decode: Uint8Array): Uint8Array {
  const e = new Int16Array(243).fill(-1);
  for (let v = 0; v < 256; v++) {
    const t = tupleOf(decode, v);
    if (e[t] < 0) e[t] = v;
  }
  const missing = e.indexOf(-1);
  if (missing >= 0) throw new Error(`base-3 code: tuple ${missing} has no byte`);
  return Uint8Array.from(e);
}

/** The byte holding codes c[0…4]. */
export function encodeBase3(c0: number, c1: number, c2: number, c3: number, c4: number): number {
  return BASE3_ENCODE[c0 + 3 * c1 + 9 * c2 + 27 * c3 + 81 * c4];
}

/**
 * Simulated annealing over the plane tables: maximize the number of distinct tuples the 256 bytes decode to.
 * Returns the tables once all 243 are covered (null after `maxSteps`).
 */
export function searchBase3Code(seed: number, maxSteps = 5_000_000): Uint8Array[] | null {
  const rand = mulberry32(seed);
  const planes = BASE3_SKIPPED.map((skip) =>
    Uint8Array.from({ length: tableSize(skip) }, () => Math.floor(rand() * 3))
  );
  // the bytes sharing each (plane, index) entry
  const bytesOf = BASE3_SKIPPED.map((skip) => {
    const out: number[][] = Array.from({ length: tableSize(skip) }, () => []);
    for (let v = 0; v < 256; v++) out[base3Index(v, skip)].push(v);
    return out;
  });
  const indexOf = BASE3_SKIPPED.map((skip) => Uint8Array.from({ length: 256 }, (_, v) => base3Index(v, skip)));
  const tuple = (v: number) => {
    let t = 0;
    for (let i = 4; i >= 0; i--) t = 3 * t + planes[i][indexOf[i][v]];
    return t;
  };
  const count = new Int32Array(243);
  let covered = 0;
  for (let v = 0; v < 256; v++) if (count[tuple(v)]++ === 0) covered++;
  let temperature = 2;
  for (let step = 0; step < maxSteps && covered < 243; step++) {
    const i = Math.floor(rand() * 5), w = Math.floor(rand() * planes[i].length), next = Math.floor(rand() * 3);
    const old = planes[i][w];
    if (next === old) continue;
    const vs = bytesOf[i][w];
    let delta = 0;
    for (const v of vs) if (--count[tuple(v)] === 0) delta--;
    planes[i][w] = next;
    for (const v of vs) if (count[tuple(v)]++ === 0) delta++;
    if (delta >= 0 || Math.exp(delta / temperature) > rand()) covered += delta;
    else {
      for (const v of vs) count[tuple(v)]--;
      planes[i][w] = old;
      for (const v of vs) count[tuple(v)]++;
    }
    temperature = Math.max(0.02, temperature * 0.999997);
  }
  return covered === 243 ? planes : null;
}
