/**
 * Adaptive models over the same range coder: frequencies start at 1, grow by
 * `increment` per coded symbol and are halved when a context's total passes
 * `limit` (≤ 2^16; a lower limit adapts faster). The context of symbol i (of a
 * row-major [rows, cols] matrix) selects one frequency table:
 *   adaptive_o0  — one table;
 *   order1_row   — the previous symbol in the same row (a start-of-row context first);
 *   above        — the symbol in the same column of the previous row (a first-row context);
 *   above2       — the symbols in the same column of the two previous rows, (k+1)² contexts;
 *   above2_fast  — the same, adapting faster (increment 32, limit 2^13): wins on tensors
 *                  whose rows repeat in runs, like an LM head's rows for unused bytes.
 */
import { InputError } from "../errors.ts";
import { MAX_TOTAL, RangeDecoder, RangeEncoder } from "./range_coder.ts";
import type { Coder } from "./types.ts";

export interface Adaptation {
  increment: number;
  limit: number;
}
/** Largest frequency table (contexts × levels) a model builds. */
export const MAX_TABLE = 1 << 16;
export const SLOW: Adaptation = { increment: 24, limit: MAX_TOTAL };
export const FAST: Adaptation = { increment: 32, limit: 1 << 13 };

type ContextFn = (symbols: Uint8Array, i: number, cols: number, levels: number) => number;

class FreqTables {
  readonly freq: Uint32Array;
  readonly total: Uint32Array;
  constructor(readonly contexts: number, readonly levels: number, readonly rate: Adaptation) {
    this.freq = new Uint32Array(contexts * levels).fill(1);
    this.total = new Uint32Array(contexts).fill(levels);
  }
  update(ctx: number, s: number): void {
    const base = ctx * this.levels;
    this.freq[base + s] += this.rate.increment;
    this.total[ctx] += this.rate.increment;
    if (this.total[ctx] > this.rate.limit) {
      let t = 0;
      for (let j = base; j < base + this.levels; j++) {
        this.freq[j] = (this.freq[j] + 1) >>> 1;
        t += this.freq[j];
      }
      this.total[ctx] = t;
    }
  }
}

function adaptiveCoder(id: string, contexts: (levels: number) => number, ctxOf: ContextFn, rate = SLOW): Coder {
  return {
    id,
    accepts: (levels) => contexts(levels) * levels <= MAX_TABLE,
    encode(symbols: Uint8Array, levels: number, cols: number): Uint8Array {
      if (levels + rate.increment > rate.limit) throw new InputError(`${id}: ${levels} levels is too many`);
      const t = new FreqTables(contexts(levels), levels, rate);
      const enc = new RangeEncoder(symbols.length / 4 + 64);
      for (let i = 0; i < symbols.length; i++) {
        const s = symbols[i], ctx = ctxOf(symbols, i, cols, levels), base = ctx * levels;
        let cum = 0;
        for (let j = base; j < base + s; j++) cum += t.freq[j];
        enc.encode(cum, t.freq[base + s], t.total[ctx]);
        t.update(ctx, s);
      }
      return enc.finish();
    },
    decode(bytes: Uint8Array, count: number, levels: number, cols: number, what = "stream"): Uint8Array {
      const out = new Uint8Array(count);
      if (count === 0) return out;
      const t = new FreqTables(contexts(levels), levels, rate);
      const dec = new RangeDecoder(bytes, 0, what);
      for (let i = 0; i < count; i++) {
        const ctx = ctxOf(out, i, cols, levels), base = ctx * levels;
        const v = dec.decodeFreq(t.total[ctx]);
        let s = 0, cum = 0;
        while (s < levels - 1 && cum + t.freq[base + s] <= v) cum += t.freq[base + s++];
        dec.consume(cum, t.freq[base + s]);
        out[i] = s;
        t.update(ctx, s);
      }
      return out;
    },
  };
}

export const adaptiveOrder0 = adaptiveCoder("adaptive_o0", () => 1, () => 0);

export const order1Row = adaptiveCoder(
  "order1_row",
  (levels) => levels + 1,
  (sym, i, cols, levels) => (i % cols === 0 ? levels : sym[i - 1]),
);

export const aboveContext = adaptiveCoder(
  "above",
  (levels) => levels + 1,
  (sym, i, cols, levels) => (i < cols ? levels : sym[i - cols]),
);

const twoAbove: ContextFn = (sym, i, cols, levels) =>
  (i < cols ? levels : sym[i - cols]) * (levels + 1) + (i < 2 * cols ? levels : sym[i - 2 * cols]);

export const above2 = adaptiveCoder("above2", (levels) => (levels + 1) ** 2, twoAbove);
export const above2Fast = adaptiveCoder("above2_fast", (levels) => (levels + 1) ** 2, twoAbove, FAST);
