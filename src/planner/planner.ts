/**
 * The pure, deadline-aware planner: cluster snapshot + every active evacuation + now + budgets -> one plan.
 * No I/O, no clock: `now` is an input, so the same input always gives the same plan.
 *
 * The shape of an evacuation, per pod on a doomed node:
 * - Deployment / bare ReplicaSet: surge (+k, doomed pods marked with a low pod-deletion-cost), wait until the
 *   replacements are Ready, retire (-k) so the ReplicaSet removes the doomed pods, evict any it left behind.
 *   At the pod's last responsible moment (LRM) it is evicted whether or not the replacements are Ready.
 * - StatefulSet, Job, other controllers: evict at once (the replacement needs the old pod gone).
 * - Bare pods: evict at the LRM (nothing replaces them, so they serve as long as it is safe).
 * - DaemonSet and mirror pods: left alone.
 * - Instance already gone: force-delete everything but mirror pods.
 * - At a pod's LRM a PodDisruptionBudget no longer holds it: the node dies at the deadline whatever the PDB
 *   says, so a pod it would refuse is deleted gracefully instead of evicted (a Warning names the PDB).
 *
 * And how an evacuation ends (docs/design.md, "How an evacuation ends"):
 * - Done: nothing lifeboat must move is left on the node and every surge is retired or handed back.
 * - A surge whose workload was deleted (or replaced) or scaled below the surge by someone else is handed
 *   back: closed without a scale, the count is theirs.
 * - A prewarm that sees no deadline within the prewarm timeout is undone: surges retired, nothing evicted,
 *   the node uncordoned, then Done.
 * - Still active `giveUpAfterSeconds` after the deadline (after the notice without one): surges retired or
 *   handed back, nothing more moved, then Failed.
 * - Taint-only is Done once the node carries the PreferNoSchedule taint.
 * - Done and Failed evacuations are forgotten (deleted) `ttlSecondsAfterFinished` after they finished.
 */
import type { Evacuation, SurgeRecord } from "../domain/evacuation.ts";
import { isPlaceholder } from "../domain/headroom.ts";
import { finishedAt, isActive } from "../domain/evacuation.ts";
import type { HandBackCause, Plan, Skip, Step, SurgeAttribution } from "../domain/plan.ts";
import { EVACUATE_ANNOTATION, EXCLUDE_FROM_LB_LABEL, POD_DELETION_COST_ANNOTATION } from "../domain/plan.ts";
import type { ClusterSnapshot, NodeView, PodView, Resources, WorkloadView } from "../domain/snapshot.ts";
import { matchesLabels, podKey, workloadKey } from "../domain/snapshot.ts";
import type { Budgets } from "./budgets.ts";
import { drainBudgetSeconds, lastResponsibleMoment } from "./budgets.ts";
import { carriesCordon, type PlanPolicy } from "./policy.ts";

export interface PlanInput {
  snapshot: ClusterSnapshot;
  /** Every evacuation known: active ones drive the plan, finished ones are only forgotten after their TTL. */
  evacuations: readonly Evacuation[];
  now: number;
  budgets: Budgets;
  policy: PlanPolicy;
}

type StepOf<K extends Step["kind"]> = Extract<Step, { kind: K }>;

/** A pod on an evacuating node that lifeboat has to move. */
interface Doomed {
  pod: PodView;
  evac: Evacuation;
  /** Last responsible moment to start deleting it (ms); null without a deadline. */
  lrm: number | null;
}

interface RecordHit {
  evac: Evacuation;
  index: number;
  record: SurgeRecord;
}

/**
 * An active evacuation that only winds down: it retires (or hands back) its surges without waiting for
 * anything, moves no pod, then ends: `undo` (an expired prewarm) uncordons and completes, `give-up` fails.
 */
interface WindDown {
  evac: Evacuation;
  kind: "undo" | "give-up";
  /** Why, in words: the start of every reason of its steps. */
  why: string;
}

/** How the open surges of one workload stand (see Planner#judgeSurges). */
interface SurgeJudgement {
  /** Surges none of whose doomed pods is left: taken back at once. */
  gone: RecordHit[];
  /** Surges of evacuations that may move pods, with doomed pods still there. */
  waiting: RecordHit[];
  /** Those of `waiting` whose replacements are Ready, in the order they were issued. */
  ready: RecordHit[];
  /** The readiness figures in words, for reasons. */
  readiness: string;
}

export function planEvacuations(input: PlanInput): Plan {
  return new Planner(input).plan();
}

/** When a prewarm without a deadline is undone; null for anything else. */
export function prewarmExpiresAt(e: Evacuation, policy: PlanPolicy): number | null {
  if (e.mode !== "prewarm" || e.deadline !== null) return null;
  return e.noticedAt + policy.prewarmTimeoutSeconds * 1000;
}

/** When an evacuation that is still active gives up; null for a prewarm still waiting for its deadline. */
export function giveUpAt(e: Evacuation, policy: PlanPolicy): number | null {
  if (e.mode === "taint-only" || prewarmExpiresAt(e, policy) !== null) return null;
  return (e.deadline ?? e.noticedAt) + policy.giveUpAfterSeconds * 1000;
}

/** How long after a retire a scale-down the controller has not carried out yet still defers the check. */
const RETIRE_SETTLE_MAX_MS = 60_000;

/** True when the evacuation may remove pods: a real evacuation, or a prewarm that has learned its deadline. */
function canMove(evac: Evacuation): boolean {
  return evac.mode === "evacuate" || evac.deadline !== null;
}

function isFinished(pod: PodView): boolean {
  return pod.phase === "Succeeded" || pod.phase === "Failed";
}

/** "in 12 s", "3 s ago", "now": plans talk in times relative to `now` so their reasons are readable. */
function rel(at: number, now: number): string {
  const s = Math.round((at - now) / 1000);
  if (s === 0) return "now";
  return s > 0 ? `in ${s} s` : `${-s} s ago`;
}

/** Appends `value` to the list at `key`, creating it. */
function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

class Planner {
  readonly #snapshot: ClusterSnapshot;
  readonly #now: number;
  readonly #budgets: Budgets;
  readonly #policy: PlanPolicy;
  readonly #all: readonly Evacuation[];
  readonly #active: Evacuation[];
  /** Evacuations that cordon their node and move its pods (modes evacuate and prewarm), first one per node. */
  readonly #moving: Evacuation[];
  /** Active evacuations that wind down instead (expired prewarm, give-up); their surges are theirs alone. */
  readonly #windDowns: WindDown[];
  /** Nodes of moving and giving-up evacuations: what runs there never counts as replacement capacity. */
  readonly #evacuatingNodes: Set<string>;
  readonly #nodes: Map<string, NodeView>;
  readonly #workloads: Map<string, WorkloadView>;
  // Indexes built once per plan, so that a plan costs what the evacuations touch, not pods x workloads.
  /** The snapshot's pods by node name (unscheduled pods are in none). */
  readonly #podsByNode = new Map<string, PodView[]>();
  /** The snapshot's pods by owner workload key. */
  readonly #podsByWorkload = new Map<string, PodView[]>();
  /** Surge records of active evacuations by workload key, in evacuation then record order. */
  readonly #recordsByWorkload = new Map<string, RecordHit[]>();
  /** Evacuations that wind down (expired prewarm, give-up). */
  readonly #windingDownSet: Set<Evacuation>;

