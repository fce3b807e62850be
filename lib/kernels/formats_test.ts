import { strict as assert } from "node:assert";
import { kernelCodes } from "../sweep/kernel_codes.ts";
import type { WeightMatrix } from "../quant/types.ts";

/** sparse_ternary's codes of w at a sparsity. */
const sparse = (w: WeightMatrix, s: number) => kernelCodes("sparse_ternary", w, s);
import { InputError } from "../errors.ts";
import { seededGaussian } from "../random.ts";
import {
  INT8_PANEL_GROUPS,
  int8Offsets,
  int8Planes,
  int8RowBytes,
  MAX_BATCH,
  prepareWeights,
  SPARSE_BLOCK,
  SPARSE_COLUMNS_BELOW,
  sparseColumnsBelow,
  sparseLayoutFor,
  TERNARY2_PANEL_BLOCKS,
  ternary2Offset,
  ternary2Rows,
} from "./formats.ts";

/** Symbols (0, 1, 2 = −1, 0, +1) with `nonzeros` non-zeros spread over rows × cols. */
function symbols(rows: number, cols: number, nonzeros: number): Uint8Array {
  const sym = new Uint8Array(rows * cols).fill(1);
  for (let i = 0; i < nonzeros; i++) sym[Math.floor((i * rows * cols) / nonzeros)] = i % 2 ? 0 : 2;
  return sym;
}

Deno.test("sparseLayoutFor: columns below SPARSE_COLUMNS_BELOW non-zeros a block on average, else blocks", () => {
  const rows = 8, cols = 1000, blocks = rows * Math.ceil(cols / SPARSE_BLOCK);
  const limit = SPARSE_COLUMNS_BELOW * blocks;
  assert.equal(sparseLayoutFor(symbols(rows, cols, 0), rows, cols), "columns");
  assert.equal(sparseLayoutFor(symbols(rows, cols, limit - 1), rows, cols), "columns");
  assert.equal(sparseLayoutFor(symbols(rows, cols, limit), rows, cols), "blocks");
  assert.equal(sparseLayoutFor(symbols(1, 70000, 1), 1, 70000), "blocks"); // uint16 column numbers
});

Deno.test("sparseLayoutFor: the columns threshold rises with the tokens per call, by fours", () => {
  assert.equal(sparseColumnsBelow(1), SPARSE_COLUMNS_BELOW);
  for (let batch = 2; batch < MAX_BATCH; batch++) {
    assert.ok(sparseColumnsBelow(batch) > SPARSE_COLUMNS_BELOW);
    assert.ok(sparseColumnsBelow(batch + 1) >= sparseColumnsBelow(batch), `monotone at ${batch}`);
  }
  assert.equal(sparseColumnsBelow(2), sparseColumnsBelow(4)); // the blocks layout pads tokens to fours
  const rows = 8, cols = 1000, blocks = rows * Math.ceil(cols / SPARSE_BLOCK);
  const limit8 = sparseColumnsBelow(8) * blocks, between = symbols(rows, cols, 10 * blocks);
  assert.ok(SPARSE_COLUMNS_BELOW * blocks < 10 * blocks && 10 * blocks < limit8);
  assert.equal(sparseLayoutFor(between, rows, cols), "blocks");
  assert.equal(sparseLayoutFor(between, rows, cols, 8), "columns");
  assert.equal(sparseLayoutFor(symbols(rows, cols, limit8), rows, cols, 8), "blocks");
  assert.equal(sparseLayoutFor(symbols(rows, cols, limit8 - 1), rows, cols, 8), "columns");
});

Deno.test("prepareWeights: the layout follows options.batch; a batch outside 1..MAX_BATCH is refused", () => {
  const rows = 16, cols = 512, w = { name: "w", rows, cols, data: seededGaussian(rows * cols, 5, 1) };
  assert.equal(prepareWeights("sparse_ternary", sparse(w, 0.93)).layout, "blocks"); // ≈ 9 non-zeros a block
  assert.equal(prepareWeights("sparse_ternary", sparse(w, 0.93), { batch: 8 }).layout, "columns");
  for (const batch of [0, 17, 2.5, NaN]) {
    assert.throws(() => prepareWeights("sparse_ternary", sparse(w, 0.93), { batch }), InputError, `batch ${batch}`);
  }
});

Deno.test("sparse_ternary columns layout: each row's +1 then −1 columns, as the dequantized weights have them", () => {
  const rows = 5, cols = 300, data = seededGaussian(rows * cols, 3, 1);
  const p = prepareWeights("sparse_ternary", sparse({ name: "w", rows, cols, data }, 0.97));
  assert.equal(p.layout, "columns");
  if (p.layout !== "columns") return;
  for (let r = 0; r < rows; r++) {
    const plus: number[] = [], minus: number[] = [];
    for (let k = 0; k < cols; k++) {
      const v = p.dequantized[r * cols + k];
      if (v > 0) plus.push(k);
      else if (v < 0) minus.push(k);
    }
    const list: number[] = Array.from(p.columns.subarray(p.rowOff[r], p.rowOff[r + 1]));
    assert.deepEqual(list, [...plus, ...minus], `row ${r}`);
    assert.equal(p.rowPlus[r], plus.length);
    assert.equal(p.wsum[r], plus.length - minus.length);
  }
  assert.equal(p.columns.length, p.rowOff[rows] + 32);
});

