/**
 * The base-3 weight code: 5 ternary codes c_i = w + 1 ∈ {0, 1, 2} (i = 0…4) in one byte (1.6 bit a weight),
 * chosen so that each c_i is a table lookup on 7 of the byte's 8 bits: c_i = PLANE[i][index(byte, SKIPPED_BIT[i])],
 * where index() deletes bit SKIPPED_BIT[i] and packs the other seven. A 128-entry byte table is one AVX-512
 * VBMI `vpermi2b`, so the C kernel decodes 64 bytes into 5 × 64 signed weights with five table lookups, one
 * shift (skipped bit 0: byte >> 1) and one `gf2p8affineqb` (skipped bit 3), then one `vpdpbusd` per plane —
 * where TQ1_0's scaled base 3 (c_i = ⌊3·(byte·3^i mod 256)/256⌋) needed ten VNNI and ten byte adds per
 * 64 bytes on this project's machine, and was compute-bound at ~60 % of one core's memory bandwidth.
 *
 * 243 of the 256 bytes are needed; the planes skip bits 7, 7, 0, 0, 3 (two pairs share an index, so only two
 * index computations a block). Such tables are not unique and have no closed form: they were found by the
 * seeded search `searchBase3Code` (simulated annealing over the table entries, maximizing the number of
 * distinct 5-trit tuples the 256 bytes decode to) and are checked by base3_code_test.ts.
 */
import { mulberry32 } from "../random.ts";

/** The byte bit each plane's trit does not depend on. */
export const BASE3_SKIPPED_BIT = [7, 7, 0, 0, 3] as const;

/** The seed `searchBase3Code` found BASE3_PLANES with. */
export const BASE3_SEARCH_SEED = 1;

/** The seven bits of `byte` other than `skip`, packed in order (bit 7 of the result is 0). */
export function base3Index(byte: number, skip: number): number {
  const low = byte & ((1 << skip) - 1);
  return low | ((byte >> (skip + 1)) << skip);
}

/** Per plane, 128 codes c ∈ {0,1,2} indexed by base3Index(byte, BASE3_SKIPPED_BIT[plane]). */
export const BASE3_PLANES: readonly Uint8Array[] = [
  "10200100122012201212122210121022220200200021201100012001121011012111210102220122121010201100122022010221010121000122220112001211",
  "21102010222010210110011011120122212110121002000212101220012010012201212020102001212010220202100022221000102201121201120212011112",
  "00220200101022010120111111210201212001201000220111120022222110101101201102022220020120011201012112222112221100121001120022220010",
  "20100101022220111220010200000021202112210012220222102221121112012102112211200000221111211212001201001011102002020201100020212011",
  "11112011110100102112002000101222221200021022020121222211020010111200210110200202201221201102010102212012202202110200110121021120",
].map((s) => Uint8Array.from(s, (ch) => Number(ch)));

/** The plane tables as the C kernel takes them: weights w = c − 1 (int8), plane i at 128·i. */
export const BASE3_PLANE_WEIGHTS: Int8Array = Int8Array.from(BASE3_PLANES.flatMap((p) => Array.from(p, (c) => c - 1)));

/** Codes c_0…c_4 of every byte: DECODE[5·byte + i]. */
export const BASE3_DECODE: Uint8Array = decodeTable(BASE3_PLANES);

/** The byte of every tuple t = Σ c_i·3^i (the smallest byte decoding to it). */
export const BASE3_ENCODE: Uint8Array = encodeTable(BASE3_DECODE);

/** The per-byte decode table a set of plane tables defines. */
export function decodeTable(planes: readonly Uint8Array[]): Uint8Array {
  const d = new Uint8Array(256 * 5);
  for (let v = 0; v < 256; v++) {
    for (let i = 0; i < 5; i++) d[5 * v + i] = planes[i][base3Index(v, BASE3_SKIPPED_BIT[i])];
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
  const planes = BASE3_SKIPPED_BIT.map(() => Uint8Array.from({ length: 128 }, () => Math.floor(rand() * 3)));
  // the two bytes sharing each (plane, index) entry
  const bytesOf = BASE3_SKIPPED_BIT.map((skip) => {
    const out: number[][] = Array.from({ length: 128 }, () => []);
    for (let v = 0; v < 256; v++) out[base3Index(v, skip)].push(v);
    return out;
  });
  const tuple = (v: number) => {
    let t = 0;
    for (let i = 4; i >= 0; i--) t = 3 * t + planes[i][base3Index(v, BASE3_SKIPPED_BIT[i])];
    return t;
  };
  const count = new Int32Array(243);
  let covered = 0;
  for (let v = 0; v < 256; v++) if (count[tuple(v)]++ === 0) covered++;
  let temperature = 2;
  for (let step = 0; step < maxSteps && covered < 243; step++) {
    const i = Math.floor(rand() * 5), w = Math.floor(rand() * 128), next = Math.floor(rand() * 3);
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
