/** Building a report from observations, and the text the CLI prints: the summary table and the progress line. */
import type {
  Evacuation,
  HandlerReport,
  HandlerSeries,
  NodeLane,
  PlaceholderSample,
  ReadySample,
  Report,
  RequestsPerSecond,
  WorkloadOutcome,
} from "./types.ts";

/** One load-generator result: when it was answered (scenario seconds) and its status (or "error" without one). */
export interface ResponseSample {
  at: number;
  status: number | "error";
}

/** Responses by status. */
export function countResponses(samples: Iterable<{ status: number | "error" }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) out[String(s.status)] = (out[String(s.status)] ?? 0) + 1;
  return out;
}

/** Sum of the responses whose status is in [lo, hi]. */
export function countInRange(responses: Record<string, number>, lo: number, hi: number): number {
  let n = 0;
  for (const [status, count] of Object.entries(responses)) {
    const code = Number(status);
    if (Number.isInteger(code) && code >= lo && code <= hi) n += count;
  }
  return n;
}

/** Per-second buckets [t, t+1) for t in 0..durationSeconds-1 (samples outside are dropped). */
export function requestsPerSecond(
  samples: Iterable<ResponseSample>,
  durationSeconds: number,
): RequestsPerSecond[] {
  const buckets: RequestsPerSecond[] = Array.from({ length: Math.ceil(durationSeconds) }, (_, t) => ({
    t,
    counts: {},
  }));
  for (const s of samples) {
    const b = buckets[Math.floor(s.at)];
    if (b === undefined || s.at < 0) continue;
    b.counts[String(s.status)] = (b.counts[String(s.status)] ?? 0) + 1;
  }
  return buckets;
}

/** Lowest ready/desired over the samples with desired > 0; 1 when there are none. */
export function minReadyRatio(samples: readonly ReadySample[]): number {
  let min = 1;
  for (const s of samples) if (s.desired > 0) min = Math.min(min, s.ready / s.desired);
  return Math.round(min * 1000) / 1000;
}

/**
 * Replica-seconds below desired: each sample's shortfall (desired - ready, when positive) holds until the next
 * sample, the last one until `endSeconds` (default: its own time). Rounded to 0.1.
 */
export function replicaSecondsBelowDesired(samples: readonly ReadySample[], endSeconds?: number): number {
  let sum = 0;
  for (const [i, s] of samples.entries()) {
    const next = samples[i + 1]?.t ?? Math.max(s.t, endSeconds ?? s.t);
    sum += Math.max(0, s.desired - s.ready) * Math.max(0, next - s.t);
  }
  return Math.round(sum * 10) / 10;
}

/** Every node's lifetime within [0, durationSeconds], summed: what the run paid for in nodes. Rounded to 1. */
export function nodeSeconds(lanes: readonly NodeLane[], durationSeconds: number): number {
  let sum = 0;
  for (const lane of lanes) {
    const from = Math.max(0, lane.from);
    const to = Math.min(durationSeconds, lane.to ?? durationSeconds);
    sum += Math.max(0, to - from);
  }
  return Math.round(sum);
}

/** Cores held by placeholders, integrated until `endSeconds`: each sample holds until the next. Rounded to 1. */
export function placeholderCpuSeconds(samples: readonly PlaceholderSample[], endSeconds: number): number {
  let sum = 0;
  for (const [i, s] of samples.entries()) {
    const next = Math.min(samples[i + 1]?.t ?? endSeconds, endSeconds);
    sum += (s.cpuMilli / 1000) * Math.max(0, next - Math.max(0, s.t));
  }
  return Math.round(sum);
}

/** An evacuation row with its slack computed: deadline - retiredAt, null when never retired. */
export function evacuation(e: Omit<Evacuation, "slackSeconds">): Evacuation {
  return {
    ...e,
    slackSeconds: e.retiredAt === null ? null : Math.round((e.deadline - e.retiredAt) * 10) / 10,
  };
}

export interface HandlerObservations {
  handler: string;
  /** What ran (see HandlerReport.version); null for `none`. */
  version: string | null;
  durationSeconds: number;
  responses: readonly ResponseSample[];
  ready: readonly ReadySample[];
  evacuations: readonly Omit<Evacuation, "slackSeconds">[];
  nodes: readonly NodeLane[];
  /** Each workload's replica count at the end of the run. */
  workloads?: readonly WorkloadOutcome[];
  /** CPU held by headroom placeholders over the run (none: no placeholders). */
  placeholders?: readonly PlaceholderSample[];
  /** lifeboat's Evacuation records by phase at the end of the run (lifeboat only). */
  evacuationPhases?: Readonly<Record<string, number>>;
}

