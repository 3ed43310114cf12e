/**
 * Where the planner's phases put their steps: one list per kind, concatenated in execution order at the end,
 * so that the order of the plan never depends on the order in which the phases ran.
 */
import type { Plan, Skip, Step } from "../domain/plan.ts";

type StepOf<K extends Step["kind"]> = Extract<Step, { kind: K }>;

export class PlanSink {
  readonly cordons: Step[] = [];
  /** Early-node requests: right after the cordons, so the node is asked for as soon as possible. */
  readonly nodeRequests: Step[] = [];
  /** Out-of-service taints, one per node: before the force-deletes (a StatefulSet pod waits for its node's). */
  readonly outOfService: StepOf<"taint-out-of-service">[] = [];
  readonly forceDeletes: Step[] = [];
  readonly surges: Step[] = [];
  readonly marks: Step[] = [];
  readonly retires: Step[] = [];
  readonly evicts: (StepOf<"evict"> | StepOf<"delete">)[] = [];
  readonly warns: Step[] = [];
  readonly completes: Step[] = [];
  readonly skipped: Skip[] = [];
  /** Workloads surged in this plan: nothing retires them in the same plan. */
  readonly surgedNow = new Set<string>();
  /** Times to plan again that no wait step shows (prewarm expiry, give-up, TTL). */
  readonly timers: number[] = [];
  readonly #waits = new Map<string, StepOf<"wait">>();

  /** Keeps one wait per subject, the earliest. */
  wait(subject: string, until: number | null, reason: string): void {
    const prior = this.#waits.get(subject);
    if (prior !== undefined && (until === null || (prior.until !== null && prior.until <= until))) return;
    this.#waits.set(subject, { kind: "wait", until, subject, reason });
  }

  skip(pod: { namespace: string; name: string }, evac: { nodeName: string }, reason: string): void {
    this.skipped.push({ pod: { namespace: pod.namespace, name: pod.name }, node: evac.nodeName, reason });
  }

  /** The plan: every step in execution order, and when to plan again. */
  plan(now: number): Plan {
    const waits = [...this.#waits.values()];
    const untils = [
      ...waits.map((w) => w.until).filter((u): u is number => u !== null),
      ...this.timers.filter((t) => t > now),
    ];
    return {
      // Invariant (make before break): every cordon comes before any surge, every surge before any retire or
      // eviction. The executor runs steps in order, so no replacement can land on a node still being emptied.
      steps: [
        ...this.cordons,
        ...this.nodeRequests,
        ...this.outOfService,
        ...this.forceDeletes,
        ...this.surges,
        ...this.marks,
        ...this.retires,
        ...this.evicts,
        ...this.warns,
        ...this.completes,
        ...waits,
      ],
      skipped: this.skipped,
      nextReviewAt: untils.length === 0 ? null : Math.min(...untils),
    };
  }
}
