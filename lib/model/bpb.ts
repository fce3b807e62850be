/**
 * Held-out bits per byte, one protocol everywhere (the reference model's):
 * the text cut into consecutive non-overlapping windows of `context` bytes
 * (the last may be shorter), every byte after the first of a window
 * predicted from the bytes before it in that window; bpb = Σ cross-entropy
 * in bits / number of predicted bytes.
 */
import { ensureNative } from "../kernels/native.ts";
import type { Progress } from "../cli/progress.ts";
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

/**
 * `bits` plus the cross-entropy of each byte of window `w` after its first, from the window's logits — added one
 * byte at a time, so every caller sums in the same order (the streamed Δbpb equals the whole pass's bit for bit).
 */
export function addWindowBits(bits: number, logits: Float32Array, w: Uint8Array, vocab: number): number {
  for (let t = 0; t < w.length - 1; t++) bits += crossEntropyBits(logits, t * vocab, vocab, w[t + 1]);
  return bits;
}

/** The windows bpb scores: `text` cut every `ctx` bytes, those of ≥ 2 bytes (one byte predicts nothing). */
export function bpbWindows(text: Uint8Array, ctx: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let start = 0; start < text.length; start += ctx) {
    const w = text.subarray(start, Math.min(start + ctx, text.length));
    if (w.length >= 2) out.push(w);
  }
  return out;
}

export function heldoutBpb(model: NeoxForward, text: Uint8Array, bar?: Progress): BpbResult {
  const ctx = model.config.max_position_embeddings, vocab = model.config.vocab_size;
  let bits = 0, predicted = 0, done = 0;
  const windows = Math.ceil(text.length / ctx);
  for (let start = 0; start < text.length; start += ctx) {
    const w = text.subarray(start, Math.min(start + ctx, text.length));
    done++;
    if (w.length < 2) continue;
    bits = addWindowBits(bits, model.forward(w.subarray(0, w.length - 1)), w, vocab);
    predicted += w.length - 1;
    bar?.tick(done, `${(bits / predicted).toFixed(4)} bpb`);
  }
  if (done < windows) bar?.tick(windows, "");
  return { bpb: bits / predicted, bits, predicted, bytes: text.length };
}

/** log2 p(next byte) at every predicted position of each window of `text` ([positions × vocab] per window). */
export function windowLogProbs(model: NeoxForward, text: Uint8Array): Float32Array[] {
  const ctx = model.config.max_position_embeddings, vocab = model.config.vocab_size;
  const out: Float32Array[] = [];
  for (const w of bpbWindows(text, ctx)) {
    const logits = model.forward(w.subarray(0, w.length - 1));
    for (let t = 0; t < w.length - 1; t++) {
      const o = t * vocab;
      let mx = -Infinity, sum = 0;
      for (let v = 0; v < vocab; v++) mx = Math.max(mx, logits[o + v]);
      for (let v = 0; v < vocab; v++) sum += Math.exp(logits[o + v] - mx);
      const lse = Math.log(sum) + mx;
      for (let v = 0; v < vocab; v++) logits[o + v] = (logits[o + v] - lse) / Math.LN2;
    }
    out.push(logits);
  }
  return out;
}

/**
 * Bits per byte of windowLogProbs `lp` on `text`, and its KL divergence from
 * a reference's (windowLogProbs of the same text), KL(p_ref ‖ p) =
 * Σ_v p_ref(v)·(log2 p_ref(v) − log2 p(v)), averaged over predicted bytes
 * (0 without a reference). Unlike Δbpb, KL is never negative, so a layer's
 * noise cannot pass for a gain.
 */
export function scoreLogProbs(
  lp: Float32Array[],
  text: Uint8Array,
  ctx: number,
  vocab: number,
  reference?: Float32Array[],
): { bpb: number; kl: number } {
  let bits = 0, kl = 0, predicted = 0;
  lp.forEach((mine, w) => {
    const ref = reference?.[w], start = w * ctx, n = mine.length / vocab;
    for (let t = 0; t < n; t++) {
      const o = t * vocab;
      bits -= mine[o + text[start + t + 1]];
      if (ref) { for (let v = 0; v < vocab; v++) kl += 2 ** ref[o + v] * (ref[o + v] - mine[o + v]); }
    }
    predicted += n;
  });
  return { bpb: bits / predicted, kl: kl / predicted };
}

/** Held-out bpb of `model` and its KL divergence from a reference (see scoreLogProbs). */
export function heldoutBpbAndKl(
  model: NeoxForward,
  text: Uint8Array,
  reference: Float32Array[],
): { bpb: number; kl: number } {
  const c = model.config;
  return scoreLogProbs(windowLogProbs(model, text), text, c.max_position_embeddings, c.vocab_size, reference);
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
