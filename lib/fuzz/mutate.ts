/**
 * Seeded, structure-aware mutations of valid files: each seed comes with the
 * byte ranges of its structural fields (lengths, counts, offsets, dtypes,
 * CRCs, shape dims, JSON numbers), and most mutations hit those with values
 * that break parsers — 0, 1, −1, 2³¹, 2³², 2⁴⁰, 2⁶³, off-by-one — while the rest flip
 * bits, truncate, extend, splice or duplicate anywhere.
 */

export interface Seed {
  bytes: Uint8Array;
  /** [offset, width in bytes] of fields worth hitting; width 8/4/2/1 little-endian integers, 0 = ASCII digits. */
  fields: [number, number][];
}

const INTERESTING = [
  0n,
  1n,
  2n,
  0x7fn,
  0x80n,
  0xffn,
  0x7fffn,
  0xffffn,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  1n << 40n,
  (1n << 53n) + 1n,
  (1n << 63n) - 1n,
  1n << 63n,
  (1n << 64n) - 1n,
];

/** One mutated copy of a seed. */
export function mutate(seed: Seed, rand: () => number): Uint8Array {
  let b: Uint8Array = new Uint8Array(seed.bytes);
  const ops = 1 + Math.floor(rand() * 3);
  for (let k = 0; k < ops; k++) {
    const pick = rand();
    if (pick < 0.45 && seed.fields.length) b = hitField(b, seed.fields[Math.floor(rand() * seed.fields.length)], rand);
    else if (pick < 0.6) b = b.subarray(0, Math.floor(rand() * b.length)); // truncate
    else if (pick < 0.75) { // flip bits
      for (let i = 0, n = 1 + Math.floor(rand() * 8); i < n && b.length; i++) {
        b[Math.floor(rand() * b.length)] ^= 1 << Math.floor(rand() * 8);
      }
    } else if (pick < 0.85) { // append junk
      const extra = Uint8Array.from({ length: 1 + Math.floor(rand() * 64) }, () => Math.floor(rand() * 256));
      const c = new Uint8Array(b.length + extra.length);
      c.set(b);
      c.set(extra, b.length);
      b = c;
    } else if (b.length > 2) { // duplicate or move a chunk
      const from = Math.floor(rand() * b.length), len = Math.min(b.length - from, 1 + Math.floor(rand() * 32));
      const to = Math.floor(rand() * b.length);
      const chunk = b.slice(from, from + len);
      if (rand() < 0.5) b.set(chunk.subarray(0, Math.min(chunk.length, b.length - to)), to);
      else {
        const c = new Uint8Array(b.length + len);
        c.set(b.subarray(0, to));
        c.set(chunk, to);
        c.set(b.subarray(to), to + len);
        b = c;
      }
    }
  }
  return b;
}

function hitField(b: Uint8Array, [at, width]: [number, number], rand: () => number): Uint8Array {
  if (at >= b.length) return b;
  if (width === 0) { // ASCII digits in JSON text: another number of the same length, or a longer/negative one
    let end = at;
    while (end < b.length && b[end] >= 0x30 && b[end] <= 0x39) end++;
    const choices = ["0", "1", "-1", "4294967296", "18446744073709551615", "1e308", String(end - at)];
    const text = new TextEncoder().encode(choices[Math.floor(rand() * choices.length)]);
    const c = new Uint8Array(b.length - (end - at) + text.length);
    c.set(b.subarray(0, at));
    c.set(text, at);
    c.set(b.subarray(end), at + text.length);
    return c;
  }
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const old = width === 8 && at + 8 <= b.length
    ? dv.getBigUint64(at, true)
    : width === 4 && at + 4 <= b.length
    ? BigInt(dv.getUint32(at, true))
    : BigInt(b[at]);
  const r = rand();
  const v = r < 0.6 ? INTERESTING[Math.floor(rand() * INTERESTING.length)] : r < 0.8 ? old + 1n : old - 1n;
  const mask = (1n << BigInt(8 * width)) - 1n;
  const val = ((v % (mask + 1n)) + (mask + 1n)) & mask;
  for (let i = 0; i < width && at + i < b.length; i++) b[at + i] = Number((val >> BigInt(8 * i)) & 0xffn);
  return b;
}
