/**
 * Prometheus metrics, prefix `lifeboat_`. Each Metrics owns its own prom-client Registry (never the global
 * one), so two controllers in one test process do not collide. Callers use the typed methods below; the
 * metric objects stay private so label names and values cannot drift. docs/metrics.md lists every metric.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { EvacuationPhase } from "../domain/evacuation.ts";
import type { NoticeKind, NoticeSource } from "../domain/notice.ts";
import type { WorkloadKind } from "../domain/snapshot.ts";

export const METRIC_PREFIX = "lifeboat_";

/** What became of a notice once a source handed it over. */
export type NoticeOutcome =
  /** Started or extended an evacuation. */
  | "accepted"
  /** Already folded into an evacuation (SQS redelivery, IMDS repeat, same instance in two events). */
  | "duplicate"
  /** Handled by policy as no action (rebalance policy `ignore`). */
  | "ignored"
  /** Could not be parsed. */
  | "malformed"
  /** A well-formed event of a kind lifeboat does not handle. */
  | "unknown"
  /** About an instance that is no node of this cluster. */
  | "foreign"
  /** About a node of ours that is already gone, with no evacuation to fold into: nothing left to do. */
  | "late"
  /** Handling raised an error (the message is kept for redelivery). */
  | "failed";

export type SqsMessageOutcome = "deleted" | "kept" | "failed";

/**
 * The call that failed, for `lifeboat_actuator_errors_total{action}`: one value per step of the executor
 * (`surge` covers the deletion-cost annotations and the scale-up) plus the calls outside steps.
 */
export const ACTUATOR_ACTIONS = [
  "cordon",
  "taint",
  "surge",
  "mark_doomed",
  "retire",
  "evict",
  "delete",
  "force_delete",
  "taint_out_of_service",
  "uncordon",
  "clear_request",
  "lifecycle_complete",
  "lifecycle_heartbeat",
  "asg_set_desired",
  "status_write",
  "evacuation_delete",
] as const;
export type ActuatorAction = (typeof ACTUATOR_ACTIONS)[number];
export type EvacuationOutcome = "done" | "missed_deadline" | "failed";
export type PodMoveMethod = "surge" | "evict" | "delete" | "force_delete";
export type EvictionMetricOutcome = "ok" | "pdb_blocked" | "not_found" | "error";
/** How one pass of the reconcile loop ended: ok, or failed (it threw; retried on the next pass). */
export type ReconcileOutcome = "ok" | "failed";

export const EVACUATION_PHASES = [
  "Pending",
  "Cordoned",
  "Surging",
  "Retiring",
  "Done",
  "Failed",
] as const satisfies readonly EvacuationPhase[];

/** Notice-to-step latencies: 50 ms (a fast cordon) to 5 minutes (well past a 2-minute deadline). */
export const LATENCY_BUCKETS = [
  0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300,
] as const;
/**
 * Deadline slack (deadline - done): negative means missed. Buckets below zero keep misses visible; note that
 * le="0" also holds a finish exactly at the deadline, so count misses with deadline_missed_total.
 */
export const SLACK_BUCKETS = [-120, -60, -30, -10, -5, -1, 0, 5, 10, 20, 30, 45, 60, 90, 120, 300] as const;

export interface MetricsOptions {
  /** Also export prom-client's default process and Node.js metrics (unprefixed: process_*, nodejs_*). */
  defaultMetrics?: boolean;
}

export class Metrics {
  readonly registry: Registry;
  readonly #notices: Counter<"kind" | "source" | "outcome">;
  readonly #sqsMessages: Counter<"outcome">;
  readonly #started: Counter<"reason_kind">;
  readonly #completed: Counter<"outcome">;
  readonly #phase: Gauge<"phase">;
  readonly #noticeAge: Histogram;
  readonly #toCordon: Histogram;
  readonly #toSurge: Histogram;
  readonly #toReady: Histogram;
  readonly #toDone: Histogram;
  readonly #slack: Histogram;
  readonly #missed: Counter;
  readonly #podsMoved: Counter<"workload_kind" | "method">;
  readonly #evictions: Counter<"outcome">;
  readonly #actuatorErrors: Counter<"action">;
  readonly #leader: Gauge;
  readonly #kubeRequests: Counter<"verb" | "resource">;
  readonly #eventsDropped: Counter;
  readonly #reconciles: Counter<"outcome">;

