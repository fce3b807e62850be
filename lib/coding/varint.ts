/** Unsigned LEB128 varints (7 bits a byte, high bit = more). */
import { InputError } from "../errors.ts";

export function writeVarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** Read a varint at `pos`; returns [value, next position]. */
export function readVarint(bytes: Uint8Array, pos: number, what: string): [number, number] {
  let v = 0, mul = 1;
  for (let i = 0; i < 8; i++) {
    if (pos >= bytes.length) throw new InputError(`${what}: truncated varint at byte offset ${pos}`);
    const b = bytes[pos++];
    v += (b & 0x7f) * mul;
    if (b < 0x80) return [v, pos];
    mul *= 0x80;
  }
  throw new InputError(`${what}: varint too long at byte offset ${pos}`);
}
