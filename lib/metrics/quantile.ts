/** Order statistics of timings and ratios, shared by the benches and the sweep's latency column. */

/** The value at fraction q (0…1) of the sorted `xs`, index ⌊q·n⌋ (q = 0.5: the median every bench reports). */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** The median as every bench and the sweep's latency column report it: quantile(xs, 0.5), the upper middle. */
export const median = (xs: number[]): number => quantile(xs, 0.5);
