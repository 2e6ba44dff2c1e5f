/** Small statistics the benches share: quantiles and a latency summary. */

/** The value at quantile `q` (0..1) of `sorted` (ascending), nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
  return sorted[i];
}

export interface LatencySummary {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly mean: number;
}

/** p50, p95, p99 and the mean of latencies in ms, to 0.01 ms; all 0 for none. */
export function latencySummary(ms: readonly number[]): LatencySummary {
  if (ms.length === 0) return { p50: 0, p95: 0, p99: 0, mean: 0 };
  const s = [...ms].sort((a, b) => a - b);
  const round = (v: number): number => Math.round(v * 100) / 100;
  return {
    p50: round(quantile(s, 0.5)),
    p95: round(quantile(s, 0.95)),
    p99: round(quantile(s, 0.99)),
    mean: round(s.reduce((a, b) => a + b, 0) / s.length),
  };
}