/** A handler's report from what the runner observed. */
export function handlerReport(o: HandlerObservations): HandlerReport {
  const responses = countResponses(o.responses);
  const series: HandlerSeries = {
    durationSeconds: o.durationSeconds,
    requestsPerSecond: requestsPerSecond(o.responses, o.durationSeconds),
    readyReplicas: [...o.ready],
    nodes: [...o.nodes],
  };
  return {
    handler: o.handler,
    version: o.version,
    requests: o.responses.length,
    responses,
    errors5xx: countInRange(responses, 500, 599),
    minReadyRatio: minReadyRatio(o.ready),
    replicaSecondsBelowDesired: replicaSecondsBelowDesired(o.ready, o.durationSeconds),
    cost: {
      nodeSeconds: nodeSeconds(o.nodes, o.durationSeconds),
      placeholderCpuSeconds: placeholderCpuSeconds(o.placeholders ?? [], o.durationSeconds),
    },
    evacuations: o.evacuations.map(evacuation),
    ...(o.workloads === undefined ? {} : { workloads: [...o.workloads] }),
    ...(o.evacuationPhases === undefined ? {} : { evacuationPhases: { ...o.evacuationPhases } }),
    series,
  };
}

/** The lowest slack of a handler's evacuations; null when none retired. */
export function minSlack(h: HandlerReport): number | null {
  const slacks = h.evacuations.map((e) => e.slackSeconds).filter((s): s is number => s !== null);
  return slacks.length === 0 ? null : Math.min(...slacks);
}

/** The columns of the summary table (text and HTML). */
export const SUMMARY_COLUMNS = [
  "handler",
  "version",
  "requests",
  "2xx",
  "5xx",
  "502",
  "503",
  "504",
  "min ready ratio",
  "replica-s below desired",
  "node-s",
  "placeholder cpu-s",
  "evacuations",
  "min slack",
] as const;

/** One row of the summary table, as strings. */
export function summaryRow(h: HandlerReport): string[] {
  const slack = minSlack(h);
  const retired = h.evacuations.filter((e) => e.retiredAt !== null).length;
  return [
    h.handler,
    shortVersion(h.version),
    String(h.requests),
    String(countInRange(h.responses, 200, 299)),
    String(h.errors5xx),
    String(h.responses["502"] ?? 0),
    String(h.responses["503"] ?? 0),
    String(h.responses["504"] ?? 0),
    h.minReadyRatio.toFixed(2),
    h.replicaSecondsBelowDesired.toFixed(1),
    h.cost === undefined ? "-" : String(h.cost.nodeSeconds),
    h.cost === undefined ? "-" : String(h.cost.placeholderCpuSeconds),
    `${retired}/${h.evacuations.length}`,
    slack === null ? "-" : `${slack.toFixed(1)} s`,
  ];
}

/** The version cell: `NTH v1.25.6` for aws-node-termination-handler, as reported otherwise, `-` for none. */
export function shortVersion(version: string | null): string {
  if (version === null) return "-";
  return version.replace(/^aws-node-termination-handler /, "NTH ");
}

/**
 * The side-by-side table the CLI prints, one row per handler:
 *
 *   handler  version      requests  2xx    5xx  502  503  504  min ready ratio  replica-s below desired  node-s  placeholder cpu-s  evacuations  min slack
 *   none     -            13200     13041  159  159  0    0    0.75             110.0                    1980    0                  0/1          -
 *   nth      NTH v1.25.6  13200     13200  0    0    0    0    0.75             52.3                     1980    0                  1/1          97.8 s
 */
export function formatSummaryTable(report: Report): string {
  const rows = [SUMMARY_COLUMNS.map(String), ...report.handlers.map(summaryRow)];
  const widths = SUMMARY_COLUMNS.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]): string =>
    r
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const title = `scenario ${report.scenario} (time scale ${report.timeScale})`;
  return [title, line(rows[0] ?? []), ...rows.slice(1).map(line)].join("\n");
}

export interface Progress {
  handler: string;
  /** Scenario seconds elapsed. */
  elapsed: number;
  total: number;
  /** Requests per second over the last second. */
  rps: number;
  /** 5xx and failed requests so far. */
  errors: number;
}

/** One progress line: `[lifeboat] ######-------------  45/330 s   40 rps   0 errors`. */
export function formatProgress(p: Progress): string {
  const width = 20;
  const done = p.total <= 0 ? 1 : Math.min(1, Math.max(0, p.elapsed / p.total));
  const filled = Math.round(done * width);
  const bar = "#".repeat(filled) + "-".repeat(width - filled);
  const total = String(Math.round(p.total));
  return `[${p.handler}] ${bar} ${String(Math.floor(p.elapsed)).padStart(total.length)}/${total} s ${String(Math.round(p.rps)).padStart(4)} rps ${String(p.errors).padStart(5)} error${p.errors === 1 ? "" : "s"}`;
}
