/**
 * Held-out bits per byte of a GGUF model as llama.cpp computes it, through
 * node-llama-cpp's prebuilt CPU library (npm: node-llama-cpp +
 * @node-llama-cpp/linux-x64): the reference protocol of lib/model/bpb.ts —
 * non-overlapping windows of the model's context, every byte after a
 * window's first predicted — with each next-byte distribution taken from
 * llama.cpp's own forward pass (controlledEvaluate with probabilities, at
 * temperature 1 with no top-k/top-p/min-p truncation, i.e. the plain softmax).
 */
import { InputError } from "../errors.ts";
import type { Progress } from "../cli/progress.ts";

export interface LlamaCppBpb {
  bpb: number;
  predicted: number;
  bytes: number;
  seconds: number;
  /** llama.cpp release node-llama-cpp was built from. */
  release: string;
}

/** node-llama-cpp's package version, read from node_modules (for run records). */
export async function nodeLlamaCppVersion(): Promise<string> {
  try {
    const pkg = JSON.parse(
      await Deno.readTextFile(new URL("../../node_modules/node-llama-cpp/package.json", import.meta.url)),
    );
    return String(pkg.version);
  } catch {
    return "missing";
  }
}

/** bpb of `text` under the GGUF model at `path`, evaluated by llama.cpp on the CPU. */
export async function llamaCppBpb(
  path: string,
  text: Uint8Array,
  context: number,
  threads: number,
  bar?: Progress,
): Promise<LlamaCppBpb> {
  let mod: typeof import("node-llama-cpp");
  try {
    mod = await import("node-llama-cpp");
  } catch (e) {
    throw new InputError(`llama.cpp is not installed (npm ci installs node-llama-cpp): ${(e as Error).message}`);
  }
  const llama = await mod.getLlama({
    gpu: false,
    build: "never",
    skipDownload: true,
    progressLogs: false,
    logLevel: mod.LlamaLogLevel.error,
  });
  const t0 = performance.now();
  try {
    const model = await llama.loadModel({ modelPath: path });
    const ctx = await model.createContext({ contextSize: context, batchSize: context, threads, sequences: 1 });
    const seq = ctx.getSequence();
    const options = { temperature: 1, topK: 0, topP: 1, minP: 0 };
    let bits = 0, predicted = 0, done = 0;
    for (let start = 0; start < text.length; start += context) {
      const w = text.subarray(start, Math.min(start + context, text.length));
      done++;
      if (w.length < 2) continue;
      await seq.clearHistory();
      const input = Array.from(
        w.subarray(0, w.length - 1),
        (t) => [t as import("node-llama-cpp").Token, { generateNext: { probabilities: true, options } }] as const,
      );
      const out = await seq.controlledEvaluate(
        input as unknown as import("node-llama-cpp").ControlledEvaluateInputItem[],
      );
      for (let i = 0; i < w.length - 1; i++) {
        const p = out[i]?.next.probabilities?.get(w[i + 1] as import("node-llama-cpp").Token) ?? 0;
        bits -= Math.log2(p);
      }
      predicted += w.length - 1;
      bar?.tick(done, `${(bits / predicted).toFixed(4)} bpb`);
    }
    await ctx.dispose();
    await model.dispose();
    return {
      bpb: bits / predicted,
      predicted,
      bytes: text.length,
      seconds: (performance.now() - t0) / 1000,
      release: llama.llamaCppRelease.release,
    };
  } finally {
    await llama.dispose();
  }
}
