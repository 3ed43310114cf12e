/** How evacuations end: Done, the wind-down of an expired prewarm (undo) or a give-up (Failed), and the records forgotten after their TTL. */
import type { Evacuation } from "../domain/evacuation.ts";
import { finishedAt, isActive } from "../domain/evacuation.ts";
import { isPlaceholder } from "../domain/headroom.ts";
import { EVACUATE_ANNOTATION, EXCLUDE_FROM_LB_LABEL } from "../domain/plan.ts";
import { podKey, workloadKey } from "../domain/snapshot.ts";
import type { WindDown } from "./lifetimes.ts";
import type { PlanContext, RecordHit } from "./plan-context.ts";
import type { PlanSink } from "./plan-sink.ts";
import { handBack, handBackCause, mark, unmarkedOf } from "./scale-back.ts";
import { canMove, isFinished, plural, pushTo, rel } from "./plan-words.ts";

export function complete(ctx: PlanContext, out: PlanSink): void {
  for (const evac of ctx.moving) {
    if (!canMove(evac)) continue; // prewarm keeps its surge until a deadline comes
    const left = ctx.podsOn(evac.nodeName).filter(
      (p) =>
        !p.mirror &&
        p.owner?.kind !== "DaemonSet" &&
        // A headroom placeholder is not moved: the keeper puts it back elsewhere (a gone instance's is
        // force-deleted with the rest, but nothing waits for it).
        !isPlaceholder(p) &&
        (evac.instanceGone || !isFinished(p)),
    );
    const unretired = evac.surges.filter((s) => s.retiredAt === null).length;
    if (left.length === 0 && unretired === 0) {
      out.completes.push({
        kind: "complete",
        evacuation: evac.name,
        reason: `${evac.nodeName} holds no pod lifeboat must move and every surge is retired`,
      });
    } else if (left.length > 0 && left.every((p) => p.deleting) && !evac.instanceGone) {
      // Not done while a pod still runs its preStop: completing may let the instance go (ASG hook) mid-drain.
      out.wait(
        evac.nodeName,
        null,
        `${plural(left.length, "pod")} on ${evac.nodeName} still terminating (preStop and grace period running)`,
      );
    }
  }
}

export function windDown(ctx: PlanContext, out: PlanSink): void {
  for (const w of ctx.windDowns) {
    const open: RecordHit[] = [];
    for (const [index, record] of w.evac.surges.entries())
      if (record.retiredAt === null) open.push({ evac: w.evac, index, record });
    const byKey = new Map<string, RecordHit[]>();
    for (const h of open) {
      const key = workloadKey(h.record.workload);
      pushTo(byKey, key, h);
    }
    for (const [key, hits] of byKey) windDownSurge(ctx, out, w, key, hits);
    // The last step (uncordon and complete, or fail) waits until every surge is closed, so that no failure
    // between two steps can leave a surge behind a finished evacuation.
    if (open.length > 0) continue;
    if (w.kind === "undo") undone(ctx, out, w);
    else givenUp(ctx, out, w);
  }
}

/** Retires (-k, no waiting: nothing is evicted, so nothing can dip) or hands back one workload's surges. */
export function windDownSurge(
  ctx: PlanContext,
  out: PlanSink,
  w: WindDown,
  key: string,
  hits: RecordHit[],
): void {
  const view = ctx.workloads.get(key);
  const k = hits.reduce((sum, h) => sum + h.record.by, 0);
  const given = handBackCause(view, k);
  if (given !== null || view === undefined) {
    handBack(out, hits, given?.cause ?? "workload-gone", `${w.why}; ${key}: ${given?.what ?? "gone"}`);
    return;
  }
  const unmarked = unmarkedOf(ctx, w.evac.nodeName, hits);
  if (unmarked.length > 0) {
    // As for a retire (see #workload): the ReplicaSet must see the cost before the scale-down.
    mark(
      ctx,
      out,
      view,
      unmarked.map((name) => ({ name })),
    );
    out.wait(
      key,
      ctx.now + ctx.budgets.reviewIntervalSeconds * 1000,
      `${w.why}: scaling ${key} -${k} back once ${plural(unmarked.length, "pre-warmed pod")} carry pod-deletion-cost ${ctx.budgets.deletionCost}`,
    );
    return;
  }
  if (out.surgedNow.has(key)) {
    // Invariant: never surge and retire one workload in the same plan (the fresh replacements would go).
    out.wait(
      key,
      ctx.now + ctx.budgets.reviewIntervalSeconds * 1000,
      `${w.why}: scaling ${key} -${k} back once this plan's surge of it is issued`,
    );
    return;
  }
  const effect =
    w.kind === "undo"
      ? "the ReplicaSet removes the lowest-cost pods: the pre-warmed ones, whose replacements already run (or the replacements, if they never became Ready); nothing is evicted"
      : "the workload returns to the count its owner set; nothing more is evicted";
  out.retires.push({
    kind: "retire",
    workload: view.ref,
    by: k,
    pods: hits.flatMap((h) => h.record.pods),
    records: hits.map((h) => ({ evacuation: h.evac.name, index: h.index })),
    replacementsReady: false,
    reason: `${w.why}: scale ${key} -${k} back without waiting for replacements (${effect})`,
  });
}

