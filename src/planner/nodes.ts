/** Nodes: the taint of a taint-only evacuation, and the cordon that comes before anything is surged. */
import { EXCLUDE_FROM_LB_LABEL } from "../domain/plan.ts";
import type { PlanContext } from "./plan-context.ts";
import type { PlanSink } from "./plan-sink.ts";
import { rel } from "./plan-words.ts";

export function taintOnly(ctx: PlanContext, out: PlanSink): void {
  const key = ctx.policy.taintKey;
  for (const evac of ctx.active) {
    if (evac.mode !== "taint-only" || ctx.evacuatingNodes.has(evac.nodeName)) continue;
    const node = ctx.nodes.get(evac.nodeName);
    const tainted =
      node === undefined || node.taints.some((t) => t.key === key && t.effect === "PreferNoSchedule");
    if (tainted) {
      // Its whole job is the taint: once it is there (or the node is gone) the evacuation is done, so that
      // it neither piles up nor keeps a later notice for the node from starting an evacuation of its own.
      out.completes.push({
        kind: "complete",
        evacuation: evac.name,
        reason:
          node === undefined
            ? `${evac.nodeName} is gone: nothing left to taint`
            : `${node.name} carries ${key}:PreferNoSchedule (policy taint-only): nothing else to do`,
      });
      continue;
    }
    out.cordons.push({
      kind: "taint-prefer-no-schedule",
      node: node.name,
      evacuation: evac.name,
      reason: `${evac.noticeKind} for ${node.name} (policy taint-only): taint ${key}:PreferNoSchedule so the scheduler avoids the node while it is at risk; nothing is moved`,
    });
  }
}

export function cordon(ctx: PlanContext, out: PlanSink): void {
  // Invariant: every evacuating node is cordoned before anything is surged anywhere, so replacements of one
  // node's pods never land on another node that is being evacuated (aws-node-termination-handler#537).
  const key = ctx.policy.taintKey;
  for (const evac of ctx.moving) {
    const node = ctx.nodes.get(evac.nodeName);
    if (node === undefined || ctx.cordoned(node)) continue;
    const deadline = evac.deadline === null ? "no deadline yet" : `deadline ${rel(evac.deadline, ctx.now)}`;
    const label = ctx.policy.excludeFromLb
      ? ` and label ${EXCLUDE_FROM_LB_LABEL}=true so nothing new lands here and instance-mode target groups let the node go`
      : " so nothing new lands here";
    out.cordons.push({
      kind: "cordon",
      node: node.name,
      evacuation: evac.name,
      reason: `${evac.noticeKind} for ${evac.instanceId ?? node.name} (${deadline}): cordon, taint ${key}:NoSchedule${label}`,
    });
  }
}
