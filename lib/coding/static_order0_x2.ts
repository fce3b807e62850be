/**
 * Static order-0, two interleaved streams (model id `static_o0_x2`): the same
 * frequency table as static_o0, the first ⌈n/2⌉ symbols range-coded as stream
 * A and the rest as stream B. Layout: varint frequencies, varint |A|, A, B.
 * The cost is one more stream flush (7 bytes) and a varint; the gain is decode
 * speed: a range decoder is one long dependency chain per symbol (divide,
 * lookup, update), and the C decoder alternates between two independent ones.
 */
import { InputError } from "../errors.ts";
import type { NativeLib } from "../kernels/native.ts";
import { MAX_TOTAL, RangeDecoder } from "./range_coder.ts";
import { encodeBodyC, encodeBodyTs, type IntoCoder, nativeOrReference, readTable, tableFor } from "./static_order0.ts";
import type { Coder } from "./types.ts";
import { readVarint, writeVarint } from "./varint.ts";

const ID = "static_o0_x2";

function assemble(head: number[], a: Uint8Array, b: Uint8Array): Uint8Array {
  writeVarint(head, a.length);
  const out = new Uint8Array(head.length + a.length + b.length);
  out.set(head);
  out.set(a, head.length);
  out.set(b, head.length + a.length);
  return out;
}

interface Parsed {
  freq: Uint32Array;
  a: Uint8Array;
  b: Uint8Array;
  /** Offset of A in the whole stream. */
  start: number;
}

function parse(bytes: Uint8Array, levels: number, what: string): Parsed {
  const { freq, pos, sum } = readTable(bytes, levels, what);
  if (sum !== MAX_TOTAL) throw new InputError(`${what}: corrupt frequency table (sums to ${sum}, not ${MAX_TOTAL})`);
  const [lenA, start] = readVarint(bytes, pos, what);
  if (start + lenA > bytes.length) {
    throw new InputError(`${what}: stream A of ${lenA} bytes at offset ${start} runs past the end (${bytes.length})`);
  }
  return { freq, a: bytes.subarray(start, start + lenA), b: bytes.subarray(start + lenA), start };
}

const half = (n: number) => Math.ceil(n / 2);

/** The TypeScript reference (the C path must match it byte for byte). */
export const staticOrder0x2Ts: Coder = {
  id: ID,
  accepts: () => true,
  encode(symbols, levels) {
    const { head, freq, cum } = tableFor(symbols, levels);
    const h = half(symbols.length);
    return assemble(
      head,
      encodeBodyTs(symbols.subarray(0, h), freq, cum),
      encodeBodyTs(symbols.subarray(h), freq, cum),
    );
  },
  decode(bytes, count, levels, _cols, what = "stream") {
    const out = new Uint8Array(count);
    if (count === 0) return out;
    const { freq, a, b, start } = parse(bytes, levels, what);
    const cum = new Uint32Array(levels + 1);
    for (let s = 0; s < levels; s++) cum[s + 1] = cum[s] + freq[s];
    const symOf = new Uint8Array(MAX_TOTAL);
    for (let s = 0; s < levels; s++) symOf.fill(s, cum[s], cum[s + 1]);
    const h = half(count);
    for (const [part, from, to, at] of [[a, 0, h, start], [b, h, count, start + a.length]] as const) {
      const dec = new RangeDecoder(part, 0, `${what} (stream at offset ${at})`);
      for (let i = from; i < to; i++) {
        const s = symOf[dec.decodeFreq(MAX_TOTAL)];
        dec.consume(cum[s], freq[s]);
        out[i] = s;
      }
    }
    return out;
  },
};

/** The C fast path: encode as two static_o0 bodies, decode interleaved (kernels/c/range_coder.c). */
export function staticOrder0x2C(lib: NativeLib): IntoCoder {
  const decodeInto = (bytes: Uint8Array, out: Uint8Array, levels: number, what = "stream"): Uint8Array => {
    if (out.length === 0) return out;
    const { freq, a, b, start } = parse(bytes, levels, what);
    const where = new BigInt64Array(1);
    const n = BigInt(out.length);
    const rc = lib.sb_rc_decode_static_x2(a, BigInt(a.length), b, BigInt(b.length), n, freq, levels, out, where);
    const at = start + Number(where[0]);
    if (rc === -1) throw new InputError(`${what}: coded stream truncated at byte offset ${at}`);
    if (rc !== 0) throw new InputError(`${what}: corrupt coded stream near byte offset ${at}`);
    return out;
  };
  return {
    id: ID,
    accepts: () => true,
    encode(symbols, levels) {
      const { head, freq } = tableFor(symbols, levels);
      const h = half(symbols.length);
      const a = encodeBodyC(lib, symbols.subarray(0, h), freq, levels);
      return assemble(head, a, encodeBodyC(lib, symbols.subarray(h), freq, levels));
    },
    decode: (bytes, count, levels, _cols, what) => decodeInto(bytes, new Uint8Array(count), levels, what),
    decodeInto,
  };
}

/** The registered coder: C when the kernels are built, else the TS reference. */
export const staticOrder0x2: Coder = nativeOrReference(staticOrder0x2Ts, staticOrder0x2C);