export function undone(ctx: PlanContext, out: PlanSink, w: WindDown): void {
  const node = ctx.nodes.get(w.evac.nodeName);
  const marked =
    node !== undefined && node.taints.some((t) => t.key === ctx.policy.taintKey && t.effect === "NoSchedule");
  if (node !== undefined && marked) {
    // Only a node that carries lifeboat's taint is uncordoned: a cordon of someone else's stays.
    out.completes.push({
      kind: "uncordon",
      node: node.name,
      evacuation: w.evac.name,
      reason: `${w.why}: every surge is retired; uncordon ${node.name}: remove ${ctx.policy.taintKey}:NoSchedule, and unschedulable${ctx.policy.excludeFromLb ? ` and ${EXCLUDE_FROM_LB_LABEL}` : ""} where lifeboat's cordon set them, so it serves again`,
    });
    return;
  }
  out.completes.push({
    kind: "complete",
    evacuation: w.evac.name,
    reason: `${w.why}: every surge is retired and ${w.evac.nodeName} ${node === undefined ? "is gone" : "carries lifeboat's cordon no more"}; no pod was evicted`,
  });
}

export function givenUp(ctx: PlanContext, out: PlanSink, w: WindDown): void {
  const left = ctx
    .podsOn(w.evac.nodeName)
    .filter((p) => !p.mirror && p.owner?.kind !== "DaemonSet" && !isPlaceholder(p) && !isFinished(p));
  const node = ctx.nodes.get(w.evac.nodeName);
  const state = `${node === undefined ? "node gone" : "node still there"}, ${plural(left.length, "pod")} left on it${left.length > 0 ? ` (${left.map((p) => podKey(p)).join(", ")})` : ""}`;
  out.completes.push({
    kind: "fail",
    evacuation: w.evac.name,
    reason: `${w.why}: every surge is retired or handed back; ${state}`,
  });
}

/**
 * A node annotation whose request a finished evacuation served is removed (returns those evacuations'
 * names): the annotation is a one-shot request, and the record that makes it a duplicate is deleted later.
 */
export function clearServedRequests(ctx: PlanContext, out: PlanSink): Set<string> {
  const served = new Set<string>();
  for (const node of ctx.nodes.values()) {
    const request = node.evacuateRequest;
    if (request === null || request.noticeId === null) continue;
    const id = request.noticeId;
    const asked = ctx.all.filter((e) => e.nodeName === node.name && e.noticeIds.includes(id));
    // An active evacuation still serves it; a request no record knows is new (the intake records it).
    if (asked.length === 0 || asked.some(isActive)) continue;
    const e = asked[0] as Evacuation;
    served.add(e.name);
    out.completes.push({
      kind: "clear-request",
      node: node.name,
      value: request.value,
      evacuation: e.name,
      reason: `the request ${EVACUATE_ANNOTATION}=${request.value} on node ${node.name} was served by evacuation ${e.name} (${e.phase}): remove it, so that it is not taken as a new request once the record is forgotten`,
    });
  }
  return served;
}

export function forget(ctx: PlanContext, out: PlanSink, served: ReadonlySet<string>): void {
  const ttl = ctx.policy.ttlSecondsAfterFinished * 1000;
  for (const e of ctx.all) {
    // A record is deleted only after the request it served left the node: it is what marks it served.
    if (isActive(e) || served.has(e.name)) continue;
    const at = finishedAt(e) ?? e.noticedAt;
    if (ctx.now < at + ttl) {
      out.timers.push(at + ttl);
      continue;
    }
    out.completes.push({
      kind: "forget",
      evacuation: e.name,
      reason: `${e.phase} ${rel(at, ctx.now)}, longer ago than --evacuation-ttl-seconds (${ctx.policy.ttlSecondsAfterFinished} s): delete the record`,
    });
  }
}
