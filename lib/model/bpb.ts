/**
 * Held-out bits per byte, one protocol everywhere (the reference model's):
 * the text cut into consecutive non-overlapping windows of `context` bytes
 * (the last may be shorter), every byte after the first of a window
 * predicted from the bytes before it in that window; bpb = Σ cross-entropy
 * in bits / number of predicted bytes.
 */
import { ensureNative } from "../kernels/native.ts";
import type { Progress } from "../sweep/progress.ts";
import { type ActivationMode, type NeoxConfig, NeoxForward, type Weights } from "./neox.ts";
import { nativeOps, tsOps } from "./ops.ts";

export interface BpbResult {
  bpb: number;
  bits: number;
  predicted: number;
  bytes: number;
}

/** −log2 softmax(logits)[target], computed stably. */
export function crossEntropyBits(logits: Float32Array, offset: number, vocab: number, target: number): number {
  let mx = -Infinity;
  for (let v = 0; v < vocab; v++) mx = Math.max(mx, logits[offset + v]);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[offset + v] - mx);
  return (Math.log(sum) + mx - logits[offset + target]) / Math.LN2;
}

export function heldoutBpb(model: NeoxForward, text: Uint8Array, bar?: Progress): BpbResult {
  const ctx = model.config.max_position_embeddings, vocab = model.config.vocab_size;
  let bits = 0, predicted = 0, done = 0;
  const windows = Math.ceil(text.length / ctx);
  for (let start = 0; start < text.length; start += ctx) {
    const w = text.subarray(start, Math.min(start + ctx, text.length));
    done++;
    if (w.length < 2) continue;
    const logits = model.forward(w.subarray(0, w.length - 1));
    for (let t = 0; t < w.length - 1; t++) bits += crossEntropyBits(logits, t * vocab, vocab, w[t + 1]);
    predicted += w.length - 1;
    bar?.tick(done, `${(bits / predicted).toFixed(4)} bpb`);
  }
  if (done < windows) bar?.tick(windows, "");
  return { bpb: bits / predicted, bits, predicted, bytes: text.length };
}

/** Held-out bpb of a model given by its weights, on the C kernels when they build (else the TS reference ops). */
export async function evaluateBpb(
  config: NeoxConfig,
  weights: Weights,
  text: Uint8Array,
  threads: number,
  bar?: Progress,
  activations: ActivationMode = "fp32",
): Promise<BpbResult & { seconds: number; ops: "c" | "ts" }> {
  const lib = await ensureNative();
  if (!lib) console.error("eval: C kernels unavailable (no gcc?): using the TypeScript reference ops, which is slow");
  const model = new NeoxForward(config, weights, lib ? nativeOps(lib, threads) : tsOps, activations);
  const t0 = performance.now();
  const r = heldoutBpb(model, text, bar);
  return { ...r, seconds: (performance.now() - t0) / 1000, ops: lib ? "c" : "ts" };
}
