/** Coder registry and best-model selection. */
import { InputError } from "../errors.ts";
import { above2, above2Fast, aboveContext, adaptiveOrder0, order1Row } from "./adaptive.ts";
import { staticOrder0 } from "./static_order0.ts";
import { staticOrder0x2 } from "./static_order0_x2.ts";
import type { Coder } from "./types.ts";

export const CODERS: ReadonlyMap<string, Coder> = new Map<string, Coder>(
  [staticOrder0, adaptiveOrder0, order1Row, aboveContext, above2, above2Fast, staticOrder0x2].map((c) => [c.id, c]),
);

/**
 * The models tried by default when looking for the smallest stream. static_o0_x2 is left
 * out: it is static_o0 plus ~8 bytes, chosen for decode speed, never for size.
 */
export const DEFAULT_CODERS: readonly string[] = [...CODERS.keys()].filter((id) => id !== "static_o0_x2");

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
  ids: readonly string[] = DEFAULT_CODERS,
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
