import { strict as assert } from "node:assert";
import fc from "../../tests/fixtures/fc.ts";
import { seededGaussian } from "../random.ts";
import { decodeBlocks, encodeBlocks, GGML_BLOCK_TYPES, type GgmlBlockTypeName } from "../tensor/ggml_blocks.ts";
import { GGML_PEER_TYPE_NAMES, type GgmlPeerType, openGgmlPeer } from "./ggml_peer.ts";
import { ensureNative } from "./native.ts";

const lib = await ensureNative();
const PEER_NAME: Record<GgmlBlockTypeName, GgmlPeerType> = {
  Q8_0: "q8_0",
  Q4_0: "q4_0",
  TQ2_0: "tq2_0",
  TQ1_0: "tq1_0",
};

Deno.test({
  name: "ggml blocks: our encoders' bytes read by ggml's own dequantize_row_* (the binary) as f16(d)·code",
  ignore: !lib,
  fn() {
    const peer = openGgmlPeer(lib!);
    for (const [name, t] of Object.entries(GGML_BLOCK_TYPES) as [GgmlBlockTypeName, typeof GGML_BLOCK_TYPES.Q8_0][]) {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 3 }), fc.integer(), (nb, seed) => {
          let s = seed >>> 0 || 1;
          const next = () => (s = (s * 1103515245 + 12345) >>> 0);
          const n = nb * t.blockSize;
          const codes = Int8Array.from({ length: n }, () => t.minCode + (next() % (t.maxCode - t.minCode + 1)));
          const scales = Uint16Array.from({ length: nb }, () => next() & 0x7bff);
          const bytes = encodeBlocks(t, codes, scales);
          const theirs = peer.dequantize({ type: PEER_NAME[name], rows: 1, cols: n, data: bytes, bytes: bytes.length });
          assert.deepEqual(theirs, decodeBlocks(t, bytes, n), name);
        }),
        { numRuns: 30 },
      );
    }
  },
});

Deno.test({
  name: "ggml blocks: ggml's own quantization (quantize_row_*) decoded by our readers as ggml decodes it",
  ignore: !lib,
  fn() {
    const peer = openGgmlPeer(lib!);
    const w = seededGaussian(4 * 512, 3, 0.02);
    for (const [name, t] of Object.entries(GGML_BLOCK_TYPES) as [GgmlBlockTypeName, typeof GGML_BLOCK_TYPES.Q8_0][]) {
      const p = peer.prepare(PEER_NAME[name], 4, 512, w);
      assert.deepEqual(decodeBlocks(t, p.data, w.length), peer.dequantize(p), name);
    }
  },
});

Deno.test({
  name: "ggml peer: every type's GEMV matches its own dequantized weights (q8 activations) at 1–3 tokens, 1–2 threads",
  ignore: !lib,
  fn() {
    const peer = openGgmlPeer(lib!);
    const rows = 48, cols = 512;
    const w = seededGaussian(rows * cols, 5, 0.02);
    for (const type of GGML_PEER_TYPE_NAMES) {
      const p = peer.prepare(type, rows, cols, w);
      const wd = peer.dequantize(p);
      for (const batch of [1, 3]) {
        const x = seededGaussian(batch * cols, 9 + batch, 1);
        for (const threads of [1, 2]) {
          const y = new Float32Array(batch * rows).fill(NaN);
          peer.run(p, x, y, batch, threads);
          let err = 0, ref = 0;
          for (let b = 0; b < batch; b++) {
            for (let r = 0; r < rows; r++) {
              let s = 0;
              for (let k = 0; k < cols; k++) s += wd[r * cols + k] * x[b * cols + k];
              err += (s - y[b * rows + r]) ** 2;
              ref += s * s;
            }
          }
          const rel = Math.sqrt(err / ref);
          assert.ok(rel < (type === "f32" ? 1e-5 : 2e-2), `${type} batch ${batch} threads ${threads}: ${rel}`);
        }
      }
    }
  },
});
