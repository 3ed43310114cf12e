/** Summaries of a load run: counts by status and a per-second timeline for the report. */
import type { ResponseRecord } from "./loadgen.ts";

export interface TimelineBucket {
  /** Simulated seconds from the origin to the start of the bucket. */
  second: number;
  /** Responses by status (`"0"` for client-side failures) among requests sent in this bucket. */
  byStatus: Record<string, number>;
}

export interface LoadSummary {
  requests: number;
  /** Responses by status, `"0"` for client-side failures. */
  responses: Record<string, number>;
  errors5xx: number;
  clientErrors: number;
  /** Client-side failures by error code. */
  errorCodes: Record<string, number>;
  /** Responses by target (`ip:port`), `"none"` when no target was named. */
  byTarget: Record<string, number>;
  timeline: TimelineBucket[];
  latencyMs: { p50: number; p99: number; max: number };
}

export interface SummaryOptions {
  /** Epoch ms that is second 0 of the timeline (the scenario start). Default: the first record's `at`. */
  originMs?: number;
  /** The run's time scale: real ms are divided by it to get simulated seconds. Default 1. */
  timeScale?: number;
  /** Width of a timeline bucket in simulated seconds. Default 1. */
  bucketSeconds?: number;
}

export function summarize(records: readonly ResponseRecord[], options: SummaryOptions = {}): LoadSummary {
  const origin = options.originMs ?? records[0]?.at ?? 0;
  const bucketMs = (options.bucketSeconds ?? 1) * 1000 * (options.timeScale ?? 1);
  const responses: Record<string, number> = {};
  const errorCodes: Record<string, number> = {};
  const byTarget: Record<string, number> = {};
  const buckets = new Map<number, Record<string, number>>();
  for (const r of records) {
    const status = String(r.status);
    increment(responses, status);
    increment(byTarget, r.target ?? "none");
    if (r.error !== undefined) increment(errorCodes, r.error);
    const index = Math.max(0, Math.floor((r.at - origin) / bucketMs));
    const bucket = buckets.get(index) ?? {};
    increment(bucket, status);
    buckets.set(index, bucket);
  }
  const last = Math.max(-1, ...buckets.keys());
  const timeline: TimelineBucket[] = [];
  for (let i = 0; i <= last; i++)
    timeline.push({ second: i * (options.bucketSeconds ?? 1), byStatus: buckets.get(i) ?? {} });
  const latencies = records.map((r) => r.latencyMs).sort((a, b) => a - b);
  return {
    requests: records.length,
    responses,
    errors5xx: records.filter((r) => r.status >= 500 && r.status <= 599).length,
    clientErrors: records.filter((r) => r.status === 0).length,
    errorCodes,
    byTarget,
    timeline,
    latencyMs: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: latencies.at(-1) ?? 0 },
  };
}

function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
}
