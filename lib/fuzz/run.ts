/**
 * Seeded mutation fuzzing of every reader (safetensors, GGUF, .subbit, the
 * range decoders): each input is a mutated valid file, read in a worker under
 * a time limit. A finding is anything but success or an InputError — another
 * exception (a crash), no answer within the limit (a hang, the worker is
 * replaced), or the worker's memory passing the limit (an unbounded
 * allocation, e.g. a header that claims 1 TB) — and is saved for replay.
 */
import { mulberry32 } from "../random.ts";
import type { Progress } from "../cli/progress.ts";
import { mutate, type Seed } from "./mutate.ts";
import { FUZZ_TARGETS, type FuzzTarget } from "./targets.ts";
import type { WorkerReply } from "./worker.ts";

export interface FuzzOptions {
  iterations: number;
  seed: number;
  /** Per-input time limit (ms). */
  timeoutMs: number;
  /** Worker resident memory above this is a finding (bytes). */
  maxRss: number;
  /** Where findings are saved (created when there is one). */
  outDir: string;
  targets?: readonly FuzzTarget[];
  bar?: Progress;
}

export interface FuzzFinding {
  target: string;
  iteration: number;
  kind: "crash" | "hang" | "memory";
  message: string;
  file: string;
}

export interface FuzzReport {
  inputs: number;
  seconds: number;
  targets: Record<string, { inputs: number; accepted: number; rejected: number; findings: number }>;
  findings: FuzzFinding[];
}

class Runner {
  private worker!: Worker;
  constructor() {
    this.start();
  }
  private start() {
    this.worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
  }
  run(target: string, path: string, bytes: Uint8Array, timeoutMs: number): Promise<WorkerReply | "timeout"> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.worker.terminate();
        this.start();
        resolve("timeout");
      }, timeoutMs);
      this.worker.onmessage = (e: MessageEvent<WorkerReply>) => {
        clearTimeout(timer);
        resolve(e.data);
      };
      this.worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        clearTimeout(timer);
        this.worker.terminate();
        this.start();
        resolve({ kind: "crash", message: `worker died: ${e.message}`, rss: 0 });
      };
      this.worker.postMessage({ target, path, bytes });
    });
  }
  close() {
    this.worker.terminate();
  }
}

export async function fuzz(o: FuzzOptions): Promise<FuzzReport> {
  const targets = o.targets ?? FUZZ_TARGETS;
  const tmp = await Deno.makeTempDir({ prefix: "subbit-fuzz-" });
  const seeds = new Map<string, Seed[]>();
  for (const t of targets) seeds.set(t.name, await t.seeds(tmp));
  const rand = mulberry32(o.seed);
  const report: FuzzReport = { inputs: 0, seconds: 0, targets: {}, findings: [] };
  for (const t of targets) report.targets[t.name] = { inputs: 0, accepted: 0, rejected: 0, findings: 0 };
  const runner = new Runner();
  const t0 = performance.now();
  try {
    for (let i = 0; i < o.iterations; i++) {
      const t = targets[i % targets.length];
      const pool = seeds.get(t.name)!;
      let bytes = mutate(pool[Math.floor(rand() * pool.length)], rand);
      if (t.fixup && rand() < 0.7) bytes = t.fixup(bytes);
      const path = `${tmp}/input${t.suffix}`;
      await Deno.writeFile(path, bytes);
      const r = await runner.run(t.name, path, bytes, o.timeoutMs);
      const stats = report.targets[t.name];
      stats.inputs++;
      report.inputs++;
      let finding: Omit<FuzzFinding, "file"> | null = null;
      if (r === "timeout") finding = { target: t.name, iteration: i, kind: "hang", message: `> ${o.timeoutMs} ms` };
      else if (r.kind === "crash") finding = { target: t.name, iteration: i, kind: "crash", message: r.message };
      else if (r.rss > o.maxRss) {
        finding = { target: t.name, iteration: i, kind: "memory", message: `worker RSS ${r.rss} bytes` };
      } else if (r.kind === "ok") stats.accepted++;
      else stats.rejected++;
      if (finding) {
        stats.findings++;
        await Deno.mkdir(o.outDir, { recursive: true });
        const file = `${o.outDir}/${t.name}-${i}${t.suffix}`;
        await Deno.writeFile(file, bytes);
        report.findings.push({ ...finding, file });
      }
      o.bar?.tick(i + 1, `${report.findings.length} findings`);
    }
  } finally {
    runner.close();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  report.seconds = (performance.now() - t0) / 1000;
  return report;
}
