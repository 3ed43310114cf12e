/**
 * The executor: read (evacuations + cluster snapshot) -> decide (the pure planner) -> act (actuators), then
 * persist what was done in the Evacuation status. One reconcile handles every active evacuation at once, so
 * an AZ-wide reclaim cordons every affected node before any surge and surges each workload once.
 *
 * Exactly-once replica changes: a surge (+k) or retire (-k) is written together with its entry in the
 * workload's surge ledger (annotation lifeboat.dev/surge-ledger, src/domain/surge-ledger.ts) in one
 * optimistic-concurrency update, and that write is idempotent. The Evacuation status is a cache of the
 * ledger: it is written right after each replica change (after a group of surges run together, once per
 * evacuation touched), and when that write fails (or the process dies
 * before it), the next reconcile recovers the record from the ledger before planning (./ledger-sync.ts),
 * and a step planned again from a stale view finds its change already in the ledger and writes nothing.
 */
import type { Clock } from "../domain/clock.ts";
import type { Evacuation, EvictionRecord } from "../domain/evacuation.ts";
import { isActive } from "../domain/evacuation.ts";
import { EVACUATE_ANNOTATION, type Plan, type Step } from "../domain/plan.ts";
import { podKey, workloadKey, type PodRef, type WorkloadRef } from "../domain/snapshot.ts";
import type { KubeActuator, LedgerOutcome } from "../actuators/kube-actuator.ts";
import type { LifecycleActuatorLike } from "../actuators/aws/lifecycle.ts";
import type { ActuatorAction } from "../observability/metrics.ts";
import type { EarlyNodeActuatorLike } from "../actuators/aws/early-node.ts";
import type { LedgerEntry } from "../domain/surge-ledger.ts";
import { forEachConcurrently } from "./concurrency.ts";
import {
  actionFailed,
  announce,
  cordoned,
  deadlineMissed,
  earlyNodeRequested,
  evacuationDone,
  evacuationFailed,
  evicted,
  evictionBlocked,
  forceDeleted,
  lastResponsibleMoment,
  nodeEvacuationDone,
  nodeEvacuationFailed,
  pdbOverridden,
  prewarmed,
  prewarmExpired,
  replacementsReady,
  requestCleared,
  retired,
  subjectObject,
  surgeCreated,
  surgeHandedBack,
  taintedPreferNoSchedule,
  uncordoned,
  warning,
  workloadObject,
  type EventObject,
} from "./events.ts";
import { recordId, retireRecords, syncWithLedger } from "./ledger-sync.ts";
import { isNotLeader } from "../leader/fence.ts";
import type { Budgets } from "../planner/budgets.ts";
import { planEvacuations } from "../planner/planner.ts";
import type { PlanPolicy } from "../planner/policy.ts";
import { slackSeconds, type StoredEvacuation } from "../state/evacuation-resource.ts";
import { EvacuationStoreError, type EvacuationStore } from "../state/evacuation-store.ts";
import type { ClusterView, EvacuationObserver, EventSink, ExecutorLogger } from "../actuators/ports.ts";

export interface ReconcilerDeps {
  cluster: ClusterView;
  store: Pick<EvacuationStore, "list" | "get" | "updateSpec" | "updateStatus" | "delete">;
  actuator: KubeActuator;
  lifecycle: LifecycleActuatorLike | null;
  /** `--early-node`: raises the doomed node's Auto Scaling group; null when off. */
  earlyNode?: EarlyNodeActuatorLike | null;
  /** Taint key added with the cordon (NoSchedule) and for taint-only (PreferNoSchedule). */
  taintKey: string;
  /** Label exclude-from-external-load-balancers with the cordon. */
  excludeFromLb: boolean;
  events: EventSink;
  observer: EvacuationObserver;
  log: ExecutorLogger;
  clock: Clock;
  budgets: Budgets;
  /** Seconds between ASG lifecycle heartbeats while an evacuation is active. */
  asgHeartbeatSeconds: number;
  /** A pre-warm without a warning for this long is undone (surges retired, node uncordoned). */
  prewarmTimeoutSeconds: number;
  /** An evacuation still active this long after its deadline (its notice, without one) gives up. */
  giveUpAfterSeconds: number;
  /** A Done or Failed evacuation is deleted this long after it finished. */
  evacuationTtlSeconds: number;
  /**
   * True while a notice waits to be recorded (it waits for this reconcile: they share one Serial). After its
   * cordons, a reconcile then stops and leaves its surges to the next one, which plans them with the new
   * notice's node cordoned first: during an AZ-wide reclaim, every new node is cordoned within one group of
   * cordons, not after every surge of the nodes before it. Default: never.
   */
  noticeWaiting?: () => boolean;
}

/** One change to an evacuation's record, kept so it can be re-applied after a conflicting write. */
interface Change {
  apply: (e: Evacuation) => Evacuation;
  message: string;
}

