/**
 * The durable record of one evacuation. It is the status of the `Evacuation` custom resource (group
 * lifeboat.dev), so it must stay plain JSON: no Dates, no Maps, no classes. A restarted controller resumes
 * from it; the surge records in particular are what keeps it from surging the same pod twice.
 * Times are milliseconds since the epoch.
 */
import type { InstanceState, LifecycleHookRef, NoticeKind } from "./notice.ts";
import type { PodRef, WorkloadRef } from "./snapshot.ts";

/**
 * What lifeboat does for the node:
 * - `evacuate`: cordon, surge, retire (or evict at the last responsible moment), complete.
 * - `prewarm`: cordon and surge now, retire nothing until a deadline arrives (rebalance recommendation).
 * - `taint-only`: taint the node PreferNoSchedule and nothing else.
 */
export type EvacuationMode = "evacuate" | "prewarm" | "taint-only";

export type EvacuationPhase = "Pending" | "Cordoned" | "Surging" | "Retiring" | "Done" | "Failed";

/**
 * A state of an instance that is leaving: stopping or shutting-down (the OS may still run), then stopped or
 * terminated (nothing runs on it any more).
 */
export type LeavingInstanceState = Extract<
  InstanceState,
  "stopping" | "shutting-down" | "stopped" | "terminated"
>;

/**
 * One relative scale-up of a workload on behalf of this evacuation. Append-only: steps refer to a record by
 * its index in `Evacuation.surges`.
 */
export interface SurgeRecord {
  /**
   * Id of the entry in the workload's surge ledger (annotation lifeboat.dev/surge-ledger,
   * src/domain/surge-ledger.ts), which is the source of truth: this record is its cache. Absent on records
   * written before the ledger existed.
   */
  id?: string;
  workload: WorkloadRef;
  /** Names (in the workload's namespace) of the doomed pods this surge replaces. */
  pods: string[];
  /** How many replicas were added (+by); the retire removes exactly as many (-by). */
  by: number;
  issuedAt: number;
  /** When the matching scale-down (-by) was issued, or the record handed back; null while the surge is outstanding. */
  retiredAt: number | null;
  /**
   * Set (with retiredAt) when the record was closed without a scale-down because the workload was deleted or
   * scaled below the surge by someone else: the count is theirs, lifeboat takes nothing back. Absent otherwise.
   */
  handedBackAt?: number;
}

/** `deleted`: deleted gracefully at the last responsible moment although a PodDisruptionBudget refused. */
export type EvictionOutcome =
  "evicted" | "blocked-by-pdb" | "not-found" | "deleted" | "force-deleted" | "failed";

export interface EvictionRecord {
  pod: PodRef;
  at: number;
  outcome: EvictionOutcome;
}

export interface EvacuationTimeline {
  noticedAt: number;
  cordonedAt?: number;
  surgeCreatedAt?: number;
  replacementsReadyAt?: number;
  retiredAt?: number;
  doneAt?: number;
  /** When the evacuation gave up (phase Failed). */
  failedAt?: number;
}

export interface Evacuation {
  /** Name of the Evacuation resource (one per node and notice chain). */
  name: string;
  nodeName: string;
  instanceId: string | null;
  mode: EvacuationMode;
  /** Ids of every notice folded into this evacuation (duplicates and follow-ups). */
  noticeIds: string[];
  /** Kind of the most decisive notice so far (a spot warning after a rebalance recommendation wins). */
  noticeKind: NoticeKind;
  /** When the instance is expected to go away; null when unknown (rebalance, manual without deadline). */
  deadline: number | null;
  /**
   * When the node certainly ends: the earliest deadline of a notice that means it (a spot interruption
   * warning, a scheduled retirement's start, an instance already leaving: deathIsCertain in
   * src/planner/death.ts); null while only notices that can be moved or extended set one (a manual deadline,
   * an ASG lifecycle hook lifeboat heartbeats, a scheduled reboot or maintenance). A PodDisruptionBudget is
   * overridden only at a pod's last responsible moment before it.
   */
  certainDeadline: number | null;
  noticedAt: number;
  phase: EvacuationPhase;
  surges: SurgeRecord[];
  evictions: EvictionRecord[];
  timeline: EvacuationTimeline;
  /** The instance was reported leaving (stopping, shutting-down, stopped, terminated). */
  instanceGone: boolean;
  /**
   * The furthest state the instance was reported in (stopped or terminated beat stopping or shutting-down).
   * Null when none was reported, and on a record written before it existed: there `instanceGone` alone says it
   * left, and it is read as stopped or terminated, as it was then.
   */
  instanceState: LeavingInstanceState | null;
}

/**
 * True once nothing can run on the instance any more: it was reported stopped or terminated (or it was
 * reported gone on a record that does not say how far). Before that (stopping, shutting-down) its OS may
 * still run the pods.
 */
export function instanceDown(e: Evacuation): boolean {
  if (!e.instanceGone) return false;
  return e.instanceState === null || e.instanceState === "stopped" || e.instanceState === "terminated";
}

/** Done and Failed evacuations no longer drive any step. */
export function isActive(evacuation: Evacuation): boolean {
  return evacuation.phase !== "Done" && evacuation.phase !== "Failed";
}

/** When a Done or Failed evacuation finished; null while it is active (or for a record without the time). */
export function finishedAt(evacuation: Evacuation): number | null {
  if (isActive(evacuation)) return null;
  return evacuation.timeline.doneAt ?? evacuation.timeline.failedAt ?? null;
}

/** Outcomes after which a pod is off the node: its deletion started, or it was gone already. */
const LEFT_NODE: ReadonlySet<EvictionOutcome> = new Set(["evicted", "deleted", "force-deleted", "not-found"]);

/**
 * When the last pod lifeboat moved off the node left it: its eviction or delete (the latest word on the pod,
 * see `evictions`), else the retire (-k) of the surge that names it (the ReplicaSet removes it then). A pod
 * whose latest word is a refusal or a failure and that no retired surge names left at a time lifeboat does not
 * know: `unknownAt` stands for it (the end of the evacuation). Null when lifeboat moved no pod. This, not the
 * last retire, is what the deadline is measured against: a surge retired after its doomed pods left at their
 * last responsible moment made nobody late.
 */
export function lastPodLeftAt(e: Evacuation, unknownAt: number): number | null {
  const left = new Map<string, number>();
  for (const r of e.surges) {
    if (r.retiredAt === null) continue;
    for (const name of r.pods) left.set(`${r.workload.namespace}/${name}`, r.retiredAt);
  }
  for (const x of e.evictions) {
    const key = `${x.pod.namespace}/${x.pod.name}`;
    if (LEFT_NODE.has(x.outcome)) left.set(key, x.at);
    else if (!left.has(key)) left.set(key, unknownAt);
  }
  return left.size === 0 ? null : Math.max(...left.values());
}

/** An Evacuation as stored: the domain record plus what only the resource carries. */
export interface StoredEvacuation {
  evacuation: Evacuation;
  lifecycleHook: LifecycleHookRef | null;
  /** Last message written to status (the latest reason). */
  message: string;
  resourceVersion: string | undefined;
}
