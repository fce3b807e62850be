import { strict as assert } from "node:assert";
import { kernelCodes } from "../sweep/kernel_codes.ts";
import fc from "../../tests/fixtures/fc.ts";
import { seededGaussian } from "../random.ts";
import { tsGemv } from "./gemv.ts";
import { WEBGPU_KERNELS, webgpuGemv, WebGpuRunner } from "./webgpu.ts";

// `deno task test` installs Mesa's software Vulkan driver (tasks/ensure_tools.sh), so an adapter must
// exist; SUBBIT_NO_WEBGPU=1 skips these tests on a machine that cannot have one.
const skip = Deno.env.get("SUBBIT_NO_WEBGPU") === "1";
const gpu = skip ? null : await WebGpuRunner.open();
const tinyBindings = skip ? null : await WebGpuRunner.open({ maxBindingBytes: 1024 });

function maxRelError(ref: Float32Array, got: Float32Array): number {
  const scale = Math.max(1e-6, ...Array.from(ref, Math.abs));
  let e = 0;
  for (let i = 0; i < ref.length; i++) e = Math.max(e, Math.abs(ref[i] - got[i]) / scale);
  return e;
}

Deno.test({
  name: "WebGPU: an adapter is found (Mesa llvmpipe on a CPU machine)",
  ignore: skip,
  fn() {
    assert.ok(gpu, "no WebGPU adapter: is mesa-vulkan-drivers installed? (SUBBIT_NO_WEBGPU=1 skips)");
    assert.ok(gpu.adapterName.length > 0);
  },
});

Deno.test({
  name: "WGSL kernels (int8, ternary2, base3) equal the TS reference: ragged shapes, batch 1-16, split bindings",
  ignore: skip,
  async fn() {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 1, max: 16 }),
        fc.nat(1000),
        fc.boolean(),
        fc.boolean(),
        async (rows, cols, batch, seed, extreme, split) => {
          const data = seededGaussian(rows * cols, seed, 0.05);
          const x = seededGaussian(batch * cols, seed + 1, 1);
          if (extreme) {
            for (let i = 0; i < data.length; i += 7) data[i] *= 40;
            x[0] = 1000;
          }
          const w = { name: "w", rows, cols, data };
          for (const k of WEBGPU_KERNELS) {
            for (const sparsity of k === "int8" ? [undefined] : [undefined, 0.9]) {
              const g = webgpuGemv(k, split ? tinyBindings! : gpu!), p = g.prepare(kernelCodes(k, w, sparsity));
              const y1 = new Float32Array(batch * rows), y2 = new Float32Array(batch * rows).fill(NaN);
              tsGemv(k).run(p, x, y1, batch);
              await g.run(p, x, y2, batch);
              const e = maxRelError(y1, y2);
              assert.ok(e <= 2e-5, `${k} s=${sparsity} ${rows}x${cols} B${batch} split=${split}: rel error ${e}`);
            }
          }
        },
      ),
      { numRuns: 25 },
    );
  },
});

Deno.test({
  name:
    "WGSL kernels: rows over one 4096-column panel (int8 and ternary2 panels laid out row by row) equal the TS reference",
  ignore: skip,
  async fn() {
    const rows = 5, cols = 4500, batch = 3;
    const w = { name: "w", rows, cols, data: seededGaussian(rows * cols, 4, 0.05) },
      x = seededGaussian(batch * cols, 5, 1);
    for (const k of WEBGPU_KERNELS) {
      const g = webgpuGemv(k, gpu!), p = g.prepare(kernelCodes(k, w));
      const y1 = new Float32Array(batch * rows), y2 = new Float32Array(batch * rows).fill(NaN);
      tsGemv(k).run(p, x, y1, batch);
      await g.run(p, x, y2, batch);
      const e = maxRelError(y1, y2);
      assert.ok(e <= 2e-5, `${k} ${rows}x${cols} B${batch}: rel error ${e}`);
    }
  },
});

Deno.test({
  name:
    "WebGPU: many layers queued, one submit and one readback, every output right; weights over the binding limit split",
  ignore: skip,
  async fn() {
    const layers = WEBGPU_KERNELS.map((k, i) => {
      const w = { name: k, rows: 37 + i, cols: 300 + 65 * i, data: seededGaussian((37 + i) * (300 + 65 * i), i, 0.05) };
      const p = webgpuGemv(k, tinyBindings!).prepare(kernelCodes(k, w));
      return { k, p, g: tinyBindings!.upload(p), x: seededGaussian(3 * w.cols, 9 + i, 1) };
    });
    for (const l of layers) assert.ok(l.g.chunks.length > 1, `${l.k}: expected a split into several bindings`);
    const outs = layers.map((l) => tinyBindings!.gemv(l.g, l.x, 3));
    await tinyBindings!.flush();
    for (const [i, l] of layers.entries()) {
      const ref = new Float32Array(3 * l.p.rows);
      tsGemv(l.k).run(l.p, l.x, ref, 3);
      assert.ok(maxRelError(ref, await outs[i]) <= 2e-5, l.k);
      tinyBindings!.release(l.g);
    }
  },
});

Deno.test({
  name: "WebGPU: bad batch or activation length is an input error",
  ignore: skip,
  async fn() {
    const w = { name: "w", rows: 4, cols: 64, data: seededGaussian(256, 1, 0.1) };
    const g = webgpuGemv("int8", gpu!), p = g.prepare(kernelCodes("int8", w));
    await assert.rejects(() => g.run(p, new Float32Array(64 * 17), new Float32Array(4 * 17), 17), /batch 17/);
    await assert.rejects(() => g.run(p, new Float32Array(63), new Float32Array(4), 1), /63 values/);
  },
});

Deno.test({
  name: "WebGPU: bandwidth probe reports a positive rate",
  ignore: skip,
  async fn() {
    const gbps = await gpu!.measureBandwidth(64 * 2 ** 20, 1);
    assert.ok(gbps > 0 && Number.isFinite(gbps), String(gbps));
  },
});
