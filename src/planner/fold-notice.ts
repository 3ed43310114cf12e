/**
 * Pure: how a notice changes the evacuation of its node. Duplicates (SQS redelivery, IMDS repeats, the same
 * instance in two events) collapse into one evacuation; a later, more decisive notice continues the same
 * evacuation (a spot warning after a rebalance recommendation turns a pre-warm into an evacuation).
 */
import { createHash } from "node:crypto";
import type {
  Evacuation,
  EvacuationMode,
  LeavingInstanceState,
  StoredEvacuation,
} from "../domain/evacuation.ts";
import type { Notice } from "../domain/notice.ts";
import { deathIsCertain } from "./death.ts";

/** What to do on a rebalance recommendation (no deadline yet). Documented in docs/design.md. */
export type RebalancePolicy = "ignore" | "taint" | "prewarm" | "evacuate";

export interface NodeIdentity {
  name: string;
  instanceId: string | null;
  nodeGroup: string | null;
}

export interface FoldPolicy {
  rebalancePolicy: RebalancePolicy;
  rebalancePolicyByNodeGroup: Readonly<Record<string, RebalancePolicy>>;
}

export type FoldDecision =
  | { kind: "create"; stored: StoredEvacuation; reason: string }
  | { kind: "update"; stored: StoredEvacuation; reason: string }
  | { kind: "duplicate"; reason: string }
  | { kind: "ignore"; reason: string };

const MODE_RANK: Record<EvacuationMode, number> = { "taint-only": 0, prewarm: 1, evacuate: 2 };

export function rebalancePolicyFor(node: NodeIdentity, policy: FoldPolicy): RebalancePolicy {
  return (
    (node.nodeGroup !== null ? policy.rebalancePolicyByNodeGroup[node.nodeGroup] : undefined) ??
    policy.rebalancePolicy
  );
}

/** The mode a notice asks for on its own, or null when policy says to ignore it. */
export function modeFor(notice: Notice, node: NodeIdentity, policy: FoldPolicy): EvacuationMode | null {
  if (notice.kind !== "rebalance-recommendation") return "evacuate";
  switch (rebalancePolicyFor(node, policy)) {
    case "ignore":
      return null;
    case "taint":
      return "taint-only";
    case "prewarm":
      return "prewarm";
    case "evacuate":
      return "evacuate";
  }
}

/** A stable, valid resource name for the evacuation of `node` started by `noticeId`. */
export function evacuationName(nodeName: string, noticeId: string): string {
  const hash = createHash("sha256").update(noticeId).digest("hex").slice(0, 8);
  return `${nodeName
    .slice(0, 200)
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, "-")}-${hash}`;
}

const gone = (n: Notice): boolean => n.kind === "instance-state-change";

/** How far an instance in each leaving state has gone: nothing runs on it once it is stopped or terminated. */
const LEAVING_RANK: Record<LeavingInstanceState, number> = {
  stopping: 1,
  "shutting-down": 1,
  stopped: 2,
  terminated: 2,
};

/** The leaving state a state-change notice reports, if any. */
function leavingState(n: Notice): LeavingInstanceState | null {
  const s = n.instanceState;
  return s !== undefined && s in LEAVING_RANK ? (s as LeavingInstanceState) : null;
}

/**
 * The furthest of two reported states: a stopping reported after stopped (EventBridge does not keep order)
 * does not bring the instance back to life.
 */
function furthest(
  a: LeavingInstanceState | null,
  b: LeavingInstanceState | null,
): LeavingInstanceState | null {
  if (a === null) return b;
  if (b === null) return a;
  return LEAVING_RANK[b] >= LEAVING_RANK[a] ? b : a;
}

/** The notice's deadline when it is the node's certain end (deathIsCertain), else null. */
const certainDeadlineOf = (n: Notice): number | null => (deathIsCertain(n) ? n.deadline : null);

/** The earlier of two times, either of which may be unknown. */
const earliest = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.min(a, b);

