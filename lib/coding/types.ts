/** The entropy-coder contract (DESIGN.md), extended with the row length that context models need. */
export interface Coder {
  id: string;
  /** Whether the model is worth trying for an alphabet of `levels` (context tables stay small). */
  accepts(levels: number): boolean;
  /** Code `symbols` (each < levels) of a [count / cols, cols] matrix into bytes. */
  encode(symbols: Uint8Array, levels: number, cols: number): Uint8Array;
  /** Decode exactly `count` symbols; throws InputError on a corrupt or truncated stream. */
  decode(bytes: Uint8Array, count: number, levels: number, cols: number, what?: string): Uint8Array;
}
