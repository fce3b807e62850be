/**
 * Static order-0 model, two passes: symbol counts are scaled to frequencies
 * summing to exactly 2^16 (every present symbol ≥ 1), stored as varints in
 * front of the range-coded payload.
 */
import { InputError } from "../errors.ts";
import { MAX_TOTAL, RangeDecoder, RangeEncoder } from "./range_coder.ts";
import type { Coder } from "./types.ts";
import { readVarint, writeVarint } from "./varint.ts";
import { native, type NativeLib } from "../kernels/native.ts";

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

/** Frequency table header (varints) + frequencies and cumulative table. */
export function tableFor(symbols: Uint8Array, levels: number): { head: number[]; freq: Uint32Array; cum: Uint32Array } {
  const counts = new Float64Array(levels);
  for (let i = 0; i < symbols.length; i++) counts[symbols[i]]++;
  const freq = scaleFrequencies(counts);
  const cum = new Uint32Array(levels + 1);
  for (let s = 0; s < levels; s++) cum[s + 1] = cum[s] + freq[s];
  const head: number[] = [];
  for (let s = 0; s < levels; s++) writeVarint(head, freq[s]);
  return { head, freq, cum };
}

export function readTable(
  bytes: Uint8Array,
  levels: number,
  what: string,
): { freq: Uint32Array; pos: number; sum: number } {
  const freq = new Uint32Array(levels);
  let pos = 0, sum = 0;
  for (let s = 0; s < levels; s++) {
    [freq[s], pos] = readVarint(bytes, pos, what);
    sum += freq[s];
  }
  return { freq, pos, sum };
}

export function withHead(head: number[], body: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

/** Range-code symbols with a fixed table (no header): the TypeScript reference. */
export function encodeBodyTs(symbols: Uint8Array, freq: Uint32Array, cum: Uint32Array): Uint8Array {
  const enc = new RangeEncoder(symbols.length / 4 + 64);
  for (let i = 0; i < symbols.length; i++) {
    const s = symbols[i];
    enc.encode(cum[s], freq[s], MAX_TOTAL);
  }
  return enc.finish();
}

/** The same in C (byte-identical). */
export function encodeBodyC(lib: NativeLib, symbols: Uint8Array, freq: Uint32Array, levels: number): Uint8Array {
  let cap = Math.ceil(symbols.length * Math.log2(Math.max(2, levels)) / 8) + 64;
  for (;;) {
    const out = new Uint8Array(cap);
    const n = Number(lib.sb_rc_encode_static(symbols, BigInt(symbols.length), freq, levels, out, BigInt(cap)));
    if (n <= cap) return out.subarray(0, n);
    cap = n;
  }
}

/** The TypeScript reference coder (the C path must match it byte for byte). */
export const staticOrder0Ts: Coder = {
  id: "static_o0",
  accepts: () => true,
  encode(symbols: Uint8Array, levels: number): Uint8Array {
    const { head, freq, cum } = tableFor(symbols, levels);
    return withHead(head, encodeBodyTs(symbols, freq, cum));
  },
  decode(bytes: Uint8Array, count: number, levels: number, _cols: number, what = "stream"): Uint8Array {
    const { freq, pos, sum } = readTable(bytes, levels, what);
    const out = new Uint8Array(count);
    if (count === 0) return out;
    if (sum !== MAX_TOTAL) throw new InputError(`${what}: corrupt frequency table (sums to ${sum}, not ${MAX_TOTAL})`);
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

/** A coder that can also decode into a caller's buffer (no allocation, as a loader filling a tensor does). */
export interface IntoCoder extends Coder {
  decodeInto(bytes: Uint8Array, out: Uint8Array, levels: number, what?: string): Uint8Array;
}

/** The C fast path (kernels/c/range_coder.c) through FFI; null when the library is not built. */
export function staticOrder0C(lib: NativeLib): IntoCoder {
  const decodeInto = (bytes: Uint8Array, out: Uint8Array, levels: number, what = "stream"): Uint8Array => {
    const { freq, pos, sum } = readTable(bytes, levels, what);
    if (out.length === 0) return out;
    if (sum !== MAX_TOTAL) throw new InputError(`${what}: corrupt frequency table (sums to ${sum}, not ${MAX_TOTAL})`);
    const where = new BigInt64Array(1);
    const body = bytes.subarray(pos);
    const rc = lib.sb_rc_decode_static(body, BigInt(body.length), BigInt(out.length), freq, levels, out, where);
    const at = pos + Number(where[0]);
    if (rc === -1) throw new InputError(`${what}: coded stream truncated at byte offset ${at}`);
    if (rc !== 0) throw new InputError(`${what}: corrupt coded stream near byte offset ${at}`);
    return out;
  };
  return {
    id: "static_o0",
    accepts: () => true,
    encode(symbols: Uint8Array, levels: number): Uint8Array {
      const { head, freq } = tableFor(symbols, levels);
      return withHead(head, encodeBodyC(lib, symbols, freq, levels));
    },
    decode: (bytes, count, levels, _cols, what) => decodeInto(bytes, new Uint8Array(count), levels, what),
    decodeInto,
  };
}

/** A registered coder that uses its C path when the kernels are built (chosen on first use), else the TS reference. */
export function nativeOrReference(reference: Coder, makeC: (lib: NativeLib) => Coder): Coder {
  let chosen: Coder | undefined;
  const impl = () => (chosen ??= ((lib) => lib ? makeC(lib) : reference)(native()));
  return {
    id: reference.id,
    accepts: reference.accepts,
    encode: (symbols, levels, cols) => impl().encode(symbols, levels, cols),
    decode: (bytes, count, levels, cols, what) => impl().decode(bytes, count, levels, cols, what),
  };
}

/** The registered static order-0 coder: C when the kernels are built, else the TS reference. */
export const staticOrder0: Coder = nativeOrReference(staticOrder0Ts, staticOrder0C);