export interface ReconcileResult {
  plan: Plan;
  /** Steps that failed (the next reconcile retries them: the planner recomputes from the cluster). */
  failures: { step: Step; error: string }[];
  nextReviewAt: number | null;
  /** Every Evacuation as it stands after this reconcile (for phase gauges and the active count). */
  evacuations: Evacuation[];
}

/** Independent steps of one kind (cordons, surges, retires) run this many at a time. */
export const STEP_CONCURRENCY = 16;
/**
 * Step kinds whose steps are independent (one node, one workload or one pod each) and run STEP_CONCURRENCY at
 * a time within a group of consecutive steps of the kind: an AZ-wide reclaim is 100 cordons, 700 surges,
 * 3,000 marks and, when replacements are late, thousands of evictions at the last responsible moment, which
 * one after another would end after the deadline.
 */
const CONCURRENT_KINDS: ReadonlySet<Step["kind"]> = new Set([
  "cordon",
  "surge",
  "mark-doomed",
  "retire",
  "evict",
  "delete",
  "force-delete",
]);
/**
 * Kinds a waiting notice may stop after a first STEP_CONCURRENCY (see noticeWaiting). Not surges (see
 * SURGE_TURN_MS), nor cordons, evictions and deletes, which are never held back.
 */
const PREEMPTIBLE_KINDS: ReadonlySet<Step["kind"]> = new Set(["mark-doomed", "retire"]);

/**
 * A waiting notice stops a group of surges from starting more once the group has run this long (and its
 * first STEP_CONCURRENCY have started). Notices are recorded between reconciles, so a group of 700 surges
 * on a busy API server (10 s at 1,000 nodes) kept 60 warnings unrecorded, and their surges unplanned, for
 * as long; stopping after every 16 instead (before the node was cordoned at receipt) slowed the surges to
 * a sixth of what the API server took. After a turn of this length the waiting notices are recorded and the
 * next plan takes their pods with the surges left, one write per workload for both.
 */
export const SURGE_TURN_MS = 1_000;

/** The pods of one mark-doomed step annotated this many at a time (within a group of such steps). */
const MARK_CONCURRENCY = 4;

/** Consecutive steps of the same kind, in plan order. */
export function groupsOfKind(steps: readonly Step[]): Step[][] {
  const groups: Step[][] = [];
  for (const step of steps) {
    const last = groups.at(-1);
    if (last !== undefined && last[0]?.kind === step.kind) last.push(step);
    else groups.push([step]);
  }
  return groups;
}

