/**
 * The lab report: `DIR/report.json` has exactly this shape. Times are seconds from the scenario's start (time
 * zero = traffic starts); null where a step never happened.
 */

export interface Report {
  scenario: string;
  timeScale: number;
  handlers: HandlerReport[];
}

export interface HandlerReport {
  /** `none`, `nth`, `nth-tuned` or `lifeboat`. */
  handler: string;
  /** What ran, e.g. `aws-node-termination-handler v1.25.6` or `lifeboat 0.1.0`; null for `none`. */
  version: string | null;
  /** Requests sent by the load generator during the measured run. */
  requests: number;
  /** Responses by HTTP status (`"200"`, `"502"`, ...); requests that got no HTTP response count under `"error"`. */
  responses: Record<string, number>;
  /** Responses with a status from 500 to 599. */
  errors5xx: number;
  /** Lowest Ready replicas / desired replicas seen during the run (1 = never below desired). */
  minReadyRatio: number;
  /**
   * The capacity dip as one number: the integral over the run of (desired - Ready replicas) where positive,
   * replica-seconds (one replica missing for 50 s = 50).
   */
  replicaSecondsBelowDesired: number;
  /**
   * What the run cost: node-seconds (every node's lifetime within the run, from time zero or its join to its
   * death, deletion or the end) and placeholder CPU-seconds (cores held by scheduled headroom placeholders,
   * integrated over the run). Absent in reports written before they were measured.
   */
  cost?: RunCost;
  evacuations: Evacuation[];
  /** Each workload's replicas at the end of the run (absent in reports written before they were recorded). */
  workloads?: WorkloadOutcome[];
  /**
   * lifeboat's Evacuation records by phase (`Done`, `Retiring`, ...) once they finished or a minute of
   * scenario time after the traffic ended; lifeboat only.
   */
  evacuationPhases?: Record<string, number>;
  /** Time series for the HTML timeline (kept in the JSON so the HTML can be redrawn). */
  series: HandlerSeries;
}

export interface RunCost {
  nodeSeconds: number;
  placeholderCpuSeconds: number;
}

/** CPU requested by scheduled headroom placeholders from `t` until the next sample. */
export interface PlaceholderSample {
  t: number;
  cpuMilli: number;
}

/** A workload at the end of a run. */
export interface WorkloadOutcome {
  name: string;
  /** The count the scenario asked for last: its `replicas`, or the last `scale` event. */
  desired: number;
  /** spec.replicas at the end of the run: equal to `desired` unless a handler left a change behind. */
  replicas: number;
}

/** One reclaimed node: when each step of its evacuation happened. */
export interface Evacuation {
  node: string;
  /** When EC2 issued the interruption warning. */
  noticeAt: number;
  /** When EC2 said it would take the instance (noticeAt + 120 s). */
  deadline: number;
  /** When the node became unschedulable. */
  cordonedAt: number | null;
  /** When replacements for all of its serving pods were Ready elsewhere. */
  replacementsReadyAt: number | null;
  /** When its last serving pod was gone (terminated after leaving the load balancer, or evicted). */
  retiredAt: number | null;
  /** When the instance actually died. */
  nodeDiedAt: number | null;
  /** deadline - retiredAt: how early the node was empty; negative when late; null when never retired. */
  slackSeconds: number | null;
}

export interface HandlerSeries {
  /** Length of the measured run. */
  durationSeconds: number;
  /** Responses per status per whole second `t` (requests answered in [t, t+1)). */
  requestsPerSecond: RequestsPerSecond[];
  /** Ready replicas against desired, sampled every second. */
  readyReplicas: ReadySample[];
  /** One lane per node that existed during the run. */
  nodes: NodeLane[];
}

export interface RequestsPerSecond {
  t: number;
  counts: Record<string, number>;
}

export interface ReadySample {
  t: number;
  ready: number;
  desired: number;
}

export type LaneMarkKind =
  | "joined"
  | "rebalance"
  | "notice"
  | "cordon"
  | "surge"
  | "replacements-ready"
  | "retired"
  | "death"
  | "deleted";

export interface LaneMark {
  at: number;
  kind: LaneMarkKind;
  /** One line for the tooltip. */
  detail?: string;
}

export interface NodeLane {
  node: string;
  group: string | null;
  zone: string | null;
  /** When the node joined (0 for nodes present at the start). */
  from: number;
  /** When it died or was deleted; null when it lived to the end. */
  to: number | null;
  marks: LaneMark[];
}