  // Steps by kind, concatenated in execution order at the end.
  readonly #cordons: Step[] = [];
  readonly #forceDeletes: Step[] = [];
  readonly #surges: Step[] = [];
  readonly #marks: Step[] = [];
  readonly #retires: Step[] = [];
  readonly #evicts: (StepOf<"evict"> | StepOf<"delete">)[] = [];
  readonly #warns: Step[] = [];
  /** Early-node requests: right after the cordons, so the node is asked for as soon as possible. */
  readonly #nodeRequests: Step[] = [];
  readonly #completes: Step[] = [];
  readonly #waits = new Map<string, StepOf<"wait">>();
  readonly #skipped: Skip[] = [];
  /** Workloads surged in this plan: nothing retires them in the same plan. */
  readonly #surgedNow = new Set<string>();
  /** Times to plan again that no wait step shows (prewarm expiry, give-up, TTL). */
  readonly #timers: number[] = [];

  constructor(input: PlanInput) {
    this.#snapshot = input.snapshot;
    this.#now = input.now;
    this.#budgets = input.budgets;
    this.#policy = input.policy;
    this.#all = input.evacuations;
    this.#active = input.evacuations.filter(isActive);
    const seen = new Set<string>();
    const moving: Evacuation[] = [];
    const windDowns: WindDown[] = [];
    for (const e of this.#active) {
      if (e.mode === "taint-only" || seen.has(e.nodeName)) continue;
      seen.add(e.nodeName);
      const windDown = this.#windDownOf(e);
      if (windDown === null) moving.push(e);
      else windDowns.push(windDown);
    }
    this.#moving = moving;
    this.#windDowns = windDowns;
    this.#evacuatingNodes = new Set([
      ...moving.map((e) => e.nodeName),
      ...windDowns.filter((w) => w.kind === "give-up").map((w) => w.evac.nodeName),
    ]);
    this.#windingDownSet = new Set(windDowns.map((w) => w.evac));
    this.#nodes = new Map(input.snapshot.nodes.map((n) => [n.name, n]));
    this.#workloads = new Map(input.snapshot.workloads.map((w) => [workloadKey(w.ref), w]));
    for (const pod of input.snapshot.pods) {
      if (pod.nodeName !== null) pushTo(this.#podsByNode, pod.nodeName, pod);
      if (pod.owner !== null) pushTo(this.#podsByWorkload, workloadKey(pod.owner), pod);
    }
    for (const evac of this.#active) {
      for (const [index, record] of evac.surges.entries())
        pushTo(this.#recordsByWorkload, workloadKey(record.workload), { evac, index, record });
    }
  }

  #podsOn(node: string): readonly PodView[] {
    return this.#podsByNode.get(node) ?? [];
  }

  plan(): Plan {
    this.#taintOnly();
    this.#cordon();
    const doomed = this.#classify();
    this.#deployments(doomed.byWorkload);
    this.#evictAtOnce(doomed.atOnce);
    this.#evictAtLrm(doomed.atLrm, doomed);
    this.#shortPreStopWarnings([
      ...[...doomed.byWorkload.values()].flat(),
      ...doomed.atOnce,
      ...doomed.atLrm,
    ]);
    this.#pdbWarnings();
    this.#complete();
    this.#windDown();
    const served = this.#clearServedRequests();
    this.#forget(served);

    const waits = [...this.#waits.values()];
    const untils = [
      ...waits.map((w) => w.until).filter((u): u is number => u !== null),
      ...this.#timers.filter((t) => t > this.#now),
    ];
    return {
      // Invariant (make before break): every cordon comes before any surge, every surge before any retire or
      // eviction. The executor runs steps in order, so no replacement can land on a node still being emptied.
      steps: [
        ...this.#cordons,
        ...this.#nodeRequests,
        ...this.#forceDeletes,
        ...this.#surges,
        ...this.#marks,
        ...this.#retires,
        ...this.#evicts,
        ...this.#warns,
        ...this.#completes,
        ...waits,
      ],
      skipped: this.#skipped,
      nextReviewAt: untils.length === 0 ? null : Math.min(...untils),
    };
  }

  // ---- nodes ----------------------------------------------------------------------------------------

  /** Null for an evacuation that still moves pods; otherwise how and why it winds down. */
  #windDownOf(e: Evacuation): WindDown | null {
    const expiry = prewarmExpiresAt(e, this.#policy);
    if (expiry !== null) {
      if (this.#now < expiry) {
        this.#timers.push(expiry);
        return null;
      }
      return {
        evac: e,
        kind: "undo",
        why: `prewarm of ${e.nodeName} saw no interruption warning within ${this.#policy.prewarmTimeoutSeconds} s of the rebalance recommendation (${rel(e.noticedAt, this.#now)}): undo it`,
      };
    }
    const giveUp = giveUpAt(e, this.#policy);
    if (giveUp === null) return null;
    if (this.#now < giveUp) {
      this.#timers.push(giveUp);
      return null;
    }
    const since =
      e.deadline === null
        ? `its notice (${rel(e.noticedAt, this.#now)}, no deadline)`
        : `its deadline (${rel(e.deadline, this.#now)})`;
    return {
      evac: e,
      kind: "give-up",
      why: `evacuation of ${e.nodeName} is still not done ${this.#policy.giveUpAfterSeconds} s after ${since}: give up`,
    };
  }

  #taintOnly(): void {
    const key = this.#policy.taintKey;
    for (const evac of this.#active) {
      if (evac.mode !== "taint-only" || this.#evacuatingNodes.has(evac.nodeName)) continue;
      const node = this.#nodes.get(evac.nodeName);
      const tainted =
        node === undefined || node.taints.some((t) => t.key === key && t.effect === "PreferNoSchedule");
      if (tainted) {
        // Its whole job is the taint: once it is there (or the node is gone) the evacuation is done, so that
        // it neither piles up nor keeps a later notice for the node from starting an evacuation of its own.
        this.#completes.push({
          kind: "complete",
          evacuation: evac.name,
          reason:
            node === undefined
              ? `${evac.nodeName} is gone: nothing left to taint`
              : `${node.name} carries ${key}:PreferNoSchedule (policy taint-only): nothing else to do`,
        });
        continue;
      }
      this.#cordons.push({
        kind: "taint-prefer-no-schedule",
        node: node.name,
        evacuation: evac.name,
        reason: `${evac.noticeKind} for ${node.name} (policy taint-only): taint ${key}:PreferNoSchedule so the scheduler avoids the node while it is at risk; nothing is moved`,
      });
    }
  }

  /** True when the node carries every mark of lifeboat's cordon, as configured (taint key, LB label). */
  #cordoned(node: NodeView): boolean {
    return carriesCordon(node, this.#policy);
  }

  #cordon(): void {
    // Invariant: every evacuating node is cordoned before anything is surged anywhere, so replacements of one
    // node's pods never land on another node that is being evacuated (aws-node-termination-handler#537).
    const key = this.#policy.taintKey;
    for (const evac of this.#moving) {
      const node = this.#nodes.get(evac.nodeName);
      if (node === undefined || this.#cordoned(node)) continue;
      const deadline =
        evac.deadline === null ? "no deadline yet" : `deadline ${rel(evac.deadline, this.#now)}`;
      const label = this.#policy.excludeFromLb
        ? ` and label ${EXCLUDE_FROM_LB_LABEL}=true so nothing new lands here and instance-mode target groups let the node go`
        : " so nothing new lands here";
      this.#cordons.push({
        kind: "cordon",
        node: node.name,
        evacuation: evac.name,
        reason: `${evac.noticeKind} for ${evac.instanceId ?? node.name} (${deadline}): cordon, taint ${key}:NoSchedule${label}`,
      });
    }
  }

  // ---- pods -----------------------------------------------------------------------------------------

  #classify(): { byWorkload: Map<string, Doomed[]>; atOnce: Doomed[]; atLrm: Doomed[] } {
    const byWorkload = new Map<string, Doomed[]>();
    const atOnce: Doomed[] = [];
    const atLrm: Doomed[] = [];
    for (const evac of this.#moving) {
      for (const pod of this.#podsOn(evac.nodeName)) {
        if (evac.instanceGone) {
          this.#forceDelete(pod, evac);
          continue;
        }
        if (pod.mirror) {
          this.#skip(pod, evac, "mirror pod of a static pod: the kubelet owns it, the API cannot move it");
          continue;
        }
        if (pod.owner?.kind === "DaemonSet") {
          this.#skip(
            pod,
            evac,
            `DaemonSet pod (${pod.owner.name}): it runs on every node and goes with this one`,
          );
          continue;
        }
        if (isFinished(pod)) {
          this.#skip(pod, evac, `already finished (${pod.phase}): nothing to move`);
          continue;
        }
        if (pod.deleting) continue; // already leaving; completion waits for it to be gone
        const d: Doomed = {
          pod,
          evac,
          lrm: lastResponsibleMoment(evac.deadline, pod.preStopSeconds, this.#budgets),
        };
        const owner = pod.owner;
        if (owner === null) {
          atLrm.push(d);
        } else if (owner.kind === "Deployment" || owner.kind === "ReplicaSet") {
          const key = workloadKey(owner);
          if (this.#workloads.has(key)) {
            pushTo(byWorkload, key, d);
          } else {
            atLrm.push(d); // cannot judge its replacements without the workload: treat it like a bare pod
          }
        } else {
          atOnce.push(d);
        }
      }
    }
    return { byWorkload, atOnce, atLrm };
  }

  #forceDelete(pod: PodView, evac: Evacuation): void {
    if (pod.mirror) {
      this.#skip(pod, evac, "mirror pod of a static pod: it disappears with the node");
      return;
    }
    this.#forceDeletes.push({
      kind: "force-delete",
      pod: { namespace: pod.namespace, name: pod.name },
      node: evac.nodeName,
      evacuation: evac.name,
      reason: `instance ${evac.instanceId ?? evac.nodeName} is shutting down or terminated: the pod cannot run (or run its preStop) any more; delete it now so endpoints and its controller let go at once instead of after the node-monitor grace period`,
    });
  }

  #skip(pod: PodView, evac: Evacuation, reason: string): void {
    this.#skipped.push({ pod: { namespace: pod.namespace, name: pod.name }, node: evac.nodeName, reason });
  }

  /** PodDisruptionBudgets (namespace/name) that select `pod` and allow no disruption now. */
  #blockingPdbs(pod: PodView): string[] {
    return this.#snapshot.pdbs
      .filter(
        (b) =>
          b.namespace === pod.namespace &&
          b.disruptionsAllowed <= 0 &&
          matchesLabels(b.matchLabels, pod.labels),
      )
      .map((b) => `${b.namespace}/${b.name}`);
  }

  /**
   * Evicts `d`. Invariant: at or past the pod's last responsible moment a PodDisruptionBudget does not hold it
   * back: the node dies at the deadline whatever the PDB says, and a pod still in the load balancer then fails
   * every request sent to it. So a pod a PDB would refuse now is deleted gracefully instead (its preStop and
   * grace period run), and an eviction refused later is answered the same way by the executor.
   */
  #evict(d: Doomed, reason: string, atLastResponsibleMoment: boolean): void {
    const pod = { namespace: d.pod.namespace, name: d.pod.name };
    const pdbs = atLastResponsibleMoment ? this.#blockingPdbs(d.pod) : [];
    if (pdbs.length > 0) {
      this.#evicts.push({
        kind: "delete",
        pod,
        node: d.evac.nodeName,
        evacuation: d.evac.name,
        pdbs,
        reason: `${reason}; PodDisruptionBudget ${pdbs.join(", ")} allows no disruption now, but at the last responsible moment the disruption is no longer voluntary (the node dies at the deadline whatever the budget says): delete the pod with its own grace period instead of evicting it`,
      });
      return;
    }
    this.#evicts.push({
      kind: "evict",
      pod,
      node: d.evac.nodeName,
      evacuation: d.evac.name,
      atLastResponsibleMoment,
      reason,
    });
  }

  /**
   * Said in advance, in the waits of pods that have an LRM: a PDB that allows no disruption now will not hold
   * them at the LRM. Empty when no such PDB selects them.
   */
  #pdbAtLrmNote(pods: readonly Doomed[]): string {
    const pdbs = [...new Set(pods.filter((d) => d.lrm !== null).flatMap((d) => this.#blockingPdbs(d.pod)))];
    if (pdbs.length === 0) return "";
    return `; PodDisruptionBudget ${pdbs.join(", ")} allows no disruption now: if it still allows none at the last responsible moment, the pods are deleted anyway (graceful, Warning PdbOverridden), since the node dies whatever the budget says`;
  }

  /** Keeps one wait per subject, the earliest. */
  #wait(subject: string, until: number | null, reason: string): void {
    const prior = this.#waits.get(subject);
    if (prior !== undefined && (until === null || (prior.until !== null && prior.until <= until))) return;
    this.#waits.set(subject, { kind: "wait", until, subject, reason });
  }

  #lrmText(d: Doomed): string {
    const drain = drainBudgetSeconds(d.pod.preStopSeconds, this.#budgets);
    const deadline = d.evac.deadline === null ? "?" : rel(d.evac.deadline, this.#now);
    return `deadline ${deadline} - drain ${drain} s - margin ${this.#budgets.safetyMarginSeconds} s`;
  }

  // ---- Deployments and bare ReplicaSets: surge, retire, check ------------------------------------------

  /**
   * The surge record naming `pod` of workload `key` in an active evacuation. Finished evacuations do not count
   * (an undone prewarm or a give-up leaves pods behind that a later evacuation must surge afresh), nor do
   * handed-back records (their pods are surged again on top of the count someone else set).
   */
  #recordFor(key: string, pod: string): RecordHit | undefined {
    return (this.#recordsByWorkload.get(key) ?? []).find(
      (h) => h.record.handedBackAt === undefined && h.record.pods.includes(pod),
    );
  }

  /** True when `evac` winds down: its surges are handled by #windDown alone. */
  #windingDown(evac: Evacuation): boolean {
    return this.#windingDownSet.has(evac);
  }

  /**
   * Unretired surge records of `key` in active evacuations that still move pods: together they are what
   * spec.replicas holds extra.
   */
  #outstanding(key: string): RecordHit[] {
    return (this.#recordsByWorkload.get(key) ?? []).filter(
      (h) => !this.#windingDown(h.evac) && h.record.retiredAt === null,
    );
  }

  #deployments(byWorkload: Map<string, Doomed[]>): void {
    const keys = new Set(byWorkload.keys());
    for (const evac of this.#active) {
      if (this.#windingDown(evac)) continue;
      for (const s of evac.surges) if (s.retiredAt === null) keys.add(workloadKey(s.workload));
    }
    const surged: { view: WorkloadView; pods: Doomed[] }[] = [];
    for (const key of keys) {
      const view = this.#workloads.get(key);
      const pods = byWorkload.get(key) ?? [];
      const fresh = this.#workload(key, view, pods);
      if (view !== undefined && fresh.length > 0) surged.push({ view, pods: fresh });
    }
    this.#capacityWarnings(surged);
  }

  /**
   * Why lifeboat may not take `k` replicas back from the workload: it is gone (deleted, or deleted and created
   * again: the snapshot has no such workload, or another object), or someone scaled it below what lifeboat
   * added (to 0, say), or someone scaled it at all since lifeboat's last write. Null when it may.
   */
  #handBackCause(view: WorkloadView | undefined, k: number): { cause: HandBackCause; what: string } | null {
    if (k === 0) return null;
    if (view === undefined) return { cause: "workload-gone", what: "it no longer exists" };
    if (view.specReplicas < k)
      return {
        cause: "scaled-below-surge",
        what: `someone scaled it to ${view.specReplicas}, below the ${k} lifeboat added`,
      };
    // The ledger records the count lifeboat wrote in the same write as spec.replicas, so both are seen
    // together: a difference is someone else's change, never a stale view of lifeboat's own.
    if (view.ledgerReplicas !== null && view.specReplicas !== view.ledgerReplicas)
      return {
        cause: "scaled-by-someone-else",
        what: `someone (an HPA, a person) scaled it to ${view.specReplicas} since lifeboat wrote ${view.ledgerReplicas}; a -${k} now would cut below their count`,
      };
    return null;
  }

  /** Closes `hits` without a scale (one step per workload); the reason starts with `why`. */
  #handBack(hits: RecordHit[], cause: HandBackCause, why: string): void {
    const first = hits[0];
    if (first === undefined) return;
    const by = hits.reduce((sum, h) => sum + h.record.by, 0);
    this.#retires.push({
      kind: "hand-back",
      workload: first.record.workload,
      cause,
      records: hits.map((h) => ({ evacuation: h.evac.name, index: h.index })),
      reason: `${why}: close the surge of +${by} without scaling back (the replica count is theirs now, lifeboat takes nothing from it)`,
    });
  }

  /** Plans one workload; returns the pods surged in this plan. */
  #workload(key: string, view: WorkloadView | undefined, pods: Doomed[]): Doomed[] {
    const now = this.#now;
    const open = this.#outstanding(key);
    const handBack = this.#handBackCause(
      view,
      open.reduce((sum, h) => sum + h.record.by, 0),
    );
    if (handBack !== null) {
      // Nothing else for this workload in this plan: the doomed pods still there are uncovered once the records
      // are closed, and the next plan surges them afresh on top of the count the other party chose.
      this.#handBack(open, handBack.cause, `${key}: ${handBack.what}`);
      if (pods.length > 0)
        this.#wait(
          key,
          now + this.#budgets.reviewIntervalSeconds * 1000,
          `surge of ${key} handed back; its ${plural(pods.length, "doomed pod")} still here are surged again on top of the new count`,
        );
      return [];
    }
    // Invariant: one surge per workload covers all its doomed pods across nodes, and a pod named in an open or
    // retired surge record (these persist in the Evacuation status) is never surged again, even by a
    // restarted controller.
    const uncovered = pods.filter((d) => this.#recordFor(key, d.pod.name) === undefined);
    if (view !== undefined && uncovered.length > 0) this.#surge(key, view, uncovered);
    if (view === undefined) {
      this.#judgeDoomed(key, view, pods, new Set(), new Set(), "");
      return [];
    }
    const judged = this.#judgeSurges(key, view, open);
    // Invariant: never surge and retire one workload in the same plan: the ReplicaSet would rank the fresh,
    // unready replacements first for deletion and undo the surge.
    const retiring = uncovered.length === 0 ? this.#retireSurges(key, view, pods, judged) : new Set<string>();
    // Doomed pods of this plan's surge and of open surges that do not carry the deletion cost yet.
    const toMark = pods.filter(
      (d) =>
        d.pod.annotations[POD_DELETION_COST_ANNOTATION] !== String(this.#budgets.deletionCost) &&
        !retiring.has(d.pod.name) &&
        (uncovered.includes(d) || this.#recordFor(key, d.pod.name)?.record.retiredAt === null),
    );
    if (toMark.length > 0)
      this.#mark(
        view,
        toMark.map((d) => d.pod),
      );
    const readyPods = new Set(judged.ready.flatMap((h) => h.record.pods));
    const awaiting = this.#judgeDoomed(key, view, pods, retiring, readyPods, judged.readiness);
    const waitingSurges = judged.waiting.filter((h) => !judged.ready.includes(h));
    if (awaiting.length > 0 || waitingSurges.length > 0 || (uncovered.length > 0 && judged.gone.length > 0))
      this.#waitForReplacements(key, judged, awaiting, uncovered.length);
    return uncovered;
  }

  /**
   * Judges each open surge of a workload on its own terms, never by the sum of all of them (one replacement
   * that cannot be placed must not keep every other surge open):
   * - `gone`: none of its doomed pods is left (evicted at the LRM, force-deleted, removed by someone else):
   *   it can be taken back at once; the ReplicaSet removes the unready extra pods first, so capacity does not
   *   drop below what is left.
   * - `ready`: its replacements are Ready. Judged in the order the surges were issued, each one accepted only
   *   if, with its doomed pods gone (and those of the surges accepted before it), the workload still has its
   *   desired count Ready (the doomed pods of other surges still serve and count), and at least as many pods
   *   came up since the earliest accepted surge as they add together (guards against a snapshot whose
   *   spec.replicas predates the surges), or the workload is full without any doomed pod at all.
   */
  #judgeSurges(key: string, view: WorkloadView, open: RecordHit[]): SurgeJudgement {
    const k = open.reduce((sum, h) => sum + h.record.by, 0);
    const readyOff = this.#readyOutside(key);
    const desired = view.specReplicas - k;
    const live = new Map(
      (this.#podsByWorkload.get(key) ?? []).filter((p) => !p.deleting).map((p) => [p.name, p]),
    );
    const gone: RecordHit[] = [];
    const waiting: RecordHit[] = [];
    for (const h of open) {
      if (h.record.pods.every((name) => !live.has(name))) gone.push(h);
      else if (canMove(h.evac)) waiting.push(h);
    }
    const readiness = `${readyOff.length} Ready outside evacuating nodes, ${desired} wanted`;
    // Invariant: no retire while the Deployment rolls out. Its pods then belong to two ReplicaSets: the new
    // template's pods came up since the surge without being replacements, and a scale-down is spread across
    // the ReplicaSets in proportion, so -k could remove the new template's pods instead of the doomed ones
    // (pod-deletion-cost ranks pods within one ReplicaSet only). The LRM still applies meanwhile.
    if (view.rollingOut)
      return {
        gone,
        waiting,
        ready: [],
        readiness: `${readiness}; a rollout is in progress, and a scale-down during it would be spread across both ReplicaSets: the surge is retired once it has finished`,
      };
    const readyDoomed = (h: RecordHit): number =>
      h.record.pods.filter((n) => live.get(n)?.ready === true).length;
    const ready: RecordHit[] = [];
    const byIssue = [...waiting].sort((a, b) => a.record.issuedAt - b.record.issuedAt);
    for (const candidate of byIssue) {
      const accepted = [...ready, candidate];
      const stillServing = waiting
        .filter((h) => !accepted.includes(h))
        .reduce((sum, h) => sum + readyDoomed(h), 0);
      if (readyOff.length + stillServing < desired) continue;
      // creationTimestamp has whole-second precision: a replacement created 0.4 s after the surge can carry a
      // timestamp 0.6 s before it. Compare at the API's precision.
      const earliest = Math.floor(Math.min(...accepted.map((h) => h.record.issuedAt)) / 1000) * 1000;
      const fresh = readyOff.filter((p) => p.createdAt >= earliest).length;
      const by = accepted.reduce((sum, h) => sum + h.record.by, 0);
      if (fresh >= by || readyOff.length >= view.specReplicas) ready.push(candidate);
    }
    return { gone, waiting, ready, readiness };
  }

  /**
   * Retires what the judgement allows; returns the names of the doomed pods a scale-down of this plan removes.
   * - Surges whose doomed pods are gone: -k at once (nothing to mark, nothing to wait for).
   * - Every waiting surge Ready: -k once every doomed pod carries the deletion cost as the informers see it
   *   (the ReplicaSet controller ranks pods from its own informer: a cost written a moment before the
   *   scale-down is not in it yet, and it removes the newest pods, the replacements).
   * - Some Ready while another surge waits: a scale-down would remove the waiting surge's unready replacements
   *   first (the ReplicaSet ranks unready pods before deletion cost), so the doomed pods of the Ready surges
   *   are evicted instead (their replacements are Ready: no dip), and their surges are taken back once they
   *   are gone (the ReplicaSet then removes the newest unready pod, the one that replaced the evicted pod).
   */
  #retireSurges(key: string, view: WorkloadView, pods: Doomed[], judged: SurgeJudgement): Set<string> {
    const now = this.#now;
    if (judged.gone.length > 0) {
      const by = judged.gone.reduce((sum, h) => sum + h.record.by, 0);
      this.#retires.push({
        kind: "retire",
        workload: view.ref,
        by,
        pods: [],
        records: judged.gone.map((h) => ({ evacuation: h.evac.name, index: h.index })),
        replacementsReady: false,
        reason: `the doomed ${plural(judged.gone.flatMap((h) => h.record.pods).length, "pod")} of ${plural(judged.gone.length, "surge")} of ${key} (${judged.gone.flatMap((h) => h.record.pods).join(", ")}) are gone: scale -${by} back now (the ReplicaSet removes the unready extra pods first, so Ready capacity does not drop)`,
      });
    }
    if (judged.ready.length === 0) return new Set();
    if (judged.ready.length < judged.waiting.length) {
      const replaced = new Set(judged.ready.flatMap((h) => h.record.pods));
      const names = new Set<string>();
      for (const d of pods) {
        if (!replaced.has(d.pod.name) || this.#recordFor(key, d.pod.name)?.record.retiredAt !== null)
          continue;
        // An eviction a PodDisruptionBudget refuses now would only be retried: the pod waits for the other
        // surges or its last responsible moment instead.
        const lrmPassed = d.lrm !== null && now >= d.lrm;
        if (!lrmPassed && this.#blockingPdbs(d.pod).length > 0) continue;
        names.add(d.pod.name);
        this.#evict(
          d,
          `replacements of its surge are Ready (${judged.readiness}) while ${plural(judged.waiting.length - judged.ready.length, "other surge")} of ${key} still wait: a scale-down would remove their unready replacements first, so evict it (no dip) and take its surge back once it is gone`,
          lrmPassed,
        );
      }
      return names;
    }
    const names = judged.ready.flatMap((h) => h.record.pods);
    const unmarked = pods.filter(
      (d) =>
        names.includes(d.pod.name) &&
        d.pod.annotations[POD_DELETION_COST_ANNOTATION] !== String(this.#budgets.deletionCost),
    );
    if (unmarked.length > 0) {
      this.#wait(
        key,
        now + this.#budgets.reviewIntervalSeconds * 1000,
        `replacements of ${key} Ready (${judged.readiness}); scaling back once ${plural(unmarked.length, "doomed pod")} carry pod-deletion-cost ${this.#budgets.deletionCost} (marked in this plan)`,
      );
      return new Set();
    }
    const by = judged.ready.reduce((sum, h) => sum + h.record.by, 0);
    // Relative change only (-by, never "back to N"): an HPA or a user may have scaled meanwhile.
    this.#retires.push({
      kind: "retire",
      workload: view.ref,
      by,
      pods: names.filter((n) => pods.some((d) => d.pod.name === n)),
      records: judged.ready.map((h) => ({ evacuation: h.evac.name, index: h.index })),
      replacementsReady: true,
      reason: `replacements Ready (${judged.readiness}): scale -${by} so the ReplicaSet removes the doomed pods (lowest pod-deletion-cost)`,
    });
    return new Set(names);
  }

  /**
   * Judges each doomed pod not removed by this plan's retire: checks the outcome of an earlier retire, evicts
   * at the last responsible moment, or leaves it waiting; returns the pods that wait for their replacements.
   */
  #judgeDoomed(
    key: string,
    view: WorkloadView | undefined,
    pods: Doomed[],
    retiring: ReadonlySet<string>,
    readyPods: ReadonlySet<string>,
    readiness: string,
  ): Doomed[] {
    const now = this.#now;
    const awaiting: Doomed[] = [];
    const prewarmed: Doomed[] = [];
    for (const d of pods) {
      if (retiring.has(d.pod.name)) continue;
      const hit = this.#recordFor(key, d.pod.name);
      const lrmPassed = d.lrm !== null && now >= d.lrm;
      if (hit !== undefined && hit.record.retiredAt !== null) {
        this.#checkRetired(key, view, d, hit.record, lrmPassed);
      } else if (lrmPassed) {
        // Invariant: at the last responsible moment the pod goes, replacements Ready or not, so it is out of
        // the load balancer (preStop + propagation) before the node dies. Its surge is taken back once it is
        // gone.
        const dip = readyPods.has(d.pod.name)
          ? ""
          : `; replacements not Ready yet (${readiness}): capacity dips by one until they are`;
        this.#evict(
          d,
          `last responsible moment was ${rel(d.lrm ?? now, now)} (${this.#lrmText(d)}): evict now so the pod leaves the load balancer before the node dies${dip}`,
          true,
        );
      } else if (!canMove(d.evac)) {
        prewarmed.push(d);
      } else {
        awaiting.push(d);
      }
    }
    if (prewarmed.length > 0) {
      this.#wait(
        key,
        null,
        `prewarm: ${plural(prewarmed.length, "replacement")} of ${key} surged; the doomed pods stay until a deadline is known`,
      );
    }
    return awaiting;
  }

  /**
   * Checks the outcome of a retire, not its intent: the ReplicaSet ranks unready pods before deletion cost, so
   * after a scale-down it may have removed another pod and kept this one; then it is evicted.
   */
  #checkRetired(
    key: string,
    view: WorkloadView | undefined,
    d: Doomed,
    record: SurgeRecord,
    lrmPassed: boolean,
  ): void {
    const now = this.#now;
    const retiredAt = record.retiredAt ?? now;
    const checkAt = retiredAt + this.#budgets.retireCheckSeconds * 1000;
    // Judged only once the controller has carried the scale-down out (it counts no more pods than it
    // wants): a busy controller-manager takes longer than retireCheckSeconds, and the pod it is about to
    // remove is then not "kept". At most RETIRE_SETTLE_MAX_MS after the retire, and never past the LRM.
    const carriedOut =
      view?.statusReplicas == null ||
      view.statusReplicas <= view.specReplicas ||
      now >= retiredAt + RETIRE_SETTLE_MAX_MS;
    if ((now >= checkAt && carriedOut) || lrmPassed) {
      this.#evict(
        d,
        `scaled ${key} -${record.by} ${rel(retiredAt, now)} but the ReplicaSet kept this doomed pod (it removes unready pods before low deletion-cost ones): evict it`,
        lrmPassed,
      );
      return;
    }
    const next = now >= checkAt ? now + this.#budgets.reviewIntervalSeconds * 1000 : checkAt;
    this.#wait(
      podKey(d.pod),
      d.lrm === null ? next : Math.min(next, d.lrm),
      `scaled ${key} -${record.by} ${rel(retiredAt, now)}: checking that the ReplicaSet removes this doomed pod${carriedOut ? "" : ` (it counts ${view?.statusReplicas ?? "?"} pods for ${view?.specReplicas ?? "?"} wanted: not carried out yet)`}`,
    );
  }

  /** Before the LRM, nothing is removed while replacements are not Ready: look again at the LRM or sooner. */
  #waitForReplacements(key: string, judged: SurgeJudgement, awaiting: Doomed[], surgedNow: number): void {
    const now = this.#now;
    const lrms = awaiting.map((d) => d.lrm).filter((l): l is number => l !== null);
    const review = now + this.#budgets.reviewIntervalSeconds * 1000;
    const until = Math.min(review, ...lrms);
    const lrmText =
      lrms.length === 0 ? "no deadline" : `last responsible moment ${rel(Math.min(...lrms), now)}`;
    const status = judged.waiting.length > 0 ? judged.readiness : `surge of ${surgedNow} just issued`;
    const waiting = judged.waiting.filter((h) => !judged.ready.includes(h));
    const then =
      awaiting.length > 0
        ? `removing ${plural(awaiting.length, "doomed pod")}; ${lrmText}`
        : `scaling -${waiting.reduce((sum, h) => sum + h.record.by, 0) || judged.gone.reduce((sum, h) => sum + h.record.by, 0)} back`;
    this.#wait(
      key,
      until,
      `waiting for replacements of ${key} to be Ready (${status}) before ${then}${this.#pdbAtLrmNote(awaiting)}`,
    );
  }

  /** The pods named in `hits` still on `node` without the deletion cost. */
  #unmarkedOf(node: string, hits: readonly RecordHit[]): string[] {
    const named = new Set(hits.flatMap((h) => h.record.pods));
    const cost = String(this.#budgets.deletionCost);
    return this.#podsOn(node)
      .filter((p) => named.has(p.name) && !p.deleting && p.annotations[POD_DELETION_COST_ANNOTATION] !== cost)
      .map((p) => p.name);
  }

  /** Marks doomed pods with the deletion cost (after the plan's surges, before any retire). */
  #mark(view: WorkloadView, pods: readonly { name: string }[]): void {
    const cost = this.#budgets.deletionCost;
    this.#marks.push({
      kind: "mark-doomed",
      workload: view.ref,
      pods: pods.map((p) => p.name),
      deletionCost: cost,
      reason: `mark ${plural(pods.length, "doomed pod")} of ${workloadKey(view.ref)} with pod-deletion-cost ${cost} so that scaling back removes them, not their replacements`,
    });
  }

  #surge(key: string, view: WorkloadView, uncovered: Doomed[]): void {
    const records: SurgeAttribution[] = [];
    for (const d of uncovered) {
      const r = records.find((x) => x.evacuation === d.evac.name);
      if (r === undefined) records.push({ evacuation: d.evac.name, pods: [d.pod.name] });
      else r.pods.push(d.pod.name);
    }
    const nodes = [...new Set(uncovered.map((d) => d.evac.nodeName))].join(", ");
    const by = uncovered.length;
    this.#surgedNow.add(key);
    // Invariant (make before break): the surge is issued before any of these pods is retired or evicted.
    this.#surges.push({
      kind: "surge",
      workload: view.ref,
      by,
      pods: uncovered.map((d) => d.pod.name),
      records,
      reason: `${plural(by, "pod")} of ${key} on evacuating node(s) ${nodes}: add ${by} replica(s) elsewhere before any is removed (make before break)`,
    });
    if (view.hpa !== null && view.specReplicas + by > view.hpa.max) {
      this.#warns.push({
        kind: "warn",
        code: "SurgeAboveHpaMax",
        subject: key,
        reason: `surge takes replicas to ${view.specReplicas + by}, above the HPA max ${view.hpa.max}: the HPA will scale back and remove doomed pods before their replacements are Ready`,
      });
    }
    const lrms = uncovered.map((d) => d.lrm).filter((l): l is number => l !== null);
    const expected = view.expectedReadySeconds ?? this.#budgets.defaultReadySeconds;
    if (lrms.length > 0 && this.#now + expected * 1000 > Math.min(...lrms)) {
      this.#warns.push({
        kind: "warn",
        code: "SurgeMissesDeadline",
        subject: key,
        reason: `replacements take about ${expected} s to be Ready but the last responsible moment is ${rel(Math.min(...lrms), this.#now)}: the doomed pods will be evicted first and capacity will dip until the replacements are Ready`,
      });
    }
  }

  /** Ready, not terminating pods of `key` on nodes that are not being evacuated: the only real replacements. */
  #readyOutside(key: string): PodView[] {
    // Invariant: replacement capacity never counts evacuating nodes.
    return (this.#podsByWorkload.get(key) ?? []).filter(
      (p) => p.ready && !p.deleting && p.nodeName !== null && !this.#evacuatingNodes.has(p.nodeName),
    );
  }

  /**
   * First-fit of the surged pods' requests into the free room of schedulable nodes outside the evacuation;
   * the room held by headroom placeholders counts as free (src/planner/headroom.ts).
   */
  #capacityWarnings(surged: { view: WorkloadView; pods: Doomed[] }[]): void {
    if (surged.length === 0) return;
    const free = this.#freeRoom();
    const short = new Map<string, { evac: Evacuation; misfits: number }>();
    for (const { view, pods } of surged) {
      let misfits = 0;
      for (const d of pods) {
        const key = workloadKey(view.ref);
        const slot = free.find(
          (f) =>
            f.pods >= 1 &&
            f.cpuMilli >= d.pod.requests.cpuMilli &&
            f.memoryBytes >= d.pod.requests.memoryBytes &&
            !(d.pod.onePerNode && f.workloads.has(key)),
        );
        if (slot === undefined) {
          misfits++;
          const entry = short.get(d.evac.name) ?? { evac: d.evac, misfits: 0 };
          entry.misfits++;
          short.set(d.evac.name, entry);
          continue;
        }
        slot.pods -= 1;
        slot.cpuMilli -= d.pod.requests.cpuMilli;
        slot.memoryBytes -= d.pod.requests.memoryBytes;
        slot.workloads.add(key);
      }
      if (misfits > 0) {
        this.#warns.push({
          kind: "warn",
          code: "InsufficientCapacity",
          subject: workloadKey(view.ref),
          reason: `${misfits} of ${plural(pods.length, "replacement")} do not fit on the schedulable nodes outside the evacuation (requests and one-per-node anti-affinity counted, tolerations ignored): they stay Pending until a node joins`,
        });
      }
    }
    if (!this.#policy.earlyNode) return;
    for (const { evac, misfits } of short.values()) {
      if (evac.instanceId === null) continue;
      this.#nodeRequests.push({
        kind: "request-node",
        node: evac.nodeName,
        instanceId: evac.instanceId,
        evacuation: evac.name,
        count: 1,
        reason: `no room for ${plural(misfits, "replacement")} of ${evac.nodeName}'s pods (headroom included): ask its Auto Scaling group for a node like it now instead of waiting for the autoscaler to see the Pending pods`,
      });
    }
  }

  #freeRoom(): (Resources & { pods: number; workloads: Set<string> })[] {
    const eligible = this.#snapshot.nodes.filter(
      (n) =>
        n.ready &&
        !n.unschedulable &&
        !this.#evacuatingNodes.has(n.name) &&
        !n.taints.some((t) => t.effect === "NoSchedule" || t.effect === "NoExecute"),
    );
    return eligible.map((n) => {
      // Placeholders of lifeboat's headroom are room: a surge pod preempts them (they have a lower priority).
      const used = this.#podsOn(n.name).filter((p) => !isFinished(p) && !isPlaceholder(p));
      return {
        pods: n.allocatable.pods - used.length,
        cpuMilli: n.allocatable.cpuMilli - used.reduce((s, p) => s + p.requests.cpuMilli, 0),
        memoryBytes: n.allocatable.memoryBytes - used.reduce((s, p) => s + p.requests.memoryBytes, 0),
        // Workloads with a pod here: a one-per-node replacement of theirs cannot land here.
        workloads: new Set(
          used.flatMap((p) => (p.owner === null || p.deleting ? [] : [workloadKey(p.owner)])),
        ),
      };
    });
  }

  // ---- what cannot surge ----------------------------------------------------------------------------

  #evictAtOnce(pods: Doomed[]): void {
    for (const d of pods) {
      const owner = d.pod.owner;
      if (owner === null) continue;
      if (!canMove(d.evac)) {
        this.#wait(
          podKey(d.pod),
          null,
          `prewarm: ${owner.kind} pod cannot surge; it moves once a deadline is known`,
        );
        continue;
      }
      const why =
        owner.kind === "StatefulSet"
          ? `StatefulSet ${owner.name} replaces a pod only once the old one is gone (same identity)`
          : owner.kind === "Job"
            ? `Job ${owner.name} cannot surge; its controller starts a replacement once this pod is gone`
            : `owner ${owner.kind}/${owner.name} is not a workload lifeboat can scale`;
      this.#evict(
        d,
        `${why}: evict at once so the replacement gets the most time before the deadline`,
        d.lrm !== null && this.#now >= d.lrm,
      );
    }
  }

  #evictAtLrm(pods: Doomed[], all: { byWorkload: Map<string, Doomed[]>; atOnce: Doomed[] }): void {
    const now = this.#now;
    for (const d of pods) {
      const what =
        d.pod.owner === null
          ? "bare pod: nothing replaces it"
          : `${workloadKey(d.pod.owner)} is not in the snapshot: its replacements cannot be judged`;
      if (d.lrm !== null) {
        if (now >= d.lrm) {
          this.#evict(
            d,
            `${what}; it served until its last responsible moment (${rel(d.lrm, now)}: ${this.#lrmText(d)}): evict now`,
            true,
          );
        } else {
          this.#wait(
            podKey(d.pod),
            d.lrm,
            `${what}; it keeps serving until its last responsible moment ${rel(d.lrm, now)} (${this.#lrmText(d)})`,
          );
        }
        continue;
      }
      if (!canMove(d.evac)) {
        this.#wait(podKey(d.pod), null, `prewarm: ${what}; it moves once a deadline is known`);
        continue;
      }
      // No deadline: such pods go last, once everything else on the node has moved and every surge is retired.
      const othersLeft =
        [...all.byWorkload.values()].flat().some((o) => o.evac === d.evac) ||
        all.atOnce.some((o) => o.evac === d.evac) ||
        d.evac.surges.some((s) => s.retiredAt === null);
      if (othersLeft) {
        this.#wait(
          podKey(d.pod),
          null,
          `${what}; no deadline, so it is evicted last, once the rest of ${d.evac.nodeName} has moved`,
        );
      } else {
        this.#evict(
          d,
          `${what}; no deadline and the rest of ${d.evac.nodeName} has moved: evict it last`,
          false,
        );
      }
    }
  }

  // ---- warnings -------------------------------------------------------------------------------------

  #shortPreStopWarnings(doomed: Doomed[]): void {
    const lb = this.#budgets.lbPropagationSeconds;
    const groups = new Map<string, PodView[]>();
    for (const { pod } of doomed) {
      if ((pod.preStopSeconds ?? 0) >= lb) continue;
      const subject = pod.owner === null ? `Pod/${podKey(pod)}` : workloadKey(pod.owner);
      pushTo(groups, subject, pod);
    }
    for (const [subject, pods] of groups) {
      const shortest = Math.min(...pods.map((p) => p.preStopSeconds ?? 0));
      const sleep = pods.some((p) => p.preStopSeconds === null)
        ? "no preStop sleep"
        : `preStop sleep ${shortest} s`;
      this.#warns.push({
        kind: "warn",
        code: "ShortPreStop",
        subject,
        reason: `${sleep} on ${pods.map((p) => p.name).join(", ")}, shorter than the load balancer propagation (${lb} s): after deletion the ALB keeps sending new requests for up to ${lb} s and they hit a closed socket (502); add a preStop sleep of at least ${lb} s`,
      });
    }
  }

  #pdbWarnings(): void {
    // Evictions before the LRM go through the Eviction API and the executor retries a 429; the plan only says
    // it will happen. (At the LRM a refusing PDB is overridden: see #evict.)
    for (const pdb of this.#snapshot.pdbs) {
      if (pdb.disruptionsAllowed > 0) continue;
      const blocked = this.#evicts.filter((e) => {
        if (e.kind !== "evict" || e.atLastResponsibleMoment || e.pod.namespace !== pdb.namespace)
          return false;
        const pod = this.#podsOn(e.node).find(
          (p) => p.namespace === e.pod.namespace && p.name === e.pod.name,
        );
        return pod !== undefined && matchesLabels(pdb.matchLabels, pod.labels);
      });
      if (blocked.length === 0) continue;
      this.#warns.push({
        kind: "warn",
        code: "PdbBlocksEviction",
        subject: `PodDisruptionBudget/${pdb.namespace}/${pdb.name}`,
        reason: `allows ${pdb.disruptionsAllowed} disruptions now: evicting ${blocked.map((e) => e.pod.name).join(", ")} will be refused (429) and retried until it allows one`,
      });
    }
  }

  // ---- completion -----------------------------------------------------------------------------------

  #complete(): void {
    for (const evac of this.#moving) {
      if (!canMove(evac)) continue; // prewarm keeps its surge until a deadline comes
      const left = this.#podsOn(evac.nodeName).filter(
        (p) => !p.mirror && p.owner?.kind !== "DaemonSet" && (evac.instanceGone || !isFinished(p)),
      );
      const unretired = evac.surges.filter((s) => s.retiredAt === null).length;
      if (left.length === 0 && unretired === 0) {
        this.#completes.push({
          kind: "complete",
          evacuation: evac.name,
          reason: `${evac.nodeName} holds no pod lifeboat must move and every surge is retired`,
        });
      } else if (left.length > 0 && left.every((p) => p.deleting) && !evac.instanceGone) {
        // Not done while a pod still runs its preStop: completing may let the instance go (ASG hook) mid-drain.
        this.#wait(
          evac.nodeName,
          null,
          `${plural(left.length, "pod")} on ${evac.nodeName} still terminating (preStop and grace period running)`,
        );
      }
    }
  }

  // ---- winding down: expired prewarm (undo), give-up ------------------------------------------------

  #windDown(): void {
    for (const w of this.#windDowns) {
      const open: RecordHit[] = [];
      for (const [index, record] of w.evac.surges.entries())
        if (record.retiredAt === null) open.push({ evac: w.evac, index, record });
      const byKey = new Map<string, RecordHit[]>();
      for (const h of open) {
        const key = workloadKey(h.record.workload);
        pushTo(byKey, key, h);
      }
      for (const [key, hits] of byKey) this.#windDownSurge(w, key, hits);
      // The last step (uncordon and complete, or fail) waits until every surge is closed, so that no failure
      // between two steps can leave a surge behind a finished evacuation.
      if (open.length > 0) continue;
      if (w.kind === "undo") this.#undone(w);
      else this.#givenUp(w);
    }
  }

  /** Retires (-k, no waiting: nothing is evicted, so nothing can dip) or hands back one workload's surges. */
  #windDownSurge(w: WindDown, key: string, hits: RecordHit[]): void {
    const view = this.#workloads.get(key);
    const k = hits.reduce((sum, h) => sum + h.record.by, 0);
    const handBack = this.#handBackCause(view, k);
    if (handBack !== null || view === undefined) {
      this.#handBack(
        hits,
        handBack?.cause ?? "workload-gone",
        `${w.why}; ${key}: ${handBack?.what ?? "gone"}`,
      );
      return;
    }
    const unmarked = this.#unmarkedOf(w.evac.nodeName, hits);
    if (unmarked.length > 0) {
      // As for a retire (see #workload): the ReplicaSet must see the cost before the scale-down.
      this.#mark(
        view,
        unmarked.map((name) => ({ name })),
      );
      this.#wait(
        key,
        this.#now + this.#budgets.reviewIntervalSeconds * 1000,
        `${w.why}: scaling ${key} -${k} back once ${plural(unmarked.length, "pre-warmed pod")} carry pod-deletion-cost ${this.#budgets.deletionCost}`,
      );
      return;
    }
    if (this.#surgedNow.has(key)) {
      // Invariant: never surge and retire one workload in the same plan (the fresh replacements would go).
      this.#wait(
        key,
        this.#now + this.#budgets.reviewIntervalSeconds * 1000,
        `${w.why}: scaling ${key} -${k} back once this plan's surge of it is issued`,
      );
      return;
    }
    const effect =
      w.kind === "undo"
        ? "the ReplicaSet removes the lowest-cost pods: the pre-warmed ones, whose replacements already run (or the replacements, if they never became Ready); nothing is evicted"
        : "the workload returns to the count its owner set; nothing more is evicted";
    this.#retires.push({
      kind: "retire",
      workload: view.ref,
      by: k,
      pods: hits.flatMap((h) => h.record.pods),
      records: hits.map((h) => ({ evacuation: h.evac.name, index: h.index })),
      replacementsReady: false,
      reason: `${w.why}: scale ${key} -${k} back without waiting for replacements (${effect})`,
    });
  }

  #undone(w: WindDown): void {
    const node = this.#nodes.get(w.evac.nodeName);
    const marked =
      node !== undefined &&
      node.taints.some((t) => t.key === this.#policy.taintKey && t.effect === "NoSchedule");
    if (node !== undefined && marked) {
      // Only a node that carries lifeboat's taint is uncordoned: a cordon of someone else's stays.
      this.#completes.push({
        kind: "uncordon",
        node: node.name,
        evacuation: w.evac.name,
        reason: `${w.why}: every surge is retired; uncordon ${node.name} and remove ${this.#policy.taintKey}:NoSchedule${this.#policy.excludeFromLb ? ` and ${EXCLUDE_FROM_LB_LABEL}` : ""} so it serves again`,
      });
      return;
    }
    this.#completes.push({
      kind: "complete",
      evacuation: w.evac.name,
      reason: `${w.why}: every surge is retired and ${w.evac.nodeName} ${node === undefined ? "is gone" : "is uncordoned"}; no pod was evicted`,
    });
  }

  #givenUp(w: WindDown): void {
    const left = this.#podsOn(w.evac.nodeName).filter(
      (p) => !p.mirror && p.owner?.kind !== "DaemonSet" && !isFinished(p),
    );
    const node = this.#nodes.get(w.evac.nodeName);
    const state = `${node === undefined ? "node gone" : "node still there"}, ${plural(left.length, "pod")} left on it${left.length > 0 ? ` (${left.map((p) => podKey(p)).join(", ")})` : ""}`;
    this.#completes.push({
      kind: "fail",
      evacuation: w.evac.name,
      reason: `${w.why}: every surge is retired or handed back; ${state}`,
    });
  }

  // ---- time to live ---------------------------------------------------------------------------------

  /**
   * A node annotation whose request a finished evacuation served is removed (returns those evacuations'
   * names): the annotation is a one-shot request, and the record that makes it a duplicate is deleted later.
   */
  #clearServedRequests(): Set<string> {
    const served = new Set<string>();
    for (const node of this.#nodes.values()) {
      const request = node.evacuateRequest;
      if (request === null || request.noticeId === null) continue;
      const id = request.noticeId;
      const asked = this.#all.filter((e) => e.nodeName === node.name && e.noticeIds.includes(id));
      // An active evacuation still serves it; a request no record knows is new (the intake records it).
      if (asked.length === 0 || asked.some(isActive)) continue;
      const e = asked[0] as Evacuation;
      served.add(e.name);
      this.#completes.push({
        kind: "clear-request",
        node: node.name,
        value: request.value,
        evacuation: e.name,
        reason: `the request ${EVACUATE_ANNOTATION}=${request.value} on node ${node.name} was served by evacuation ${e.name} (${e.phase}): remove it, so that it is not taken as a new request once the record is forgotten`,
      });
    }
    return served;
  }

  #forget(served: ReadonlySet<string>): void {
    const ttl = this.#policy.ttlSecondsAfterFinished * 1000;
    for (const e of this.#all) {
      // A record is deleted only after the request it served left the node: it is what marks it served.
      if (isActive(e) || served.has(e.name)) continue;
      const at = finishedAt(e) ?? e.noticedAt;
      if (this.#now < at + ttl) {
        this.#timers.push(at + ttl);
        continue;
      }
      this.#completes.push({
        kind: "forget",
        evacuation: e.name,
        reason: `${e.phase} ${rel(at, this.#now)}, longer ago than --evacuation-ttl-seconds (${this.#policy.ttlSecondsAfterFinished} s): delete the record`,
      });
    }
  }
}