export function foldNotice(
  active: StoredEvacuation | null,
  notice: Notice,
  node: NodeIdentity,
  policy: FoldPolicy,
  now: number,
): FoldDecision {
  const mode = modeFor(notice, node, policy);
  if (active !== null) return foldInto(active, notice, mode);
  if (mode === null) {
    return {
      kind: "ignore",
      reason: `rebalance policy for node ${node.name} is "ignore": ${notice.summary}`,
    };
  }
  const evacuation: Evacuation = {
    name: evacuationName(node.name, notice.id),
    nodeName: node.name,
    instanceId: node.instanceId,
    mode,
    noticeIds: [notice.id],
    noticeKind: notice.kind,
    deadline: notice.deadline,
    certainDeadline: certainDeadlineOf(notice),
    noticedAt: now,
    phase: "Pending",
    surges: [],
    evictions: [],
    timeline: { noticedAt: now },
    instanceGone: gone(notice),
    instanceState: leavingState(notice),
  };
  return {
    kind: "create",
    stored: {
      evacuation,
      lifecycleHook: notice.lifecycleHook ?? null,
      message: notice.summary,
      resourceVersion: undefined,
    },
    reason: `${mode} node ${node.name}: ${notice.summary}`,
  };
}

/** A notice for a node that has an active evacuation: what it changes of it, or a duplicate. */
function foldInto(active: StoredEvacuation, notice: Notice, mode: EvacuationMode | null): FoldDecision {
  const e = active.evacuation;
  // A notice already listed is a duplicate only when its effect is recorded too: the spec (notice ids) and
  // the status (instanceGone) are two writes, and a redelivery after the second failed must write it again.
  const listed = e.noticeIds.includes(notice.id);
  const nextMode = mode !== null && MODE_RANK[mode] > MODE_RANK[e.mode] ? mode : e.mode;
  // A state change ("shutting-down") says the instance is going now; it does not move the deadline the
  // evacuation was planned (and its slack is measured) against.
  const noticeDeadline = gone(notice) && e.deadline !== null ? null : notice.deadline;
  const updated: Evacuation = {
    ...e,
    mode: nextMode,
    deadline: earliest(e.deadline, noticeDeadline),
    certainDeadline: earliest(e.certainDeadline, certainDeadlineOf(notice)),
    instanceGone: e.instanceGone || gone(notice),
    instanceState: furthest(e.instanceState, leavingState(notice)),
    noticeIds: listed ? e.noticeIds : [...e.noticeIds, notice.id],
    noticeKind:
      MODE_RANK[nextMode] > MODE_RANK[e.mode] || notice.deadline !== null ? notice.kind : e.noticeKind,
  };
  const what = changesOf(e, updated);
  if (listed && what.length === 0) {
    return { kind: "duplicate", reason: `notice ${notice.id} is already part of evacuation ${e.name}` };
  }
  return {
    kind: "update",
    stored: {
      ...active,
      evacuation: updated,
      lifecycleHook: active.lifecycleHook ?? notice.lifecycleHook ?? null,
      message: notice.summary,
    },
    reason: listed
      ? `notice ${notice.id} is listed in evacuation ${e.name} but its effect was not recorded (an earlier write failed); recording it now: ${what.join(", ")} (${notice.summary})`
      : what.length > 0
        ? `evacuation ${e.name} continues: ${what.join(", ")} (${notice.summary})`
        : `evacuation ${e.name} continues; notice adds nothing new (${notice.summary})`,
  };
}

/** What a fold changed of the evacuation, in words; empty when nothing the fold decides changed. */
function changesOf(e: Evacuation, u: Evacuation): string[] {
  const what: string[] = [];
  if (u.mode !== e.mode) what.push(`mode ${e.mode} -> ${u.mode}`);
  if (u.deadline !== e.deadline && u.deadline !== null)
    what.push(`deadline ${new Date(u.deadline).toISOString()}`);
  if (u.certainDeadline !== e.certainDeadline && u.certainDeadline !== null)
    what.push(`the node certainly ends ${new Date(u.certainDeadline).toISOString()}`);
  if (u.instanceGone !== e.instanceGone) what.push("instance is going away now");
  if (u.instanceState !== e.instanceState && u.instanceState !== null)
    what.push(`instance ${u.instanceState}`);
  return what;
}
