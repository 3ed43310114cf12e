/**
 * What every phase of a plan reads: the input, and indexes built once per plan so that a plan costs what the
 * evacuations touch, not pods x workloads. Read-only once built; the phases write only to the PlanSink.
 */
import type { Evacuation, SurgeRecord } from "../domain/evacuation.ts";
import { isActive } from "../domain/evacuation.ts";
import type { ClusterSnapshot, NodeView, PodView, WorkloadView } from "../domain/snapshot.ts";
import { matchesLabels, workloadKey } from "../domain/snapshot.ts";
import type { Budgets } from "./budgets.ts";
import { drainBudgetSeconds } from "./budgets.ts";
import { windDownOf, type WindDown } from "./lifetimes.ts";
import { pushTo, rel } from "./plan-words.ts";
import { carriesCordon, type PlanPolicy } from "./policy.ts";

export interface PlanInput {
  snapshot: ClusterSnapshot;
  /** Every evacuation known: active ones drive the plan, finished ones are only forgotten after their TTL. */
  evacuations: readonly Evacuation[];
  now: number;
  budgets: Budgets;
  policy: PlanPolicy;
}

/** A pod on an evacuating node that lifeboat has to move. */
export interface Doomed {
  pod: PodView;
  evac: Evacuation;
  /** Last responsible moment to start deleting it (ms); null without a deadline. */
  lrm: number | null;
}

/** A surge record of an active evacuation, with where it is kept (the record's index in its evacuation). */
export interface RecordHit {
  evac: Evacuation;
  index: number;
  record: SurgeRecord;
}

export class PlanContext {
  readonly snapshot: ClusterSnapshot;
  readonly now: number;
  readonly budgets: Budgets;
  readonly policy: PlanPolicy;
  readonly all: readonly Evacuation[];
  readonly active: Evacuation[];
  /** Evacuations that cordon their node and move its pods (modes evacuate and prewarm), first one per node. */
  readonly moving: Evacuation[];
  /** Active evacuations that wind down instead (expired prewarm, give-up); their surges are theirs alone. */
  readonly windDowns: WindDown[];
  /** Nodes of moving and giving-up evacuations: what runs there never counts as replacement capacity. */
  readonly evacuatingNodes: Set<string>;
  readonly nodes: Map<string, NodeView>;
  readonly workloads: Map<string, WorkloadView>;
  /** The snapshot's pods by node name (unscheduled pods are in none). */
  readonly #podsByNode = new Map<string, PodView[]>();
  /** The snapshot's pods by owner workload key. */
  readonly podsByWorkload = new Map<string, PodView[]>();
  /** Surge records of active evacuations by workload key, in evacuation then record order. */
  readonly #recordsByWorkload = new Map<string, RecordHit[]>();
  readonly #windingDown: Set<Evacuation>;

  /** `timers` receives the times to plan again that the evacuations' lifetimes set (expiry, give-up). */
  constructor(input: PlanInput, timers: number[]) {
    this.snapshot = input.snapshot;
    this.now = input.now;
    this.budgets = input.budgets;
    this.policy = input.policy;
    this.all = input.evacuations;
    this.active = input.evacuations.filter(isActive);
    const seen = new Set<string>();
    const moving: Evacuation[] = [];
    const windDowns: WindDown[] = [];
    for (const e of this.active) {
      if (e.mode === "taint-only" || seen.has(e.nodeName)) continue;
      seen.add(e.nodeName);
      const windDown = windDownOf(e, input.policy, input.now, timers);
      if (windDown === null) moving.push(e);
      else windDowns.push(windDown);
    }
    this.moving = moving;
    this.windDowns = windDowns;
    this.evacuatingNodes = new Set([
      ...moving.map((e) => e.nodeName),
      ...windDowns.filter((w) => w.kind === "give-up").map((w) => w.evac.nodeName),
    ]);
    this.#windingDown = new Set(windDowns.map((w) => w.evac));
    this.nodes = new Map(input.snapshot.nodes.map((n) => [n.name, n]));
    this.workloads = new Map(input.snapshot.workloads.map((w) => [workloadKey(w.ref), w]));
    for (const pod of input.snapshot.pods) {
      if (pod.nodeName !== null) pushTo(this.#podsByNode, pod.nodeName, pod);
      if (pod.owner !== null) pushTo(this.podsByWorkload, workloadKey(pod.owner), pod);
    }
    for (const evac of this.active) {
      for (const [index, record] of evac.surges.entries())
        pushTo(this.#recordsByWorkload, workloadKey(record.workload), { evac, index, record });
    }
  }

  podsOn(node: string): readonly PodView[] {
    return this.#podsByNode.get(node) ?? [];
  }

  /** True when the node carries every mark of lifeboat's cordon, as configured (taint key, LB label). */
  cordoned(node: NodeView): boolean {
    return carriesCordon(node, this.policy);
  }

  /** True when `evac` winds down: its surges are handled by the wind-down alone. */
  windingDown(evac: Evacuation): boolean {
    return this.#windingDown.has(evac);
  }

  /**
   * The surge record naming `pod` of workload `key` in an active evacuation. Finished evacuations do not count
   * (an undone prewarm or a give-up leaves pods behind that a later evacuation must surge afresh), nor do
   * handed-back records (their pods are surged again on top of the count someone else set).
   */
  recordFor(key: string, pod: string): RecordHit | undefined {
    return (this.#recordsByWorkload.get(key) ?? []).find(
      (h) => h.record.handedBackAt === undefined && h.record.pods.includes(pod),
    );
  }

  /**
   * Unretired surge records of `key` in active evacuations that still move pods: together they are what
   * spec.replicas holds extra.
   */
  outstanding(key: string): RecordHit[] {
    return (this.#recordsByWorkload.get(key) ?? []).filter(
      (h) => !this.windingDown(h.evac) && h.record.retiredAt === null,
    );
  }

  /** Ready, not terminating pods of `key` on nodes that are not being evacuated: the only real replacements. */
  readyOutside(key: string): PodView[] {
    // Invariant: replacement capacity never counts evacuating nodes.
    return (this.podsByWorkload.get(key) ?? []).filter(
      (p) => p.ready && !p.deleting && p.nodeName !== null && !this.evacuatingNodes.has(p.nodeName),
    );
  }

  /** PodDisruptionBudgets (namespace/name) that select `pod` and allow no disruption now. */
  blockingPdbs(pod: PodView): string[] {
    return this.snapshot.pdbs
      .filter(
        (b) =>
          b.namespace === pod.namespace &&
          b.disruptionsAllowed <= 0 &&
          matchesLabels(b.matchLabels, pod.labels),
      )
      .map((b) => `${b.namespace}/${b.name}`);
  }

  /** The last responsible moment of `d` in words: deadline - drain - margin. */
  lrmText(d: Doomed): string {
    const drain = drainBudgetSeconds(d.pod.preStopSeconds, this.budgets);
    const deadline = d.evac.deadline === null ? "?" : rel(d.evac.deadline, this.now);
    return `deadline ${deadline} - drain ${drain} s - margin ${this.budgets.safetyMarginSeconds} s`;
  }
}
