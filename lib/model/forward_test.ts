import { strict as assert } from "node:assert";
import { ensureNative } from "../kernels/native.ts";
import { mulberry32 } from "../random.ts";
import { heldoutBpb } from "./bpb.ts";
import { Calibration } from "./calibration.ts";
import { loadNeox, NeoxForward } from "./neox.ts";
import { type DenseOps, erf, nativeOps, tsOps } from "./ops.ts";

const lib = await ensureNative();
const { config, weights } = await loadNeox("models/neox-tiny");
const ref = JSON.parse(await Deno.readTextFile("models/neox-tiny/reference_logits.json"));
const val = await Deno.readFile("models/neox-tiny/val.txt");

function maxDiffToReference(ops: DenseOps): number {
  const logits = new NeoxForward(config, weights, ops).forward(val.subarray(0, ref.context));
  let d = 0;
  for (let t = 0; t < ref.logits.length; t++) {
    for (let v = 0; v < 256; v++) d = Math.max(d, Math.abs(logits[t * 256 + v] - ref.logits[t][v]));
  }
  return d;
}

Deno.test("forward pass (TS reference ops) matches the PyTorch reference logits to 1e-4", () => {
  const d = maxDiffToReference(tsOps);
  assert.ok(d <= 1e-4, `max |Δlogit| ${d}`);
});

Deno.test({
  name: "forward pass (C kernels) matches the PyTorch reference logits to 1e-4",
  ignore: !lib,
  fn() {
    const d = maxDiffToReference(nativeOps(lib!));
    assert.ok(d <= 1e-4, `max |Δlogit| ${d}`);
  },
});

Deno.test({
  name: "C dense kernels equal the TS reference on random and ragged shapes",
  ignore: !lib,
  fn() {
    const c = nativeOps(lib!), r = mulberry32(17);
    const rand = (n: number, s = 1) => Float32Array.from({ length: n }, () => (r() - 0.5) * 2 * s);
    for (const [T, N, K] of [[1, 1, 1], [3, 5, 7], [4, 32, 16], [17, 33, 65], [255, 96, 64], [2, 1000, 3]]) {
      const X = rand(T * K), W = rand(K * N), b = rand(N);
      const y1 = new Float32Array(T * N), y2 = new Float32Array(T * N);
      tsOps.gemm(X, W, b, y1, T, N, K);
      for (const th of [1, 2, 3]) {
        c.gemm(X, W, b, y2, T, N, K, th);
        for (let i = 0; i < y1.length; i++) {
          assert.ok(Math.abs(y1[i] - y2[i]) <= 1e-5 * (1 + Math.abs(y1[i])), `gemm ${T}x${N}x${K} t${th} @${i}`);
        }
      }
    }
    const x = rand(5000, 8), x2 = x.slice();
    tsOps.gelu(x);
    c.gelu(x2);
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - x2[i]) <= 1e-6 * (1 + Math.abs(x[i])), `gelu @${i}`);
    for (const [T, d, H, rot] of [[1, 8, 2, 2], [7, 16, 4, 4], [64, 256, 4, 16]]) {
      const qkv = rand(T * 3 * d), cos = rand(T * rot), sin = rand(T * rot);
      const o1 = new Float32Array(T * d), o2 = new Float32Array(T * d);
      tsOps.attention(qkv, o1, cos, sin, T, d, H, rot);
      c.attention(qkv, o2, cos, sin, T, d, H, rot);
      for (let i = 0; i < o1.length; i++) {
        assert.ok(Math.abs(o1[i] - o2[i]) <= 1e-5 * (1 + Math.abs(o1[i])), `attention T${T} @${i}`);
      }
    }
    const g = rand(96),
      bb = rand(96),
      xs = rand(5 * 96, 3),
      l1 = new Float32Array(5 * 96),
      l2 = new Float32Array(5 * 96);
    tsOps.layernorm(xs, g, bb, l1, 5, 96, 1e-5);
    c.layernorm(xs, g, bb, l2, 5, 96, 1e-5);
    for (let i = 0; i < l1.length; i++) assert.ok(Math.abs(l1[i] - l2[i]) <= 1e-5, `layernorm @${i}`);
  },
});

Deno.test("erf against known values", () => {
  for (
    const [x, want] of [[0, 0], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [
      3,
      0.9999779095030014,
    ], [-1, -0.8427007929497149]]
  ) {
    assert.ok(Math.abs(erf(x) - want) < 2e-7, `erf(${x}) = ${erf(x)}`);
  }
});

