/** Taking a surge back: why lifeboat may not (the count is someone else's now: hand it back), and the deletion-cost marks a scale-down needs first. */
import type { HandBackCause } from "../domain/plan.ts";
import { POD_DELETION_COST_ANNOTATION } from "../domain/plan.ts";
import type { WorkloadView } from "../domain/snapshot.ts";
import { workloadKey } from "../domain/snapshot.ts";
import type { PlanContext, RecordHit } from "./plan-context.ts";
import type { PlanSink } from "./plan-sink.ts";
import { plural } from "./plan-words.ts";

/**
 * Why lifeboat may not take `k` replicas back from the workload: it is gone (deleted, or deleted and created
 * again: the snapshot has no such workload, or another object), or someone scaled it below what lifeboat
 * added (to 0, say), or someone scaled it at all since lifeboat's last write. Null when it may.
 */
export function handBackCause(
  view: WorkloadView | undefined,
  k: number,
): { cause: HandBackCause; what: string } | null {
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
export function handBack(out: PlanSink, hits: RecordHit[], cause: HandBackCause, why: string): void {
  const first = hits[0];
  if (first === undefined) return;
  const by = hits.reduce((sum, h) => sum + h.record.by, 0);
  out.retires.push({
    kind: "hand-back",
    workload: first.record.workload,
    cause,
    records: hits.map((h) => ({ evacuation: h.evac.name, index: h.index })),
    reason: `${why}: close the surge of +${by} without scaling back (the replica count is theirs now, lifeboat takes nothing from it)`,
  });
}

/** Marks doomed pods with the deletion cost (after the plan's surges, before any retire). */
export function mark(
  ctx: PlanContext,
  out: PlanSink,
  view: WorkloadView,
  pods: readonly { name: string }[],
): void {
  const cost = ctx.budgets.deletionCost;
  out.marks.push({
    kind: "mark-doomed",
    workload: view.ref,
    pods: pods.map((p) => p.name),
    deletionCost: cost,
    reason: `mark ${plural(pods.length, "doomed pod")} of ${workloadKey(view.ref)} with pod-deletion-cost ${cost} so that scaling back removes them, not their replacements`,
  });
}

/** The pods named in `hits` still on `node` without the deletion cost. */
export function unmarkedOf(ctx: PlanContext, node: string, hits: readonly RecordHit[]): string[] {
  const named = new Set(hits.flatMap((h) => h.record.pods));
  const cost = String(ctx.budgets.deletionCost);
  return ctx
    .podsOn(node)
    .filter((p) => named.has(p.name) && !p.deleting && p.annotations[POD_DELETION_COST_ANNOTATION] !== cost)
    .map((p) => p.name);
}
