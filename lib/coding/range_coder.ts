/**
 * A byte-oriented range coder with exact integer arithmetic and carry
 * propagation (the LZMA scheme — a pending "cache" byte and a run of 0xFF
 * bytes that a carry may still bump — widened to a 48-bit range so that
 * every value stays an exact integer below 2^53 in a JS number and in C's
 * uint64_t alike).
 *
 * Encoding a symbol with cumulative frequency `cum`, frequency `freq`, total
 * `tot` (tot ≤ 2^16): r = ⌊range / tot⌋, low += r·cum, range = r·freq, then
 * renormalise (emit a byte) while range < 2^40. The truncation in r wastes at
 * most tot/range < 2^-24 of the interval per symbol: ≈ 1e-7 bit, far below the
 * 0.1% budget (a 32-bit range would waste up to 2^-8).
 */
import { InputError } from "../errors.ts";

const TOP = 2 ** 40; // renormalise below this
const SPAN = 2 ** 48; // range < SPAN; low < 2·SPAN (bit 48 = carry)
const HIGH_BYTE = 0xff * TOP; // low ≥ this (without carry) may still receive a carry
export const MAX_TOTAL = 1 << 16;

export class RangeEncoder {
  private low = 0;
  private range = SPAN - 1;
  private cache = 0;
  private cacheSize = 1;
  private buf: Uint8Array;
  private n = 0;

  constructor(capacityHint = 1024) {
    this.buf = new Uint8Array(Math.max(16, capacityHint));
  }

  private put(b: number): void {
    if (this.n === this.buf.length) {
      const nb = new Uint8Array(this.buf.length * 2);
      nb.set(this.buf);
      this.buf = nb;
    }
    this.buf[this.n++] = b;
  }

  private shiftLow(): void {
    if (this.low < HIGH_BYTE || this.low >= SPAN) {
      const carry = this.low >= SPAN ? 1 : 0;
      let temp = this.cache;
      do {
        this.put((temp + carry) & 0xff);
        temp = 0xff;
      } while (--this.cacheSize !== 0);
      this.cache = Math.floor(this.low / TOP) % 256; // bits 40..47 of low
    }
    this.cacheSize++;
    this.low = (this.low % TOP) * 256; // (low mod 2^40) << 8
  }

  encode(cum: number, freq: number, tot: number): void {
    const r = Math.floor(this.range / tot);
    this.low += r * cum;
    this.range = r * freq;
    while (this.range < TOP) {
      this.range *= 256;
      this.shiftLow();
    }
  }

  /** Flush the state and return the coded bytes. */
  finish(): Uint8Array {
    for (let i = 0; i < 7; i++) this.shiftLow();
    return this.buf.slice(0, this.n);
  }
}

export class RangeDecoder {
  private code = 0;
  private range = SPAN - 1;
  private pos: number;
  private overrun = 0;
  private r = 0;

  constructor(private readonly bytes: Uint8Array, start = 0, private readonly what = "stream") {
    this.pos = start;
    if (bytes.length - start < 7) {
      throw new InputError(`${what}: coded stream of ${bytes.length - start} bytes is shorter than the 7-byte minimum`);
    }
    if (bytes[start] !== 0) {
      throw new InputError(`${what}: corrupt coded stream (first byte ${bytes[start]} at offset ${start}, expected 0)`);
    }
    this.pos++;
    for (let i = 0; i < 6; i++) this.code = this.code * 256 + this.bytes[this.pos++];
  }

  private next(): number {
    if (this.pos < this.bytes.length) return this.bytes[this.pos++];
    // A valid stream never reads past its end (finish() flushes the whole state).
    if (++this.overrun > 6) {
      throw new InputError(`${this.what}: coded stream truncated at byte offset ${this.bytes.length}`);
    }
    return 0;
  }

  /** The target value in [0, tot) that identifies the next symbol. */
  decodeFreq(tot: number): number {
    this.r = Math.floor(this.range / tot);
    const v = Math.floor(this.code / this.r);
    return v < tot ? v : tot - 1; // only a corrupt stream lands past tot
  }

  /** Consume the symbol whose interval is [cum, cum + freq). */
  consume(cum: number, freq: number): void {
    this.code -= this.r * cum;
    this.range = this.r * freq;
    if (this.code < 0 || this.code >= this.range) {
      throw new InputError(`${this.what}: corrupt coded stream near byte offset ${this.pos}`);
    }
    while (this.range < TOP) {
      this.code = (this.code % TOP) * 256 + this.next();
      this.range *= 256;
    }
  }

  /** Bytes consumed so far (offset just past what was read). */
  get offset(): number {
    return this.pos;
  }
}