export class Reconciler {
  readonly #d: ReconcilerDeps;
  readonly #lastHeartbeat = new Map<string, number>();
  /** Warnings already reported: the planner repeats them in every plan, operators want them once. */
  readonly #warned = new Set<string>();
  #ownerKinds = new Map<string, string>();

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
  }

  get #policy(): PlanPolicy {
    return {
      taintKey: this.#d.taintKey,
      excludeFromLb: this.#d.excludeFromLb,
      prewarmTimeoutSeconds: this.#d.prewarmTimeoutSeconds,
      giveUpAfterSeconds: this.#d.giveUpAfterSeconds,
      ttlSecondsAfterFinished: this.#d.evacuationTtlSeconds,
      earlyNode: this.#d.earlyNode != null,
    };
  }

  async reconcileOnce(): Promise<ReconcileResult> {
    const { clock, store, cluster } = this.#d;
    const stored = await store.list();
    const byName = new Map(stored.map((s) => [s.evacuation.name, s]));
    const now = clock.now();
    // Finished evacuations still need a plan: their time to live runs out (a `forget` step).
    if (stored.length === 0) {
      return {
        plan: { steps: [], skipped: [], nextReviewAt: null },
        failures: [],
        nextReviewAt: null,
        evacuations: [],
      };
    }
    const snapshot = cluster.snapshot(now);
    /** The owner kind of each pod (for pods_moved_total{workload_kind} of evictions and force-deletes). */
    this.#ownerKinds = new Map(snapshot.pods.map((p) => [podKey(p), p.owner?.kind ?? "Other"]));
    const dirty = new Set<string>();
    const failures: ReconcileResult["failures"] = [];
    /** Evacuations deleted by this reconcile (their time to live ran out). */
    const forgotten = new Set<string>();
    /** What this reconcile changed per evacuation, to re-apply on a fresh copy if a status write conflicts. */
    const changes = new Map<string, Change[]>();
    // The status is a cache of the surge ledgers: recover what a failed status write (or a crash) lost.
    for (const w of snapshot.workloads) {
      if (w.surgeLedger.length === 0) continue;
      for (const name of this.#sync(byName, changes, w.ref, w.surgeLedger, null)) dirty.add(name);
    }
    const plan = planEvacuations({
      snapshot,
      evacuations: [...byName.values()].map((s) => s.evacuation),
      now,
      budgets: this.#d.budgets,
      policy: this.#policy,
    });
    const run = async (step: Step, persistNow: boolean): Promise<string[]> => {
      let action = actionOf(step);
      try {
        if (step.kind === "forget") {
          await this.#d.store.delete(step.evacuation);
          forgotten.add(step.evacuation);
          this.#d.log.info({ evacuation: step.evacuation }, `forgotten: ${step.reason}`);
          return [];
        }
        const touched = await this.#execute(step, byName, changes, clock.now());
        for (const name of touched) dirty.add(name);
        // Replica changes are persisted at once (see the crash-safety note above).
        action = "status_write";
        if (persistNow && (step.kind === "surge" || step.kind === "retire" || step.kind === "hand-back"))
          await this.#persist(byName, changes, touched, dirty);
        return touched;
      } catch (err) {
        // Lost the lease (with margin): stop at once, write nothing more (src/leader/fence.ts).
        if (isNotLeader(err)) throw err;
        const error = err instanceof Error ? err.message : String(err);
        failures.push({ step, error });
        this.#failed(
          action,
          stepObject(step),
          `${action} failed, will retry: ${error} (step: ${step.reason})`,
        );
        return [];
      }
    };
    // The plan's order holds (every cordon before any surge, every surge before any retire): steps run
    // group by group of one kind. Within a group of cordons, surges or retires (an AZ-wide reclaim: a
    // hundred nodes, a thousand workloads) the steps are independent (one node, one workload each) and run
    // STEP_CONCURRENCY at a time; the status writes of surges and retires then follow once for the whole
    // group (the ledger on each workload is what makes a replica change exactly-once, the status its cache).
    for (const group of groupsOfKind(plan.steps)) {
      const kind = group[0]?.kind;
      if (group.length > 1 && kind !== undefined && CONCURRENT_KINDS.has(kind)) {
        const touched = new Set<string>();
        // A notice waiting to be recorded also stops a group of marks or retires from starting more steps
        // (after a first STEP_CONCURRENCY, so that every reconcile moves on), and a group of surges once it
        // has had its turn (SURGE_TURN_MS): the rest waits for the next reconcile, which plans the new node's
        // pods too. Cordons and pod removals (evictions at the last responsible moment) are never held back.
        const preempt = this.#preemption(kind);
        const ran = await forEachConcurrently(
          group,
          STEP_CONCURRENCY,
          async (step) => {
            for (const name of await run(step, false)) touched.add(name);
          },
          preempt,
        );
        const preempted = ran < group.length;
        if (kind === "cordon" && this.#d.noticeWaiting?.() === true) {
          this.#d.log.info({}, "a notice is waiting: the rest of this plan waits for the next reconcile");
          break;
        }
        if (kind === "surge" || kind === "retire") {
          try {
            await this.#persist(byName, changes, touched, dirty);
          } catch (err) {
            if (isNotLeader(err)) throw err;
            const error = err instanceof Error ? err.message : String(err);
            this.#failed(
              "status_write",
              { kind: "Evacuation", name: [...touched][0] ?? "" },
              `status write after ${group.length} ${kind}s failed, will retry: ${error}`,
            );
          }
        }
        if (preempted) {
          this.#d.log.info(
            { done: ran, left: group.length - ran },
            `a notice is waiting: ${group.length - ran} ${kind}s wait for the next reconcile`,
          );
          break;
        }
        continue;
      }
      for (const step of group) await run(step, true);
      if (kind === "cordon" && this.#d.noticeWaiting?.() === true) {
        this.#d.log.info({}, "a notice is waiting: the rest of this plan waits for the next reconcile");
        break;
      }
    }
    await this.#heartbeats(stored, clock.now());
    try {
      await this.#persist(byName, changes, [...dirty], dirty);
    } catch (err) {
      this.#d.observer.actuatorError("status_write");
      throw err;
    }
    return {
      plan,
      failures,
      nextReviewAt: plan.nextReviewAt,
      evacuations: [...byName.values()]
        .filter((s) => !forgotten.has(s.evacuation.name))
        .map((s) => s.evacuation),
    };
  }

  #ownerKind(pod: { namespace: string; name: string }): string {
    return this.#ownerKinds.get(podKey(pod)) ?? "Other";
  }

  /** A failed call: counted, logged and reported as an ActionFailed Event (the next reconcile retries). */
  #failed(action: ActuatorAction, object: EventObject, message: string): void {
    announce(this.#d, {
      metric: (o) => {
        o.actuatorError(action);
      },
      level: "error",
      fields: { action, object },
      message,
      events: [actionFailed(object, message)],
    });
  }

  /**
   * Writes the changed evacuations' status. A conflict (someone wrote the resource since it was read) must
   * not lose what was done: the step already happened in the cluster. So the fresh copy is read and every
   * change of this reconcile re-applied to it, then written again.
   */
  async #persist(
    byName: Map<string, StoredEvacuation>,
    changes: Map<string, Change[]>,
    names: Iterable<string>,
    dirty: Set<string>,
  ): Promise<void> {
    const { store, log } = this.#d;
    // One write per evacuation, STEP_CONCURRENCY at a time (a group of surges touches up to every evacuation).
    const pending = [...new Set(names)].filter((name) => dirty.has(name) && byName.has(name));
    await forEachConcurrently(pending, STEP_CONCURRENCY, async (name) => {
      let s = byName.get(name);
      if (s === undefined) return;
      for (let attempt = 1; ; attempt++) {
        try {
          s = await store.updateStatus(s);
          break;
        } catch (err) {
          if (!(err instanceof EvacuationStoreError && err.isConflict) || attempt >= 5) throw err;
          const fresh = await store.get(name);
          if (fresh === null) throw err;
          const replay = changes.get(name) ?? [];
          log.info(
            { evacuation: name, attempt, changes: replay.length },
            "status write conflicted; re-applying this reconcile's changes to the fresh copy",
          );
          s = {
            ...fresh,
            evacuation: replay.reduce((e, c) => c.apply(e), fresh.evacuation),
            message: replay.at(-1)?.message ?? fresh.message,
          };
        }
      }
      byName.set(name, s);
      changes.delete(name);
      dirty.delete(name);
    });
  }

  /** Records a change to an evacuation (in memory now, written by #persist, re-applied after a conflict). */
  #update(
    byName: Map<string, StoredEvacuation>,
    changes: Map<string, Change[]>,
    name: string,
    fn: (e: Evacuation) => Evacuation,
    message: string,
  ): void {
    const s = byName.get(name);
    if (s === undefined) throw new Error(`plan names unknown evacuation ${name}`);
    byName.set(name, { ...s, evacuation: fn(s.evacuation), message });
    changes.set(name, [...(changes.get(name) ?? []), { apply: fn, message }]);
  }

  /** Brings the surge records of every evacuation named in `entries` in line with them; returns those changed. */
  #sync(
    byName: Map<string, StoredEvacuation>,
    changes: Map<string, Change[]>,
    workload: WorkloadRef,
    entries: readonly LedgerEntry[],
    /** The status message; null: a recovery, logged with its own message. */
    reason: string | null,
  ): string[] {
    const touched: string[] = [];
    for (const name of new Set(entries.map((x) => x.evacuation))) {
      const s = byName.get(name);
      if (s === undefined || syncWithLedger(s.evacuation, workload, entries) === null) continue;
      const message =
        reason ??
        `surge records of ${workloadKey(workload)} recovered from its surge ledger (a status write after the scale was lost)`;
      this.#update(byName, changes, name, (e) => syncWithLedger(e, workload, entries) ?? e, message);
      if (reason === null) this.#d.log.info({ evacuation: name, workload: workloadKey(workload) }, message);
      touched.push(name);
    }
    return touched;
  }

  /** Carries out one step; returns the evacuations whose record changed. */
  async #execute(
    step: Step,
    byName: Map<string, StoredEvacuation>,
    changes: Map<string, Change[]>,
    now: number,
  ): Promise<string[]> {
    const { actuator, log } = this.#d;
    const rec = (name: string): StoredEvacuation => {
      const s = byName.get(name);
      if (s === undefined) throw new Error(`plan names unknown evacuation ${name}`);
      return s;
    };
    const update = (name: string, fn: (e: Evacuation) => Evacuation, message: string): void => {
      this.#update(byName, changes, name, fn, message);
    };
    switch (step.kind) {
      case "cordon": {
        const outcome = await actuator.cordon(step.node, {
          taintKey: this.#d.taintKey,
          excludeFromLb: this.#d.excludeFromLb,
        });
        if (
          outcome.kind === "done" &&
          !outcome.changed &&
          rec(step.evacuation).evacuation.timeline.cordonedAt !== undefined
        ) {
          // Cordoned at receipt (the intake) and the snapshot did not show it yet: measured and reported then.
          log.info({ node: step.node, evacuation: step.evacuation }, `already cordoned: ${step.reason}`);
          return [];
        }
        update(
          step.evacuation,
          (e) => ({
            ...e,
            phase: e.phase === "Pending" ? "Cordoned" : e.phase,
            timeline: { ...e.timeline, cordonedAt: e.timeline.cordonedAt ?? now },
          }),
          step.reason,
        );
        const e = rec(step.evacuation).evacuation;
        announce(this.#d, {
          metric: (o) => {
            o.noticeToCordon(secondsBetween(e.noticedAt, now));
          },
          level: "info",
          fields: { node: step.node, evacuation: step.evacuation },
          message: `cordoned: ${step.reason}`,
          events: [cordoned(step.node, step.reason)],
        });
        return [step.evacuation];
      }
      case "taint-prefer-no-schedule": {
        await actuator.taintPreferNoSchedule(step.node, this.#d.taintKey);
        update(
          step.evacuation,
          (e) => ({ ...e, phase: e.phase === "Pending" ? "Cordoned" : e.phase }),
          step.reason,
        );
        announce(this.#d, {
          level: "info",
          fields: { node: step.node },
          message: `tainted PreferNoSchedule: ${step.reason}`,
          events: [taintedPreferNoSchedule(step.node, step.reason)],
        });
        return [step.evacuation];
      }
      case "mark-doomed": {
        const ns = step.workload.namespace;
        // One patch per doomed pod (the cost is per pod); a pod gone meanwhile needs none.
        await forEachConcurrently(step.pods, MARK_CONCURRENCY, async (pod) => {
          await actuator.setDeletionCost({ namespace: ns, name: pod }, step.deletionCost);
        });
        log.debug({ workload: workloadKey(step.workload), pods: step.pods }, `marked: ${step.reason}`);
        return [];
      }
      case "surge": {
        const outcome = expectApplied(
          await actuator.changeSurgeLedger(step.workload, { kind: "surge", records: step.records, at: now }),
          step.workload,
        );
        const touched = this.#sync(byName, changes, step.workload, outcome.touched, step.reason);
        if (outcome.delta === 0) {
          // An earlier write (whose answer or status record was lost) already made this surge.
          log.info(
            { workload: workloadKey(step.workload), pods: step.pods },
            `surge already in the ledger of ${workloadKey(step.workload)}; nothing written: ${step.reason}`,
          );
          return touched;
        }
        announce(this.#d, {
          metric: (o) => {
            for (const r of step.records)
              o.noticeToSurge(secondsBetween(rec(r.evacuation).evacuation.noticedAt, now));
            o.podsMoved(step.workload.kind, "surge", outcome.delta);
          },
          level: "info",
          fields: {
            workload: workloadKey(step.workload),
            by: outcome.delta,
            pods: step.pods,
            replicas: outcome.replicas,
          },
          message: `surged: ${step.reason}`,
          events: [
            surgeCreated(step.workload, step.reason),
            ...step.records
              .filter((r) => rec(r.evacuation).evacuation.mode === "prewarm")
              .map((r) => prewarmed(r.evacuation, step.reason)),
          ],
        });
        return [...new Set([...touched, ...step.records.map((r) => r.evacuation)])];
      }
      case "retire": {
        const surges = step.records.map((ref) => {
          const e = rec(ref.evacuation).evacuation;
          const r = e.surges[ref.index];
          if (r === undefined)
            throw new Error(`plan names unknown surge record ${ref.evacuation}#${ref.index}`);
          return {
            id: recordId(e.name, r),
            evacuation: e.name,
            pods: r.pods,
            by: r.by,
            legacy: r.id === undefined,
          };
        });
        const outcome = expectApplied(
          await actuator.changeSurgeLedger(step.workload, { kind: "retire", surges, at: now }),
          step.workload,
        );
        const touched = new Set(this.#sync(byName, changes, step.workload, outcome.touched, step.reason));
        for (const ref of step.records) {
          if (retireRecords(rec(ref.evacuation).evacuation, step.workload, outcome.unknown, now) === null)
            continue;
          update(
            ref.evacuation,
            (e) => retireRecords(e, step.workload, outcome.unknown, now) ?? e,
            step.reason,
          );
          touched.add(ref.evacuation);
        }
        if (outcome.delta === 0) {
          log.info(
            { workload: workloadKey(step.workload), pods: step.pods },
            `retire already in the ledger of ${workloadKey(step.workload)}; nothing written: ${step.reason}`,
          );
          return [...touched];
        }
        announce(this.#d, {
          metric: (o) => {
            for (const ref of step.records)
              o.noticeToReplacementsReady(secondsBetween(rec(ref.evacuation).evacuation.noticedAt, now));
          },
          level: "info",
          fields: {
            workload: workloadKey(step.workload),
            by: outcome.delta,
            pods: step.pods,
            replicas: outcome.replicas,
          },
          message: `retired: ${step.reason}`,
          events: [
            ...[...touched].map((name) => replacementsReady(name, workloadKey(step.workload), step.reason)),
            retired(step.workload, step.reason),
          ],
        });
        return [...touched];
      }
      case "evict": {
        if (step.atLastResponsibleMoment) this.#lastResponsibleMoment(step);
        const result = await actuator.evict(step.pod);
        if (result.kind === "error") {
          this.#d.observer.eviction("error");
          throw result.error;
        }
        if (result.kind === "throttled" || result.kind === "conflict") {
          log.info(
            { pod: podKey(step.pod), result: result.kind },
            `eviction not done yet (${result.message}); will retry`,
          );
          return [];
        }
        const outcome = result.kind;
        this.#d.observer.eviction(
          outcome === "evicted" ? "ok" : outcome === "blocked-by-pdb" ? "pdb_blocked" : "not_found",
        );
        if (result.kind === "blocked-by-pdb" && step.atLastResponsibleMoment) {
          // At the LRM the node dies whatever the PDB says: a refusal is answered with a graceful delete.
          return this.#deleteOverridingPdb(
            { ...step, pdbs: [] },
            `PodDisruptionBudget refused the eviction at the last responsible moment (429: ${result.message}); the node dies at the deadline whatever the budget says, so the pod is deleted with its own grace period instead. ${step.reason}`,
            update,
            now,
          );
        }
        update(
          step.evacuation,
          (e) => ({
            ...e,
            phase:
              e.phase === "Surging" || e.phase === "Cordoned" || e.phase === "Pending" ? "Retiring" : e.phase,
            evictions: withEviction(e.evictions, { pod: step.pod, at: now, outcome }),
            timeline:
              outcome === "evicted" ? { ...e.timeline, retiredAt: e.timeline.retiredAt ?? now } : e.timeline,
          }),
          step.reason,
        );
        if (result.kind === "blocked-by-pdb")
          announce(this.#d, {
            level: "warn",
            fields: { pod: podKey(step.pod) },
            message: `eviction blocked by a PodDisruptionBudget, will retry: ${step.reason}`,
            events: [evictionBlocked(step.pod, result.message, step.reason)],
          });
        else
          announce(this.#d, {
            metric: (o) => {
              if (outcome === "evicted") o.podsMoved(this.#ownerKind(step.pod), "evict", 1);
            },
            level: "info",
            fields: { pod: podKey(step.pod), result: outcome },
            message: `evict: ${step.reason}`,
            events: [evicted(step.pod, step.reason)],
          });
        return [step.evacuation];
      }
      case "delete":
        this.#lastResponsibleMoment(step);
        return this.#deleteOverridingPdb(
          step,
          `PodDisruptionBudget ${step.pdbs.join(", ")} allows no disruption, overridden at the last responsible moment: ${step.reason}`,
          update,
          now,
        );
      case "hand-back": {
        // The ledger first (the workload may be gone: nothing to close there), then the status cache.
        const ids = step.records.map((ref) => {
          const r = rec(ref.evacuation).evacuation.surges[ref.index];
          if (r === undefined)
            throw new Error(`plan names unknown surge record ${ref.evacuation}#${ref.index}`);
          return recordId(ref.evacuation, r);
        });
        const outcome = await actuator.changeSurgeLedger(step.workload, { kind: "hand-back", ids, at: now });
        if (outcome.kind === "unsupported") throw new Error(outcome.reason);
        for (const ref of step.records)
          update(
            ref.evacuation,
            (e) => ({
              ...e,
              surges: e.surges.map((s, i) =>
                i === ref.index ? { ...s, retiredAt: s.retiredAt ?? now, handedBackAt: now } : s,
              ),
            }),
            step.reason,
          );
        announce(this.#d, {
          level: "warn",
          fields: { workload: workloadKey(step.workload), cause: step.cause },
          message: `surge handed back: ${step.reason}`,
          events: [surgeHandedBack(step.workload, step.reason)],
        });
        return [...new Set(step.records.map((r) => r.evacuation))];
      }
      case "uncordon": {
        await actuator.uncordon(step.node, this.#d.taintKey);
        announce(this.#d, {
          level: "info",
          fields: { node: step.node, evacuation: step.evacuation },
          message: `uncordoned: ${step.reason}`,
          events: [prewarmExpired(step.evacuation, step.reason), uncordoned(step.node, step.reason)],
        });
        return [];
      }
      case "clear-request": {
        const outcome = await actuator.removeNodeAnnotation(step.node, EVACUATE_ANNOTATION, step.value);
        if (outcome.kind === "done" && outcome.changed)
          announce(this.#d, {
            level: "info",
            fields: { node: step.node, evacuation: step.evacuation },
            message: `request cleared: ${step.reason}`,
            events: [requestCleared(step.node, step.reason)],
          });
        return [];
      }
      case "fail": {
        // The lifecycle call first (as for complete): when it fails the step is retried, and the Failed
        // phase, the metric and the Events below are not recorded twice.
        const hook = rec(step.evacuation).lifecycleHook;
        if (hook !== null && this.#d.lifecycle !== null) {
          // The instance goes either way; CONTINUE lets the ASG finish the termination now instead of at the
          // hook's timeout.
          await this.#d.lifecycle.complete(hook, "CONTINUE");
          log.info(
            { hook: hook.lifecycleHookName },
            "completed the ASG lifecycle action with CONTINUE (evacuation gave up)",
          );
        }
        update(
          step.evacuation,
          (e) => ({ ...e, phase: "Failed", timeline: { ...e.timeline, failedAt: now } }),
          step.reason,
        );
        const e = rec(step.evacuation).evacuation;
        announce(this.#d, {
          metric: (o) => {
            o.evacuationFailed(secondsBetween(e.noticedAt, now));
          },
          level: "error",
          fields: { evacuation: e.name, node: e.nodeName },
          message: `evacuation failed: ${step.reason}`,
          events: [evacuationFailed(e.name, step.reason), nodeEvacuationFailed(e.nodeName, step.reason)],
        });
        return [step.evacuation];
      }
      case "forget":
        // Carried out by reconcileOnce (a delete, not a status change).
        return [];
      case "force-delete": {
        const result = await actuator.forceDelete(step.pod);
        update(
          step.evacuation,
          (e) => ({
            ...e,
            evictions: withEviction(e.evictions, {
              pod: step.pod,
              at: now,
              outcome: result.kind === "deleted" ? "force-deleted" : "not-found",
            }),
          }),
          step.reason,
        );
        announce(this.#d, {
          metric: (o) => {
            if (result.kind === "deleted") o.podsMoved(this.#ownerKind(step.pod), "force_delete", 1);
          },
          level: "warn",
          fields: { pod: podKey(step.pod) },
          message: `force-deleted: ${step.reason}`,
          events: [forceDeleted(step.pod, step.reason)],
        });
        return [step.evacuation];
      }
      case "request-node": {
        const earlyNode = this.#d.earlyNode;
        if (earlyNode == null) return [];
        const outcome = await earlyNode.request(step.instanceId, step.count, step.evacuation);
        if (outcome.kind === "requested") {
          const raised = `raised ${outcome.group} from ${outcome.from} to ${outcome.to}`;
          announce(this.#d, {
            level: "info",
            fields: { node: step.node, group: outcome.group, from: outcome.from, to: outcome.to },
            message: `early node: ${raised}: ${step.reason}`,
            events: [
              earlyNodeRequested(
                step.node,
                `desired capacity of ${outcome.group} raised from ${outcome.from} to ${outcome.to}: ${step.reason}`,
              ),
            ],
          });
        } else if (outcome.kind === "at-max" || outcome.kind === "no-group") {
          const why =
            outcome.kind === "at-max"
              ? `${outcome.group} is at its MaxSize ${outcome.max}`
              : `${step.instanceId} belongs to no Auto Scaling group`;
          const key = `EarlyNode/${step.evacuation}`;
          if (!this.#warned.has(key)) {
            this.#warned.add(key);
            log.warn({ node: step.node }, `early node not requested: ${why}`);
          }
        }
        return [];
      }
      case "warn": {
        const key = `${step.code}/${step.subject}`;
        if (this.#warned.has(key)) return [];
        this.#warned.add(key);
        announce(this.#d, {
          level: "warn",
          fields: { code: step.code, subject: step.subject },
          message: step.reason,
          events: [warning(step.subject, step.code, step.reason)],
        });
        return [];
      }
      case "wait": {
        log.debug({ subject: step.subject, until: step.until }, `waiting: ${step.reason}`);
        return [];
      }
      case "complete": {
        // The lifecycle call first: when it fails the step is retried, and the completion metrics and
        // Events below must not be counted again on each retry.
        const hook = rec(step.evacuation).lifecycleHook;
        if (hook !== null && this.#d.lifecycle !== null) {
          await this.#d.lifecycle.complete(hook, "CONTINUE");
          log.info({ hook: hook.lifecycleHookName }, "completed the ASG lifecycle action with CONTINUE");
        }
        update(
          step.evacuation,
          (e) => ({ ...e, phase: "Done", timeline: { ...e.timeline, doneAt: now } }),
          step.reason,
        );
        const e = rec(step.evacuation).evacuation;
        const slack = slackSeconds(e, now);
        const missed = slack !== null && slack < 0;
        const message = `${step.reason}${slack === null ? "" : `; slack to the deadline ${slack} s`}`;
        announce(this.#d, {
          metric: (o) => {
            o.noticeToDone(secondsBetween(e.noticedAt, now), slack, missed);
          },
          level: "info",
          fields: { evacuation: e.name, node: e.nodeName, slackSeconds: slack },
          message: `evacuation done: ${step.reason}`,
          events: [
            missed ? deadlineMissed(e.name, message) : evacuationDone(e.name, message),
            nodeEvacuationDone(e.nodeName, step.reason),
          ],
        });
        return [step.evacuation];
      }
    }
  }

  /** Warning LastResponsibleMoment, once per evacuation: a pod goes at its LRM, replacements Ready or not. */
  #lastResponsibleMoment(step: { pod: PodRef; evacuation: string; reason: string }): void {
    if (this.#warned.has(`lrm/${step.evacuation}`)) return;
    this.#warned.add(`lrm/${step.evacuation}`);
    announce(this.#d, {
      level: "warn",
      fields: { evacuation: step.evacuation, pod: podKey(step.pod) },
      message: step.reason,
      events: [lastResponsibleMoment(step.evacuation, step.pod, step.reason)],
    });
  }

  /**
   * Deletes `step.pod` with its own grace period (preStop runs), bypassing the Eviction API: the pod's last
   * responsible moment has come and a PodDisruptionBudget would refuse (or refused) its eviction.
   */
  async #deleteOverridingPdb(
    step: { pod: PodRef; evacuation: string; pdbs: string[] },
    message: string,
    update: (name: string, fn: (e: Evacuation) => Evacuation, message: string) => void,
    now: number,
  ): Promise<string[]> {
    const result = await this.#d.actuator.deletePod(step.pod);
    update(
      step.evacuation,
      (e) => ({
        ...e,
        phase:
          e.phase === "Surging" || e.phase === "Cordoned" || e.phase === "Pending" ? "Retiring" : e.phase,
        evictions: withEviction(e.evictions, {
          pod: step.pod,
          at: now,
          outcome: result.kind === "deleted" ? "deleted" : "not-found",
        }),
        timeline:
          result.kind === "deleted" ? { ...e.timeline, retiredAt: e.timeline.retiredAt ?? now } : e.timeline,
      }),
      message,
    );
    announce(this.#d, {
      metric: (o) => {
        if (result.kind === "deleted") o.podsMoved(this.#ownerKind(step.pod), "delete", 1);
      },
      level: "warn",
      fields: { pod: podKey(step.pod), pdbs: step.pdbs, result: result.kind },
      message,
      events: [pdbOverridden(step.pod, message)],
    });
    return [step.evacuation];
  }

  /** When a waiting notice stops a group of `kind` from starting more steps; undefined: never. */
  #preemption(kind: Step["kind"]): (() => boolean) | undefined {
    const waiting = (): boolean => this.#d.noticeWaiting?.() === true;
    if (PREEMPTIBLE_KINDS.has(kind)) return waiting;
    if (kind !== "surge") return undefined;
    const start = this.#d.clock.now();
    return () => waiting() && this.#d.clock.now() - start >= SURGE_TURN_MS;
  }

  async #heartbeats(stored: StoredEvacuation[], now: number): Promise<void> {
    const hooks = this.#d.lifecycle;
    if (hooks === null) return;
    for (const s of stored) {
      if (s.lifecycleHook === null || !isActive(s.evacuation)) continue;
      const last = this.#lastHeartbeat.get(s.evacuation.name) ?? 0;
      if (now - last < this.#d.asgHeartbeatSeconds * 1000) continue;
      try {
        await hooks.heartbeat(s.lifecycleHook);
        this.#lastHeartbeat.set(s.evacuation.name, now);
      } catch (err) {
        this.#failed(
          "lifecycle_heartbeat",
          { kind: "Evacuation", name: s.evacuation.name },
          `ASG lifecycle heartbeat failed, will retry: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
  }
}

/** The evictions with `record` as the latest word on its pod (one record per pod). */
function withEviction(evictions: EvictionRecord[], record: EvictionRecord): EvictionRecord[] {
  return [...evictions.filter((x) => podKey(x.pod) !== podKey(record.pod)), record];
}

/** A scale that did not happen is a failed step: the plan is recomputed and retried on the next reconcile. */
function expectApplied(
  outcome: LedgerOutcome,
  workload: WorkloadRef,
): Extract<LedgerOutcome, { kind: "applied" }> {
  if (outcome.kind === "applied") return outcome;
  const why = outcome.kind === "not-found" ? "it no longer exists" : outcome.reason;
  throw new Error(`could not scale ${workloadKey(workload)}: ${why}`);
}

function secondsBetween(from: number, to: number): number {
  return Math.max(0, (to - from) / 1000);
}

/** The metric label of the call a step makes. */
function actionOf(step: Step): ActuatorAction {
  switch (step.kind) {
    case "cordon":
      return "cordon";
    case "taint-prefer-no-schedule":
      return "taint";
    case "surge":
      return "surge";
    case "mark-doomed":
      return "mark_doomed";
    case "retire":
      return "retire";
    case "evict":
      return "evict";
    case "delete":
      return "delete";
    case "force-delete":
      return "force_delete";
    case "uncordon":
      return "uncordon";
    case "clear-request":
      return "clear_request";
    case "complete":
    case "fail":
      return "lifecycle_complete";
    case "request-node":
      return "asg_set_desired";
    case "forget":
      return "evacuation_delete";
    case "hand-back":
    case "warn":
    case "wait":
      return "status_write";
  }
}

/** What an ActionFailed Event about a step is written on. */
function stepObject(step: Step): EventObject {
  switch (step.kind) {
    case "cordon":
    case "uncordon":
    case "taint-prefer-no-schedule":
    case "clear-request":
    case "request-node":
      return { kind: "Node", name: step.node };
    case "surge":
    case "mark-doomed":
    case "retire":
    case "hand-back":
      return workloadObject(step.workload);
    case "evict":
    case "delete":
    case "force-delete":
      return { kind: "Pod", ...step.pod };
    case "complete":
    case "fail":
    case "forget":
      return { kind: "Evacuation", name: step.evacuation };
    case "warn":
    case "wait":
      return subjectObject(step.subject);
  }
}
