/**
 * Sharding a sweep: every (layer, config) work item goes to exactly one of n
 * shards, the same one on every machine, with the shards' estimated costs
 * balanced — longest-processing-time-first: items sorted by cost (params ×
 * the config's relative cost, ties by grid order), each given to the shard
 * with the least cost so far (ties to the lowest index). Counting layers
 * would not balance: an MLP weight has 4× the parameters of an attention
 * output, and a `+gptq` or HQQ config costs several plain roundings.
 */
import { InputError } from "../errors.ts";
import type { QuantConfig } from "../quant/types.ts";

export interface Shard {
  /** 0-based, as Slurm's SLURM_ARRAY_TASK_ID with --array=0-(n-1). */
  index: number;
  count: number;
}

/** --shard i/n: 0 ≤ i < n. */
export function parseShard(s: string): Shard {
  const m = s.trim().match(/^(\d+)\/(\d+)$/);
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1) || !(index < count)) {
    throw new InputError(`--shard: '${s}' is not i/n with 0 ≤ i < n (e.g. 0/4)`);
  }
  return { index, count };
}

/**
 * Relative time to measure one parameter under a config (quantize, code, time), measured roughly on the reference
 * model: an estimate for balancing only, never a result.
 */
export function configCost(c: QuantConfig): number {
  const method: Record<string, number> = { hqq: 4, sparse_klevel: 2, rtn_asym: 1.2 };
  let cost = method[c.method] ?? 1;
  for (const t of c.transforms ?? []) cost += t === "gptq" ? 6 : t === "awq" ? 8 : t === "had" ? 1 : 4;
  return cost;
}

/** For each work item (in grid order), the shard it belongs to. */
export function assignShards(costs: readonly number[], count: number): Int32Array {
  const order = costs.map((_, i) => i).sort((a, b) => costs[b] - costs[a] || a - b);
  const load = new Float64Array(count);
  const out = new Int32Array(costs.length);
  for (const i of order) {
    let best = 0;
    for (let s = 1; s < count; s++) if (load[s] < load[best]) best = s;
    out[i] = best;
    load[best] += costs[i];
  }
  return out;
}
