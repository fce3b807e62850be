/**
 * uint_b against its references on random and adversarial inputs: the format's Ŵ equals the quantizer's
 * dequantize() (so the kernel computes that row's Ŵ), and the C kernel on every CPU path equals the TypeScript
 * reference (Ŵ times the int8 activations, f64).
 */
import { strict as assert } from "node:assert";
import fc from "../../tests/fixtures/fc.ts";
import { seededGaussian } from "../random.ts";
import { quantizeWeight } from "../quant/transforms.ts";
import type { GroupSize, QuantConfig } from "../quant/types.ts";
import { ensureNative } from "./native.ts";
import { cUintBGemv, prepareUintB, tsUintBGemv, uintBUnsupported } from "./uint_b.ts";

const lib = await ensureNative();
const METHODS = ["rtn_asym", "hqq", "rtn_sym"] as const;
const GROUPS: GroupSize[] = [32, 64, 128, 256, "row", "tensor"];

function quantized(
  method: QuantConfig["method"],
  bits: number,
  group: GroupSize,
  rows: number,
  cols: number,
  seed: number,
  extreme: boolean,
) {
  const data = seededGaussian(rows * cols, seed, 0.05);
  if (extreme) { for (let i = 0; i < data.length; i += 5) data[i] *= 50; }
  const c: QuantConfig = { method, bits, groupSize: group, scaleDtype: "f16" };
  return { q: quantizeWeight({ name: "w", rows, cols, data }, c), c };
}

Deno.test("uint_b: the format's Ŵ is the quantizer's dequantize() (every method, bits, group, ragged shapes)", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...METHODS),
      fc.constantFrom(2, 3, 4, 8),
      fc.constantFrom(...GROUPS),
      fc.integer({ min: 1, max: 9 }),
      fc.integer({ min: 1, max: 300 }),
      fc.integer(),
      fc.boolean(),
      (method, bits, group, rows, cols, seed, extreme) => {
        const { q } = quantized(method, bits, group, rows, cols, seed, extreme);
        assert.equal(uintBUnsupported(q, bits, group), null);
        const p = prepareUintB(q, rows, cols, bits, group);
        const ref = q.dequantize();
        const scale = Math.max(1e-30, ...Array.from(ref, Math.abs));
        for (let i = 0; i < ref.length; i++) {
          assert.ok(Math.abs(p.dequantized[i] - ref[i]) <= 1e-6 * scale, `${method} b${bits} g${group} @${i}`);
        }
        assert.equal(p.cp % 64, 0);
        // a row: the payload and 64 bytes of (s, c) per eight groups, padded to 64 bytes
        const payload = (p.cp * bits) / 8, metaBytes = 64 * Math.ceil(p.cp / p.group / 8);
        assert.equal(p.rowBytes, Math.ceil((payload + metaBytes) / 64) * 64);
        assert.equal(p.bytes, rows * p.rowBytes);
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("klevel5: sparse_klevel's 5 levels in uint_b's 3-bit layout are its dequantize(), and the C kernel agrees", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(0.5, 0.8, 0.9),
      fc.constantFrom<GroupSize>(32, 64, 128, "row"),
      fc.integer({ min: 1, max: 9 }),
      fc.integer({ min: 1, max: 300 }),
      fc.integer(),
      (sparsity, group, rows, cols, seed) => {
        const data = seededGaussian(rows * cols, seed, 0.05);
        const c: QuantConfig = { method: "sparse_klevel", levels: 5, sparsity, groupSize: group, scaleDtype: "f16" };
        const q = quantizeWeight({ name: "w", rows, cols, data }, c);
        assert.equal(uintBUnsupported(q, 3, group), null);
        const p = lib ? cUintBGemv(lib).prepare(q, rows, cols, 3, group) : prepareUintB(q, rows, cols, 3, group);
        const ref = q.dequantize(), scale = Math.max(1e-30, ...Array.from(ref, Math.abs));
        for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(p.dequantized[i] - ref[i]) <= 1e-6 * scale, `@${i}`);
        if (!lib) return;
        const x = seededGaussian(cols, seed + 1, 1), y1 = new Float32Array(rows), y2 = new Float32Array(rows);
        tsUintBGemv(p, x, y1, 1);
        cUintBGemv(lib).run(p, x, y2, 1, 1);
        const ys = Math.max(1e-6, ...Array.from(y1, Math.abs));
        for (let i = 0; i < rows; i++) {
          assert.ok(Math.abs(y1[i] - y2[i]) <= 2e-5 * ys, `row ${i}: ${y2[i]} vs ${y1[i]}`);
        }
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("uint_b: configs without a kernel say why (1 or 6 bits, groups of 48, stored rotations)", () => {
  const { q } = quantized("rtn_asym", 4, 64, 4, 64, 1, false);
  assert.match(uintBUnsupported(q, 6, 64)!, /6 bits/);
  assert.match(uintBUnsupported(q, 1, 64)!, /1 bits/);
  assert.match(uintBUnsupported(q, 4, 48)!, /groups of 48/);
  const rotated = quantizeWeight({ name: "w", rows: 4, cols: 64, data: seededGaussian(256, 2, 0.05) }, {
    method: "rtn_asym",
    bits: 4,
    groupSize: 64,
    scaleDtype: "f16",
    transforms: ["had"],
  });
  assert.match(uintBUnsupported(rotated, 4, 64)!, /stored transform/);
});

Deno.test({
  name: "uint_b: C kernel equals the TS reference on every CPU path, batches 1–16, threads, ragged and extreme",
  ignore: !lib,
  fn() {
    const c = cUintBGemv(lib!);
    const top = lib!.sb_gemv_level(-1);
    try {
      fc.assert(
        fc.property(
          fc.constantFrom(...METHODS),
          fc.constantFrom(2, 3, 4, 8),
          fc.constantFrom(...GROUPS),
          fc.integer({ min: 1, max: 24 }),
          fc.integer({ min: 1, max: 600 }),
          fc.integer({ min: 1, max: 16 }),
          fc.integer({ min: 0, max: top }),
          fc.integer({ min: 1, max: 2 }),
          fc.integer(),
          fc.boolean(),
          (method, bits, group, rows, cols, batch, level, threads, seed, extreme) => {
            const { q } = quantized(method, bits, group, rows, cols, seed, extreme);
            const p = c.prepare(q, rows, cols, bits, group);
            const x = seededGaussian(batch * cols, seed + 1, 1);
            if (extreme) x[0] = 1000;
            const y1 = new Float32Array(batch * rows), y2 = new Float32Array(batch * rows);
            tsUintBGemv(p, x, y1, batch);
            lib!.sb_gemv_level(level);
            c.run(p, x, y2, batch, threads);
            const scale = Math.max(1e-6, ...Array.from(y1, Math.abs));
            for (let i = 0; i < y1.length; i++) {
              assert.ok(
                Math.abs(y1[i] - y2[i]) <= 2e-5 * scale,
                `${method} b${bits} g${group} ${rows}x${cols} B${batch} L${level} @${i}: ${y2[i]} vs ${y1[i]}`,
              );
            }
          },
        ),
        { numRuns: 200 },
      );
    } finally {
      lib!.sb_gemv_level(top);
    }
  },
});
