/**
 * The executor: read (evacuations + cluster snapshot) -> decide (the pure planner) -> act, then persist what
 * was done in the Evacuation status. One reconcile handles every active evacuation at once, so an AZ-wide
 * reclaim cordons every affected node before any surge and surges each workload once. Each step is carried
 * out by the handler of its kind (./steps/); this module runs the plan in its order, decides when the status
 * is written and heartbeats the ASG lifecycle hooks; ./records.ts keeps the evacuations' records and writes
 * them.
 *
 * Exactly-once replica changes: a surge (+k) or retire (-k) is written together with its entry in the
 * workload's surge ledger (annotation lifeboat.dev/surge-ledger, src/domain/surge-ledger.ts) in one
 * optimistic-concurrency update, and that write is idempotent. The Evacuation status is a cache of the
 * ledger: it is written right after each replica change (after a group of surges run together, once per
 * evacuation touched), and when that write fails (or the process dies before it), the next reconcile
 * recovers the record from the ledger before planning (./ledger-sync.ts), and a step planned again from a
 * stale view finds its change already in the ledger and writes nothing.
 */
import type { EarlyNodeActuatorLike } from "../actuators/aws/early-node.ts";
import type { LifecycleActuatorLike } from "../actuators/aws/lifecycle.ts";
import type { KubeActuator } from "../actuators/kube-actuator.ts";
import type { ClusterView, EvacuationObserver, EventSink, ExecutorLogger } from "../actuators/ports.ts";
import type { Clock } from "../domain/clock.ts";
import { errorMessage } from "../domain/error-message.ts";
import { isActive, type Evacuation, type StoredEvacuation } from "../domain/evacuation.ts";
import type { Plan, Step, StepKind } from "../domain/plan.ts";
import { podKey } from "../domain/snapshot.ts";
import { isNotLeader } from "../leader/fence.ts";
import type { ActuatorAction } from "../observability/metrics.ts";
import type { Budgets } from "../planner/budgets.ts";
import { planEvacuations } from "../planner/planner.ts";
import type { PlanPolicy } from "../planner/policy.ts";
import type { EvacuationStore } from "../state/evacuation-store.ts";
import { forEachConcurrently } from "./concurrency.ts";
import { actionFailed, announce, evacuationObject, type EventObject } from "./events.ts";
import { EvacuationRecords } from "./records.ts";
import { actionOf, runStep, stepObject, type StepContext } from "./steps/index.ts";

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

