/// <reference lib="deno.worker" />
/**
 * The fuzzer's worker: reads one input per message with its target's reader, answers how it ended — so a hang
 * can be cut off (the parent terminates this worker) without losing the run.
 */
import { InputError } from "../errors.ts";
import { FUZZ_TARGETS } from "./targets.ts";

export type WorkerReply =
  | { kind: "ok"; rss: number }
  | { kind: "rejected"; message: string; rss: number }
  | { kind: "crash"; message: string; rss: number };

self.onmessage = async (e: MessageEvent<{ target: string; path: string; bytes: Uint8Array }>) => {
  const t = FUZZ_TARGETS.find((x) => x.name === e.data.target)!;
  let reply: WorkerReply;
  try {
    await t.run(e.data.path, e.data.bytes);
    reply = { kind: "ok", rss: Deno.memoryUsage().rss };
  } catch (err) {
    const message = (err as Error)?.message ?? String(err);
    reply = err instanceof InputError
      ? { kind: "rejected", message: message.split("\n")[0], rss: Deno.memoryUsage().rss }
      : { kind: "crash", message: (err as Error)?.stack ?? message, rss: Deno.memoryUsage().rss };
  }
  self.postMessage(reply);
};