Deno.test("sparse_ternary: the columns layout refused past 65536 columns", () => {
  const w = { name: "wide", rows: 1, cols: 65537, data: new Float32Array(65537) };
  assert.throws(() => prepareWeights("sparse_ternary", sparse(w, 0.99), { sparseLayout: "columns" }), InputError);
  assert.equal(prepareWeights("sparse_ternary", sparse(w, 0.99)).layout, "blocks");
});

Deno.test("int8 superblocks: every group's codes and scale where the offsets say (ragged widths, partial last block)", () => {
  for (const cols of [1, 64, 100, 1024, 1088, 2500, 4160, 9000]) {
    const rows = 3, w = { name: "w", rows, cols, data: seededGaussian(rows * cols, cols, 1) };
    const codes = kernelCodes("int8", w), p = prepareWeights("int8", codes);
    if (codes.kind !== "quant") throw new Error("int8 codes are a quantizer's");
    const groups = p.cp / 64, { q, scale } = int8Planes(p), unit = codes.q.reconstruction;
    assert.equal(p.rowBytes, 64 * groups + 64 * Math.ceil(groups / 16));
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < p.cp; k++) {
        assert.equal(q[r * p.cp + k], k < cols ? codes.q.symbols[r * cols + k] - 127 : 0, `r${r} k${k}`);
      }
      for (let g = 0; g < groups; g++) {
        const expected: number = unit.kind === "scaled"
          ? Math.fround(codes.q.meta.scales[r * groups + g] * unit.unit)
          : NaN;
        assert.equal(scale[r * groups + g], expected, `r${r} g${g}`);
      }
    }
  }
});

Deno.test("int8 panels: int8Offsets places each group as a plain walk of the layout does (4096-column panels)", () => {
  for (const [rows, cols] of [[3, 64], [2, 4096], [3, 4160], [2, 9000], [1, 8192 + 1024 + 64]]) {
    const cp = Math.ceil(cols / 64) * 64, groups = cp / 64;
    // the layout written out: panel by panel, row by row, superblock by superblock (scale line, then codes)
    const codes = new Map<string, number>(), scales = new Map<string, number>();
    let at = 0;
    for (let g0 = 0; g0 < groups; g0 += INT8_PANEL_GROUPS) {
      const g1 = Math.min(groups, g0 + INT8_PANEL_GROUPS);
      for (let r = 0; r < rows; r++) {
        for (let s = g0; s < g1; s += 16) {
          const line = at;
          at += 64;
          for (let g = s; g < Math.min(g1, s + 16); g++) {
            scales.set(`${r}/${g}`, line + 4 * (g - s));
            codes.set(`${r}/${g}`, at);
            at += 64;
          }
        }
      }
    }
    assert.equal(at, rows * int8RowBytes(groups), `${rows}x${cols}: bytes`);
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < groups; g++) {
        const o = int8Offsets(rows, cp, r, g);
        assert.equal(o.codes, codes.get(`${r}/${g}`), `${rows}x${cols} r${r} g${g} codes`);
        assert.equal(o.scale, scales.get(`${r}/${g}`), `${rows}x${cols} r${r} g${g} scale`);
      }
    }
  }
});

Deno.test("ternary2 panels: ternary2Offset places each block as a plain walk of the layout does", () => {
  for (const [rows, cols] of [[3, 256], [2, 4096], [3, 4352], [2, 11008], [1, 8192 + 512]]) {
    const cp = Math.ceil(cols / 256) * 256, blocks = cp / 256, expected = new Map<string, number>();
    let at = 0;
    for (let b0 = 0; b0 < blocks; b0 += TERNARY2_PANEL_BLOCKS) {
      for (let r = 0; r < rows; r++) {
        for (let b = b0; b < Math.min(blocks, b0 + TERNARY2_PANEL_BLOCKS); b++, at += 64) expected.set(`${r}/${b}`, at);
      }
    }
    assert.equal(at, (rows * cp) / 4, `${rows}x${cols}: bytes`);
    for (let r = 0; r < rows; r++) {
      for (let b = 0; b < blocks; b++) {
        assert.equal(ternary2Offset(rows, cp, r, b), expected.get(`${r}/${b}`), `${rows}x${cols} r${r} b${b}`);
      }
    }
  }
});

Deno.test("ternary2: ternary2Rows holds every weight's code w + 1 where the row-major block layout puts it", () => {
  for (const cols of [5, 256, 4100, 9000]) {
    const rows = 3, w = { name: "w", rows, cols, data: seededGaussian(rows * cols, cols, 1) };
    const p = prepareWeights("ternary2", kernelCodes("ternary2", w)), byRow = ternary2Rows(p);
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < p.cp; k++) {
        const byte = byRow[(r * p.cp) / 4 + Math.floor(k / 256) * 64 + (k % 64)];
        const code = (byte >> (2 * Math.floor((k % 256) / 64))) & 3;
        const want = k < cols ? Math.sign(p.dequantized[r * cols + k]) + 1 : 1; // padding: weight 0
        assert.equal(code, want, `${cols} cols: r${r} k${k}`);
      }
    }
  }
});
