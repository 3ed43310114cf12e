/**
 * Human-readable rendering of a plan for `lifeboat plan NODE`: one line per step with its reason, then the
 * pods left alone, then when the planner looks again.
 */
import type { Plan, Step } from "../domain/plan.ts";
import { podKey, workloadKey } from "../domain/snapshot.ts";

/** With `now`, times are shown relative to it ("in 12 s"); without, as ISO timestamps. */
export function describePlan(plan: Plan, now?: number): string[] {
  const at = (t: number): string => {
    if (now === undefined) return new Date(t).toISOString();
    const s = Math.round((t - now) / 1000);
    return s === 0 ? "now" : s > 0 ? `in ${s} s` : `${-s} s ago`;
  };
  const lines = plan.steps.map((step) => `${headline(step, at)}: ${step.reason}`);
  for (const skip of plan.skipped) lines.push(`skip ${podKey(skip.pod)} on ${skip.node}: ${skip.reason}`);
  if (plan.steps.length === 0) lines.push("nothing to do");
  lines.push(
    plan.nextReviewAt === null
      ? "next review: when the cluster changes"
      : `next review: ${at(plan.nextReviewAt)}`,
  );
  return lines;
}

function headline(step: Step, at: (t: number) => string): string {
  switch (step.kind) {
    case "cordon":
      return `cordon ${step.node}`;
    case "taint-prefer-no-schedule":
      return `taint ${step.node} PreferNoSchedule`;
    case "surge":
      return `surge ${workloadKey(step.workload)} +${step.by} (${step.pods.join(", ")})`;
    case "mark-doomed":
      return `mark ${step.pods.join(", ")} of ${workloadKey(step.workload)} with pod-deletion-cost ${step.deletionCost}`;
    case "retire":
      return `retire ${workloadKey(step.workload)} -${step.by}${step.pods.length > 0 ? ` (${step.pods.join(", ")})` : ""}`;
    case "evict":
      return `evict ${podKey(step.pod)} on ${step.node}${step.atLastResponsibleMoment ? " (at the last responsible moment: a PDB refusal is answered with a graceful delete)" : ""}`;
    case "delete":
      return `delete ${podKey(step.pod)} on ${step.node} (overriding PodDisruptionBudget ${step.pdbs.join(", ")})`;
    case "force-delete":
      return `force-delete ${podKey(step.pod)} on ${step.node}`;
    case "warn":
      return `warn ${step.code} ${step.subject}`;
    case "request-node":
      return `request ${step.count} node(s) from the Auto Scaling group of ${step.instanceId} (${step.node})`;
    case "wait":
      return `wait ${step.subject} ${step.until === null ? "for a change" : `until ${at(step.until)}`}`;
    case "hand-back":
      return `hand back the surge of ${workloadKey(step.workload)} (${step.cause})`;
    case "uncordon":
      return `uncordon ${step.node}`;
    case "clear-request":
      return `remove the served request ${step.value} from ${step.node}`;
    case "complete":
      return `complete ${step.evacuation}`;
    case "fail":
      return `give up ${step.evacuation}`;
    case "forget":
      return `forget ${step.evacuation}`;
  }
}
