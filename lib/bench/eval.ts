/**
 * Forward-pass speed: fp32 held-out evaluation by subbit (C kernels via FFI)
 * and by PyTorch (tasks/reference_eval.py under Debian's python3-torch) on the
 * same windows of the same text, timed in one run.
 */
import { ensureNative } from "../kernels/native.ts";
import { heldoutBpb } from "../model/bpb.ts";
import { loadNeox, NeoxForward } from "../model/neox.ts";
import { nativeOps } from "../model/ops.ts";
import { type BenchRecord, emit, table } from "./report.ts";

async function torchAvailable(): Promise<boolean> {
  try {
    const out = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", "import torch"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

export async function benchEval(opts: { model: string; bytes: number | null }): Promise<BenchRecord[]> {
  const out: BenchRecord[] = [];
  const val = await Deno.readFile(`${opts.model}/val.txt`);
  const text = opts.bytes ? val.subarray(0, opts.bytes) : val;
  const lib = await ensureNative();
  if (!lib) throw new Error("the C kernels are not built (deno task build:kernels)");
  const { config, weights } = await loadNeox(opts.model);
  const model = new NeoxForward(config, weights, nativeOps(lib));
  const t0 = performance.now();
  const r = heldoutBpb(model, text);
  const ours: BenchRecord = {
    impl: "subbit_c_fp32",
    bytes: text.length,
    bpb: r.bpb,
    seconds: (performance.now() - t0) / 1000,
  };
  emit(ours);
  out.push(ours);
  if (await torchAvailable()) {
    const args = [
      "tasks/reference_eval.py",
      "--model",
      opts.model,
      "--no-write",
      "--threads",
      String(navigator.hardwareConcurrency),
    ];
    if (opts.bytes) args.push("--max-bytes", String(opts.bytes));
    const res = await new Deno.Command("/usr/bin/python3", { args, stdin: "null", stdout: "piped", stderr: "inherit" })
      .output();
    if (res.success) {
      const j = JSON.parse(new TextDecoder().decode(res.stdout).trim().split("\n").pop()!);
      const torch: BenchRecord = {
        impl: "pytorch_fp32",
        bytes: text.length,
        bpb: j.bpb,
        seconds: j.eval_seconds,
        torch: j.torch,
      };
      emit(torch);
      out.push(torch);
      const ratio: BenchRecord = {
        impl: "ratio",
        bytes: text.length,
        speedup_vs_pytorch: Number(torch.seconds) / Number(ours.seconds),
        bpb_abs_diff: Math.abs(j.bpb - r.bpb),
      };
      emit(ratio);
      out.push(ratio);
    }
  } else {
    console.error(
      "bench eval: /usr/bin/python3 with torch not found (apt-get install python3-torch): PyTorch side skipped",
    );
  }
  table(out, ["impl", "bytes", "bpb", "seconds", "speedup_vs_pytorch"]);
  return out;
}
