/**
 * The QAT-vs-PTQ frontier: bits/param → held-out bpb for QAT runs (result.json
 * of `deno task qat`) beside post-training plans — the same plans without QAT
 * and the allocator's plans (allocate.jsonl) — all on the same evaluation slice.
 */
import { InputError } from "../errors.ts";

export interface FrontierPoint {
  /** "QAT", "PTQ, same plan", "fp32", or "PTQ, allocator (<run folder>)" per allocator run. */
  series: string;
  budget: number | null;
  bits_per_param: number;
  bpb: number;
  /** Where the point comes from (a run folder or plan file). */
  source: string;
  steps?: number;
}

interface QatResult {
  bits_per_param: number;
  steps: number;
  evals: { label: string; bitsPerParam: number; bpb64k: number }[];
}

async function readJson<T>(path: string): Promise<T> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch (e) {
    throw new InputError(`${path}: cannot read: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** Points of one QAT run folder: the QAT model, the same plan post-training, and fp32. */
export async function qatPoints(dir: string, budget: number): Promise<FrontierPoint[]> {
  const r = await readJson<QatResult>(`${dir}/result.json`);
  const [qat, ptq, fp32] = r.evals;
  if (!qat || !ptq || !fp32) throw new InputError(`${dir}/result.json: expected three evaluations (QAT, PTQ, fp32)`);
  return [
    { series: "QAT", budget, bits_per_param: qat.bitsPerParam, bpb: qat.bpb64k, source: dir, steps: r.steps },
    { series: "PTQ, same plan", budget, bits_per_param: ptq.bitsPerParam, bpb: ptq.bpb64k, source: dir },
    { series: "fp32", budget: null, bits_per_param: 32, bpb: fp32.bpb64k, source: dir },
  ];
}

/** Points of an allocator run folder (allocate.jsonl: one line per budget, measured on the same first 64 KB). */
export async function allocatorPoints(dir: string): Promise<FrontierPoint[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/allocate.jsonl`);
  } catch {
    throw new InputError(`${dir}/allocate.jsonl: cannot read (an allocate --out folder?)`);
  }
  return text.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)).map((a) => ({
    series: `PTQ, allocator (${dir.replace(/\/+$/, "").split("/").pop()})`,
    budget: a.budget,
    bits_per_param: a.bits_per_param,
    bpb: a.bpb_measured,
    source: a.plan,
  }));
}

/** One fp32 point (they agree across runs: the same model and slice), the rest sorted by series and bits. */
export function mergeFrontier(points: FrontierPoint[]): FrontierPoint[] {
  const fp32 = points.find((p) => p.series === "fp32");
  const rest = points.filter((p) => p.series !== "fp32");
  rest.sort((a, b) => a.series.localeCompare(b.series) || a.bits_per_param - b.bits_per_param);
  return fp32 ? [...rest, fp32] : rest;
}