  // Long, and kept whole on purpose: one declaration per metric, read top to bottom like the metrics table
  // in docs/metrics.md; splitting it would only scatter the list.
  constructor(options: MetricsOptions = {}) {
    const registry = new Registry();
    this.registry = registry;
    const name = (n: string): string => `${METRIC_PREFIX}${n}`;
    const registers = [registry];

    this.#notices = new Counter({
      name: name("notices_total"),
      help: "Interruption notices received, by notice kind, source (sqs, imds, manual, annotation) and outcome (accepted, duplicate, ignored, malformed, unknown, foreign, failed).",
      labelNames: ["kind", "source", "outcome"],
      registers,
    });
    this.#sqsMessages = new Counter({
      name: name("sqs_messages_total"),
      help: "SQS messages handled, by what was done with them: deleted, kept (left to reappear or go to the dead-letter queue) or failed (the delete call failed).",
      labelNames: ["outcome"],
      registers,
    });
    this.#started = new Counter({
      name: name("evacuations_started_total"),
      help: "Evacuations started, by the kind of notice that started them.",
      labelNames: ["reason_kind"],
      registers,
    });
    this.#completed = new Counter({
      name: name("evacuations_completed_total"),
      help: "Evacuations finished, by outcome: done (every pod it moved left the node before the deadline), missed_deadline (one left after it) or failed.",
      labelNames: ["outcome"],
      registers,
    });
    this.#phase = new Gauge({
      name: name("evacuation_phase"),
      help: "Evacuations currently in each phase (Pending, Cordoned, Surging, Retiring, Done, Failed), as known to this replica.",
      labelNames: ["phase"],
      registers,
    });
    for (const phase of EVACUATION_PHASES) this.#phase.set({ phase }, 0);
    const latency = (n: string, help: string): Histogram =>
      new Histogram({ name: name(n), help, buckets: [...LATENCY_BUCKETS], registers });
    this.#noticeAge = new Histogram({
      name: name("notice_event_age_seconds"),
      help: "Age of a notice's event when lifeboat received it: receipt time minus the event's own time (EventBridge time, hook Time). Large values mean a backed-up queue or a local clock that is off; deadlines are computed from the event time.",
      labelNames: ["kind"],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.#toCordon = latency(
      "notice_to_cordon_seconds",
      "Seconds from a notice's arrival to its node being cordoned, tainted and labelled (goal p99: 1 s).",
    );
    this.#toSurge = latency(
      "notice_to_surge_seconds",
      "Seconds from a notice's arrival to the replacement surge being issued (goal p99: 2 s).",
    );
    this.#toReady = latency(
      "notice_to_replacements_ready_seconds",
      "Seconds from a notice's arrival to every replacement pod being Ready (readiness gates included).",
    );
    this.#toDone = latency(
      "notice_to_done_seconds",
      "Seconds from a notice's arrival to the evacuation being done (every doomed pod retired or evicted).",
    );
    this.#slack = new Histogram({
      name: name("deadline_slack_seconds"),
      help: "Seconds between the last pod an evacuation moved leaving the node (its eviction, or the retire that removed it) and the deadline; negative means a pod was still on the node when the deadline came. Only evacuations with a deadline.",
      buckets: [...SLACK_BUCKETS],
      registers,
    });
    this.#missed = new Counter({
      name: name("deadline_missed_total"),
      help: "Evacuations that finished after their deadline (slack below zero); each counted once.",
      registers,
    });
    this.#podsMoved = new Counter({
      name: name("pods_moved_total"),
      help: "Doomed pods moved off evacuating nodes, by workload kind and method: surge (replaced, then retired), evict (Eviction API), delete (graceful delete overriding a PodDisruptionBudget at the last responsible moment) or force_delete (instance already gone).",
      labelNames: ["workload_kind", "method"],
      registers,
    });
    this.#evictions = new Counter({
      name: name("evictions_total"),
      help: "Eviction API calls, by outcome: ok, pdb_blocked (429, retried), not_found (already gone) or error.",
      labelNames: ["outcome"],
      registers,
    });
    this.#actuatorErrors = new Counter({
      name: name("actuator_errors_total"),
      help: `Failed cluster or AWS calls, by action (${ACTUATOR_ACTIONS.join(", ")}); each is retried.`,
      labelNames: ["action"],
      registers,
    });
    this.#kubeRequests = new Counter({
      name: name("kube_requests_total"),
      help: "Requests sent to the Kubernetes API server, by verb (get, list, watch, create, update, patch, delete) and resource (with its subresource: pods/eviction, evacuations/status), counted as each leaves the client-side rate limit (--kube-api-qps, --kube-api-burst).",
      labelNames: ["verb", "resource"],
      registers,
    });
    this.#eventsDropped = new Counter({
      name: name("events_dropped_total"),
      help: "Kubernetes Events not written because 1,000 were already waiting to be (the API server or the Events' client-side rate limit was behind); every one is in the logs.",
      registers,
    });
    this.#reconciles = new Counter({
      name: name("reconciles_total"),
      help: "Passes of the leader's reconcile loop, by outcome: ok, or failed (retried on the next pass). Counted when a pass has finished its writes.",
      labelNames: ["outcome"],
      registers,
    });
    this.#leader = new Gauge({
      name: name("leader"),
      help: "1 while this replica holds the leader Lease (or runs without leader election), else 0.",
      registers,
    });
    if (options.defaultMetrics === true) collectDefaultMetrics({ register: registry });
  }

  noticeReceived(labels: {
    kind: NoticeKind | "unknown";
    source: NoticeSource;
    outcome: NoticeOutcome;
  }): void {
    this.#notices.inc(labels);
  }

  /** Receipt minus event time, seconds (a negative age, from a clock that is behind, counts as 0). */
  noticeEventAge(kind: NoticeKind, seconds: number): void {
    this.#noticeAge.observe({ kind }, Math.max(0, seconds));
  }

  sqsMessageHandled(outcome: SqsMessageOutcome): void {
    this.#sqsMessages.inc({ outcome });
  }

  evacuationStarted(reasonKind: NoticeKind): void {
    this.#started.inc({ reason_kind: reasonKind });
  }

  /** Counts a finished evacuation. Record its slack separately with observeDeadlineSlack. */
  evacuationCompleted(outcome: EvacuationOutcome): void {
    this.#completed.inc({ outcome });
  }

  /** Sets the per-phase gauge from a full count; phases not given are set to 0. */
  setEvacuationPhases(counts: Partial<Record<EvacuationPhase, number>>): void {
    for (const phase of EVACUATION_PHASES) this.#phase.set({ phase }, counts[phase] ?? 0);
  }

  observeNoticeToCordon(seconds: number): void {
    this.#toCordon.observe(seconds);
  }

  observeNoticeToSurge(seconds: number): void {
    this.#toSurge.observe(seconds);
  }

  observeNoticeToReplacementsReady(seconds: number): void {
    this.#toReady.observe(seconds);
  }

  observeNoticeToDone(seconds: number): void {
    this.#toDone.observe(seconds);
  }

  /** Records deadline - finish in seconds; below zero also counts the one missed deadline. */
  observeDeadlineSlack(seconds: number): void {
    this.#slack.observe(seconds);
    if (seconds < 0) this.#missed.inc();
  }

  podsMoved(labels: { workloadKind: WorkloadKind; method: PodMoveMethod }, count = 1): void {
    this.#podsMoved.inc({ workload_kind: labels.workloadKind, method: labels.method }, count);
  }

  eviction(outcome: EvictionMetricOutcome): void {
    this.#evictions.inc({ outcome });
  }

  actuatorError(action: ActuatorAction): void {
    this.#actuatorErrors.inc({ action });
  }

  kubeRequest(labels: { verb: string; resource: string }): void {
    this.#kubeRequests.inc(labels);
  }

  eventDropped(): void {
    this.#eventsDropped.inc();
  }

  /** One pass of the reconcile loop finished (its writes done, or it failed). */
  reconciled(outcome: ReconcileOutcome): void {
    this.#reconciles.inc({ outcome });
  }

  setLeader(isLeader: boolean): void {
    this.#leader.set(isLeader ? 1 : 0);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text served on /metrics. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
