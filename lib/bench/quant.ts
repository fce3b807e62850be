/**
 * Quantizer throughput: M params/s per method on a rows×cols f32 tensor
 * (default 4096×4096), beside a memory-streaming baseline measured in the same
 * run (one read pass summing |w| and one copy pass).
 */
import { seededGaussian } from "../random.ts";
import { getQuantizer, QUANTIZERS } from "../quant/mod.ts";
import type { QuantConfig } from "../quant/types.ts";
import { configId } from "../quant/config_id.ts";
import { type BenchRecord, emit, medianMs, table } from "./report.ts";

export const QUANT_BENCH_CONFIGS: QuantConfig[] = [
  { method: "rtn_sym", bits: 4, groupSize: 64, scaleDtype: "f16" },
  { method: "rtn_asym", bits: 4, groupSize: 64, scaleDtype: "f16" },
  { method: "sign", groupSize: 64, scaleDtype: "f16" },
  { method: "ternary_absmean", groupSize: 64, scaleDtype: "f16" },
  { method: "sparse_klevel", levels: 3, sparsity: 0.9, groupSize: 64, scaleDtype: "f16" },
  { method: "hqq", bits: 2, groupSize: 64, scaleDtype: "f16" },
];

export function benchQuant(opts: { rows: number; cols: number; reps: number; seed: number }): BenchRecord[] {
  const { rows, cols, reps, seed } = opts;
  const n = rows * cols;
  const data = seededGaussian(n, seed, 0.02);
  const w = { name: "bench", rows, cols, data };
  const out: BenchRecord[] = [];
  const copy = new Float32Array(n);
  let sink = 0;
  const readMs = medianMs(() => {
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.abs(data[i]);
    sink += s;
  }, reps);
  const copyMs = medianMs(() => copy.set(data), reps);
  const record = (kind: string, method: string, config_id: string, ms: number): BenchRecord => ({
    kind,
    method,
    config_id,
    rows,
    cols,
    params: n,
    ms,
    mparams_s: n / ms / 1e3,
    vs_read_pass: readMs / ms,
  });
  const report = (r: BenchRecord) => {
    emit(r);
    out.push(r);
  };
  report(record("baseline", "read_abs_sum", "read_abs_sum", readMs));
  report(record("baseline", "copy", "copy", copyMs));
  for (const c of QUANT_BENCH_CONFIGS) {
    if (!QUANTIZERS.has(c.method)) continue;
    const q = getQuantizer(c.method);
    const ms = medianMs(() => void q.quantize(w, c), c.method === "hqq" ? Math.min(reps, 2) : reps);
    report(record("quantize", c.method, configId(c), ms));
  }
  if (sink === 42) console.error(""); // keep the read pass from being optimised away
  table(out, ["kind", "config_id", "ms", "mparams_s", "vs_read_pass"]);
  return out;
}
