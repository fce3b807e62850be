import { strict as assert } from "node:assert";
import fc from "../../tests/fixtures/fc.ts";
import { f16BitsToF32 } from "./dtype.ts";
import { blockBytes, decodeBlocks, encodeBlocks, GGML_BLOCK_TYPES, type GgmlBlockTypeName } from "./ggml_blocks.ts";

const NAMES = Object.keys(GGML_BLOCK_TYPES) as GgmlBlockTypeName[];

/** A finite, non-NaN f16 bit pattern. */
const finiteF16 = fc.integer({ min: 0, max: 0xffff }).filter((h) => ((h >> 10) & 0x1f) !== 31);

Deno.test("ggml blocks: encode → decode gives f16(d)·code for every type, random codes and scales", () => {
  for (const name of NAMES) {
    const t = GGML_BLOCK_TYPES[name];
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer(), finiteF16, (nb, seed, h0) => {
        let s = seed >>> 0 || 1;
        const next = () => (s = (s * 1103515245 + 12345) >>> 0);
        const codes = Int8Array.from({ length: nb * t.blockSize }, (_, i) =>
          // adversarial corners first: all min, all max, then random
          i < t.blockSize ? t.minCode : i < 2 * t.blockSize ? t.maxCode : t.minCode +
            (next() % (t.maxCode - t.minCode + 1)));
        const scales = Uint16Array.from({ length: nb }, (_, b) => b === 0 ? h0 : next() & 0x7bff);
        const bytes = encodeBlocks(t, codes, scales);
        assert.equal(bytes.length, blockBytes(t, codes.length));
        const back = decodeBlocks(t, bytes, codes.length);
        for (let i = 0; i < codes.length; i++) {
          assert.equal(back[i], Math.fround(f16BitsToF32(scales[Math.floor(i / t.blockSize)]) * codes[i]));
        }
      }),
      { numRuns: 40 },
    );
  }
});

/** quantize_row_tq1_0_ref's packing loops (ggml-quants.c), transcribed loop for loop, on trits 0..2. */
function tq1ReferencePack(trits: number[]): number[] {
  const out: number[] = [];
  const pack = (vals: number[], extraShift: boolean) => {
    let q = 0;
    for (const v of vals) q = q * 3 + v;
    if (extraShift) q *= 3;
    return Math.floor((q * 256 + 242) / 243) & 0xff;
  };
  let x = 0;
  for (let m = 0; m < 32; m++) out[m] = pack([0, 1, 2, 3, 4].map((n) => trits[x + m + n * 32]), false);
  x += 160;
  for (let m = 0; m < 16; m++) out[32 + m] = pack([0, 1, 2, 3, 4].map((n) => trits[x + m + n * 16]), false);
  x += 80;
  for (let j = 0; j < 4; j++) out[48 + j] = pack([0, 1, 2, 3].map((m) => trits[x + j + m * 4]), true);
  return out;
}

Deno.test("ggml blocks: TQ1_0 bytes match the reference packing loops; TQ2_0/Q4_0 layouts by hand", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 256, maxLength: 256 }), (trits) => {
      const bytes = encodeBlocks(GGML_BLOCK_TYPES.TQ1_0, Int8Array.from(trits, (v) => v - 1), Uint16Array.of(0x3c00));
      assert.deepEqual(Array.from(bytes.subarray(0, 52)), tq1ReferencePack(trits));
      assert.deepEqual(Array.from(bytes.subarray(52)), [0x00, 0x3c]);
    }),
    { numRuns: 200 },
  );
  // TQ2_0: weight 128h + 32l + m sits in qs[32h + m], bits 2l..2l+1, as code + 1; d last.
  const codes = new Int8Array(256);
  codes[130] = 1; // h=1, l=0, m=2 → qs[34] bits 0-1 = 2
  codes[97] = -1; // h=0, l=3, m=1 → qs[1] bits 6-7 = 0
  const tq2 = encodeBlocks(GGML_BLOCK_TYPES.TQ2_0, codes, Uint16Array.of(0x4000));
  assert.equal(tq2.length, 66);
  assert.equal(tq2[34], 0b01010110);
  assert.equal(tq2[1], 0b00010101);
  assert.equal(tq2[0], 0b01010101);
  assert.deepEqual(Array.from(tq2.subarray(64)), [0x00, 0x40]);
  // Q4_0: d first; weight j in the low nibble of qs[j], weight j+16 in the high nibble, as code + 8.
  const q4codes = new Int8Array(32);
  q4codes[0] = -8;
  q4codes[16] = 7;
  q4codes[5] = 3;
  const q4 = encodeBlocks(GGML_BLOCK_TYPES.Q4_0, q4codes, Uint16Array.of(0x3800));
  assert.deepEqual(Array.from(q4.subarray(0, 4)), [0x00, 0x38, 0xf0, 0x88]);
  assert.equal(q4[2 + 5], 0x8b);
});

Deno.test("ggml blocks: codes off the grid and partial blocks are refused", () => {
  assert.throws(() => encodeBlocks(GGML_BLOCK_TYPES.TQ2_0, new Int8Array(256).fill(2), Uint16Array.of(0)), /outside/);
  assert.throws(() => encodeBlocks(GGML_BLOCK_TYPES.Q4_0, new Int8Array(33), Uint16Array.of(0, 0)), /multiple of 32/);
  assert.throws(() => decodeBlocks(GGML_BLOCK_TYPES.TQ1_0, new Uint8Array(54), 255), /multiple of 256/);
});
