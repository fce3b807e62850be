/**
 * Static order-0 model, two passes: symbol counts are scaled to frequencies
 * summing to exactly 2^16 (every present symbol ≥ 1), stored as varints in
 * front of the range-coded payload.
 */
import { InputError } from "../errors.ts";
import { MAX_TOTAL, RangeDecoder, RangeEncoder } from "./range_coder.ts";
import type { Coder } from "./types.ts";
import { readVarint, writeVarint } from "./varint.ts";

/** Scale counts to integer frequencies summing to MAX_TOTAL; present symbols keep ≥ 1. */
export function scaleFrequencies(counts: ArrayLike<number>): Uint32Array {
  const k = counts.length;
  let n = 0;
  for (let i = 0; i < k; i++) n += counts[i];
  const f = new Uint32Array(k);
  if (n === 0) return f;
  let sum = 0, biggest = 0;
  for (let i = 0; i < k; i++) {
    if (counts[i] > 0) f[i] = Math.max(1, Math.round((counts[i] * MAX_TOTAL) / n));
    sum += f[i];
    if (counts[i] > counts[biggest]) biggest = i;
  }
  // Fix the sum: add a shortfall to the most frequent symbol, take an excess one unit at a
  // time from the current largest frequency (always > 1 since at most 256 symbols are present).
  let diff = MAX_TOTAL - sum;
  if (diff > 0) f[biggest] += diff;
  while (diff < 0) {
    let j = 0;
    for (let i = 1; i < k; i++) if (f[i] > f[j]) j = i;
    f[j]--;
    diff++;
  }
  return f;
}

export const staticOrder0: Coder = {
  id: "static_o0",
  encode(symbols: Uint8Array, levels: number): Uint8Array {
    const counts = new Float64Array(levels);
    for (let i = 0; i < symbols.length; i++) counts[symbols[i]]++;
    const freq = scaleFrequencies(counts);
    const cum = new Uint32Array(levels + 1);
    for (let s = 0; s < levels; s++) cum[s + 1] = cum[s] + freq[s];
    const head: number[] = [];
    for (let s = 0; s < levels; s++) writeVarint(head, freq[s]);
    const enc = new RangeEncoder(symbols.length / 4 + 64);
    for (let i = 0; i < symbols.length; i++) {
      const s = symbols[i];
      enc.encode(cum[s], freq[s], MAX_TOTAL);
    }
    const body = enc.finish();
    const out = new Uint8Array(head.length + body.length);
    out.set(head);
    out.set(body, head.length);
    return out;
  },
  decode(bytes: Uint8Array, count: number, levels: number, _cols: number, what = "stream"): Uint8Array {
    const freq = new Uint32Array(levels);
    let pos = 0, sum = 0;
    for (let s = 0; s < levels; s++) {
      [freq[s], pos] = readVarint(bytes, pos, what);
      sum += freq[s];
    }
    const out = new Uint8Array(count);
    if (count === 0) return out;
    if (sum !== MAX_TOTAL) throw new InputError(`${what}: corrupt frequency table (sums to ${sum}, not ${MAX_TOTAL})`);
    // symbol lookup by target value: cum table + a 2^16 reverse map
    const cum = new Uint32Array(levels + 1);
    for (let s = 0; s < levels; s++) cum[s + 1] = cum[s] + freq[s];
    const symOf = new Uint8Array(MAX_TOTAL);
    for (let s = 0; s < levels; s++) symOf.fill(s, cum[s], cum[s + 1]);
    const dec = new RangeDecoder(bytes, pos, what);
    for (let i = 0; i < count; i++) {
      const s = symOf[dec.decodeFreq(MAX_TOTAL)];
      dec.consume(cum[s], freq[s]);
      out[i] = s;
    }
    return out;
  },
};