/** What one reconcile knows and has done. */
interface Round {
  records: EvacuationRecords;
  failures: ReconcileResult["failures"];
  /** The owner kind of each pod (for pods_moved_total{workload_kind} of evictions and force-deletes). */
  ownerKinds: Map<string, string>;
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
 * a time within a group of consecutive steps of the kind: an AZ-wide reclaim is hundreds of cordons, surges
 * and marks and, when replacements are late, thousands of evictions at the last responsible moment, which
 * one after another would end after the deadline.
 */
const CONCURRENT_KINDS: ReadonlySet<StepKind> = new Set([
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
const PREEMPTIBLE_KINDS: ReadonlySet<StepKind> = new Set(["mark-doomed", "retire"]);

/**
 * A waiting notice stops a group of surges from starting more once the group has run this long (and its
 * first STEP_CONCURRENCY have started). Notices are recorded between reconciles: a group that runs to its
 * end keeps new warnings unrecorded, and their pods' surges unplanned, for as long as it runs, and a group
 * stopped after every STEP_CONCURRENCY makes the surges themselves wait. After a turn of this length the
 * waiting notices are recorded and the next plan takes their pods with the surges left, one write per
 * workload for both.
 */
export const SURGE_TURN_MS = 1_000;

/**
 * Kinds that change a workload's surge ledger: the Evacuation status, the ledger's cache, is written right
 * after each (after a group of them, once for the group).
 */
const LEDGER_KINDS: ReadonlySet<StepKind> = new Set(["surge", "retire", "hand-back"]);

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
  readonly #deps: ReconcilerDeps;
  readonly #lastHeartbeat = new Map<string, number>();
  /** Warnings already reported: the planner repeats them in every plan, operators want them once. */
  readonly #warned = new Set<string>();

  constructor(deps: ReconcilerDeps) {
    this.#deps = deps;
  }

  get #policy(): PlanPolicy {
    return {
      taintKey: this.#deps.taintKey,
      excludeFromLb: this.#deps.excludeFromLb,
      prewarmTimeoutSeconds: this.#deps.prewarmTimeoutSeconds,
      giveUpAfterSeconds: this.#deps.giveUpAfterSeconds,
      ttlSecondsAfterFinished: this.#deps.evacuationTtlSeconds,
      earlyNode: this.#deps.earlyNode != null,
    };
  }

  async reconcileOnce(): Promise<ReconcileResult> {
    const { clock, store, cluster } = this.#deps;
    const stored = await store.list();
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
    const records = new EvacuationRecords(stored, {
      store,
      log: this.#deps.log,
      writeConcurrency: STEP_CONCURRENCY,
    });
    const round: Round = {
      records,
      failures: [],
      ownerKinds: new Map(snapshot.pods.map((p) => [podKey(p), p.owner?.kind ?? "Other"])),
    };
    // The status is a cache of the surge ledgers: recover what a failed status write (or a crash) lost.
    for (const w of snapshot.workloads)
      if (w.surgeLedger.length > 0) records.touch(records.syncWithLedger(w.ref, w.surgeLedger, null));
    const plan = planEvacuations({
      snapshot,
      evacuations: records.evacuations(),
      now,
      budgets: this.#deps.budgets,
      policy: this.#policy,
    });
    await this.#runPlan(plan, round);
    await this.#heartbeats(stored, clock.now());
    try {
      await records.persist();
    } catch (err) {
      this.#deps.observer.actuatorError("status_write");
      throw err;
    }
    return {
      plan,
      failures: round.failures,
      nextReviewAt: plan.nextReviewAt,
      evacuations: records.evacuations(),
    };
  }

  /**
   * The plan's order holds (every cordon before any surge, every surge before any retire): steps run group by
   * group of one kind. Within a group of cordons, surges or retires (an AZ-wide reclaim: a hundred nodes, a
   * thousand workloads) the steps are independent (one node, one workload each) and run STEP_CONCURRENCY at
   * a time; the status writes of surges and retires then follow once for the whole group (the ledger on each
   * workload is what makes a replica change exactly-once, the status its cache).
   */
  async #runPlan(plan: Plan, round: Round): Promise<void> {
    for (const group of groupsOfKind(plan.steps)) {
      const kind = group[0]?.kind;
      const goOn =
        group.length > 1 && kind !== undefined && CONCURRENT_KINDS.has(kind)
          ? await this.#runConcurrently(group, kind, round)
          : await this.#runInTurn(group, round);
      if (!goOn) return;
    }
  }

  /** Runs a group of steps one after another; false when the rest of the plan waits for the next reconcile. */
  async #runInTurn(group: Step[], round: Round): Promise<boolean> {
    for (const step of group) await this.#runStep(step, true, round);
    return !(group[0]?.kind === "cordon" && this.#noticeWaitsAfterCordons());
  }