Deno.test({
  name: "held-out bpb of the default 64 KB slice reproduces PyTorch's to 4 digits (reference protocol)",
  ignore: !lib,
  fn() {
    const r = heldoutBpb(new NeoxForward(config, weights, nativeOps(lib!)), val.subarray(0, 65536));
    assert.equal(r.predicted, 256 * 255);
    assert.ok(Math.abs(r.bpb - ref.bpb_first_65536) < 5e-5, `bpb ${r.bpb} vs PyTorch ${ref.bpb_first_65536}`);
  },
});

Deno.test({
  name: "calibration: out_rel_error equals ‖X(W−Ŵ)ᵀ‖/‖XWᵀ‖ computed directly on the captured inputs",
  ignore: !lib,
  fn() {
    const ops = nativeOps(lib!);
    const model = new NeoxForward(config, weights, ops);
    const calibText = val.subarray(0, 300); // two windows (256 + 44 bytes)
    const cal = Calibration.capture(model, calibText, ops);
    const name = "gpt_neox.layers.1.mlp.dense_4h_to_h.weight", rows = 256, cols = 1024;
    const w = weights.get(name)!;
    const wq = w.map((v, i) => v + (i % 3 === 0 ? 0.01 : 0));
    // reference: capture this layer's inputs directly and apply the formula in f64
    const xs: Float32Array[] = [];
    for (const s of [0, 256]) {
      model.forward(
        calibText.subarray(s, Math.min(s + 256, calibText.length)),
        (n, x) => n === name && xs.push(x.slice()),
      );
    }
    let ee = 0, yy = 0;
    for (const x of xs) {
      for (let t = 0; t < x.length / cols; t++) {
        for (let r = 0; r < rows; r++) {
          let y = 0, e = 0;
          for (let k = 0; k < cols; k++) {
            y += x[t * cols + k] * w[r * cols + k];
            e += x[t * cols + k] * (w[r * cols + k] - wq[r * cols + k]);
          }
          yy += y * y;
          ee += e * e;
        }
      }
    }
    const got = cal.outRelError(name, w, wq, rows, cols)!;
    assert.ok(Math.abs(got - Math.sqrt(ee / yy)) <= 1e-4 * Math.sqrt(ee / yy), `${got} vs ${Math.sqrt(ee / yy)}`);
    assert.equal(cal.outRelError("gpt_neox.embed_in.weight", w, wq, rows, cols), null);
  },
});

/** Per-token int8 fake quantization written out plainly: s = absmax/127 (f32), q = round half away from zero. */
function int8InPlace(x: Float32Array, cols: number): void {
  for (let t = 0; t < x.length / cols; t++) {
    const row = x.subarray(t * cols, (t + 1) * cols);
    const s = Math.fround(row.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 127);
    for (let k = 0; k < cols; k++) {
      const r = Math.fround(row[k] / s);
      row[k] = s > 0 ? Math.sign(r) * Math.round(Math.abs(r)) * s : 0;
    }
  }
}

Deno.test("int8 activations: the forward pass equals fp32 with every linear input fake-quantized per token (TS ops)", () => {
  const tokens = val.subarray(0, 200);
  const shapes = new Map<string, number>();
  const cols = (name: string) => name.endsWith("dense_4h_to_h.weight") ? config.intermediate_size : config.hidden_size;
  const reference = new NeoxForward(config, weights, tsOps).forward(tokens, (name, x) => {
    shapes.set(name, cols(name));
    int8InPlace(x, cols(name));
  });
  const int8 = new NeoxForward(config, weights, tsOps, "int8").forward(tokens);
  assert.equal(shapes.size, 4 * config.num_hidden_layers + 1, "every linear layer's input");
  assert.deepEqual(int8, reference);
  const fp32 = new NeoxForward(config, weights, tsOps).forward(tokens);
  assert.notDeepEqual(int8, fp32, "int8 changes the logits");
});

Deno.test("int8 activations: held-out bpb on 2 KB within 1 % of fp32, C ops near TS ops", () => {
  // C and TS matmuls differ in the last bits, which flips int8 roundings now and then; on 2 KB that moves
  // bpb by ~2e-4 (the int8 effect itself is ~5e-4 here), so this only checks the C path runs int8 at all
  const text = val.subarray(0, 2048);
  const fp32 = heldoutBpb(new NeoxForward(config, weights, tsOps), text).bpb;
  const int8 = heldoutBpb(new NeoxForward(config, weights, tsOps, "int8"), text).bpb;
  assert.ok(int8 !== fp32 && Math.abs(int8 - fp32) < 0.01 * fp32, `int8 ${int8} vs fp32 ${fp32}`);
  if (lib) {
    const c = heldoutBpb(new NeoxForward(config, weights, nativeOps(lib), "int8"), text).bpb;
    assert.ok(Math.abs(c - int8) < 1e-3, `C ${c} vs TS ${int8}`);
  }
});
