/** Coder registry and best-model selection. */
import { InputError } from "../errors.ts";
import { above2, above2Fast, aboveContext, adaptiveOrder0, order1Row } from "./adaptive.ts";
import { staticOrder0 } from "./static_order0.ts";
import type { Coder } from "./types.ts";

export const CODERS: ReadonlyMap<string, Coder> = new Map<string, Coder>(
  [staticOrder0, adaptiveOrder0, order1Row, aboveContext, above2, above2Fast].map((c) => [c.id, c]),
);

export function getCoder(id: string): Coder {
  const c = CODERS.get(id);
  if (!c) throw new InputError(`unknown coder '${id}' (known: ${[...CODERS.keys()].join(", ")})`);
  return c;
}

export interface CodedStream {
  coder: string;
  bytes: Uint8Array;
  /** Coded size of every model tried, in bytes. */
  sizes: Record<string, number>;
}

/** Code with every model in `ids` and keep the smallest stream. */
export function codeBest(
  symbols: Uint8Array,
  levels: number,
  cols: number,
  ids: string[] = [...CODERS.keys()],
): CodedStream {
  let best: CodedStream | null = null;
  const sizes: Record<string, number> = {};
  for (const id of ids) {
    const coder = getCoder(id);
    if (!coder.accepts(levels) && best) continue; // too many contexts for this alphabet
    const bytes = coder.encode(symbols, levels, cols);
    sizes[id] = bytes.length;
    if (!best || bytes.length < best.bytes.length) best = { coder: id, bytes, sizes };
  }
  return best!;
}

export type { Coder } from "./types.ts";