  /**
   * Runs a group of independent steps STEP_CONCURRENCY at a time, then writes the status of the evacuations
   * its surges or retires touched; false when the rest of the plan waits for the next reconcile.
   */
  async #runConcurrently(group: Step[], kind: StepKind, round: Round): Promise<boolean> {
    const touched = new Set<string>();
    // A notice waiting to be recorded also stops a group of marks or retires from starting more steps
    // (after a first STEP_CONCURRENCY, so that every reconcile moves on), and a group of surges once it
    // has had its turn (SURGE_TURN_MS): the rest waits for the next reconcile, which plans the new node's
    // pods too. Cordons and pod removals (evictions at the last responsible moment) are never held back.
    const ran = await forEachConcurrently(
      group,
      STEP_CONCURRENCY,
      async (step) => {
        for (const name of await this.#runStep(step, false, round)) touched.add(name);
      },
      this.#preemption(kind),
    );
    if (kind === "cordon" && this.#noticeWaitsAfterCordons()) return false;
    if (kind === "surge" || kind === "retire") {
      try {
        await round.records.persist(touched);
      } catch (err) {
        if (isNotLeader(err)) throw err;
        this.#failed(
          "status_write",
          evacuationObject([...touched][0] ?? ""),
          `status write after ${group.length} ${kind}s failed, will retry: ${errorMessage(err)}`,
        );
      }
    }
    if (ran === group.length) return true;
    this.#deps.log.info(
      { done: ran, left: group.length - ran },
      `a notice is waiting: ${group.length - ran} ${kind}s wait for the next reconcile`,
    );
    return false;
  }

  /** After a group of cordons, a waiting notice stops the plan (see ReconcilerDeps.noticeWaiting). */
  #noticeWaitsAfterCordons(): boolean {
    if (this.#deps.noticeWaiting?.() !== true) return false;
    this.#deps.log.info({}, "a notice is waiting: the rest of this plan waits for the next reconcile");
    return true;
  }

  /** Runs one step (outside a group, a ledger change is written to the status at once); throws only NotLeader. */
  async #runStep(step: Step, persistNow: boolean, round: Round): Promise<string[]> {
    let action = actionOf(step);
    try {
      const touched = await runStep(step, this.#stepContext(round));
      round.records.touch(touched);
      // Replica changes are persisted at once (see the crash-safety note above).
      action = "status_write";
      if (persistNow && LEDGER_KINDS.has(step.kind)) await round.records.persist(touched);
      return touched;
    } catch (err) {
      // Lost the lease (with margin): stop at once, write nothing more (src/leader/fence.ts).
      if (isNotLeader(err)) throw err;
      const error = errorMessage(err);
      round.failures.push({ step, error });
      this.#failed(action, stepObject(step), `${action} failed, will retry: ${error} (step: ${step.reason})`);
      return [];
    }
  }

  /** What a step handler works with (./steps/handler.ts): the ports, and this reconcile's records. */
  #stepContext(round: Round): StepContext {
    const deps = this.#deps;
    return {
      actuator: deps.actuator,
      lifecycle: deps.lifecycle,
      earlyNode: deps.earlyNode ?? null,
      taintKey: deps.taintKey,
      excludeFromLb: deps.excludeFromLb,
      log: deps.log,
      events: deps.events,
      observer: deps.observer,
      now: deps.clock.now(),
      stored: (name) => round.records.stored(name),
      update: (name, fn, message) => {
        round.records.update(name, fn, message);
      },
      syncWithLedger: (workload, entries, message) =>
        round.records.syncWithLedger(workload, entries, message),
      ownerKind: (pod) => round.ownerKinds.get(podKey(pod)) ?? "Other",
      firstTime: (key) => {
        if (this.#warned.has(key)) return false;
        this.#warned.add(key);
        return true;
      },
      forget: (name) => round.records.forget(name),
    };
  }

  /** A failed call: counted, logged and reported as an ActionFailed Event (the next reconcile retries). */
  #failed(action: ActuatorAction, object: EventObject, message: string): void {
    announce(this.#deps, {
      metric: (o) => {
        o.actuatorError(action);
      },
      level: "error",
      fields: { action, object },
      message,
      events: [actionFailed(object, message)],
    });
  }

  /** When a waiting notice stops a group of `kind` from starting more steps; undefined: never. */
  #preemption(kind: StepKind): (() => boolean) | undefined {
    const waiting = (): boolean => this.#deps.noticeWaiting?.() === true;
    if (PREEMPTIBLE_KINDS.has(kind)) return waiting;
    if (kind !== "surge") return undefined;
    const start = this.#deps.clock.now();
    return () => waiting() && this.#deps.clock.now() - start >= SURGE_TURN_MS;
  }

  async #heartbeats(stored: StoredEvacuation[], now: number): Promise<void> {
    const hooks = this.#deps.lifecycle;
    if (hooks === null) return;
    for (const s of stored) {
      if (s.lifecycleHook === null || !isActive(s.evacuation)) continue;
      const last = this.#lastHeartbeat.get(s.evacuation.name) ?? 0;
      if (now - last < this.#deps.asgHeartbeatSeconds * 1000) continue;
      try {
        await hooks.heartbeat(s.lifecycleHook);
        this.#lastHeartbeat.set(s.evacuation.name, now);
      } catch (err) {
        this.#failed(
          "lifecycle_heartbeat",
          evacuationObject(s.evacuation.name),
          `ASG lifecycle heartbeat failed, will retry: ${errorMessage(err)}`,
        );
      }
    }
  }
}
