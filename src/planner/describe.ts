/**
 * Human-readable rendering of a plan for `lifeboat plan NODE`: one line per step with its reason, then the
 * pods left alone, then when the planner looks again.
 */
import type { Plan, Step, StepKind, StepOf } from "../domain/plan.ts";
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

type Headline<K extends StepKind> = (step: StepOf<K>, at: (t: number) => string) => string;

/** One headline per step kind: a kind added to the Step union without one here does not compile. */
const HEADLINES: { [K in StepKind]: Headline<K> } = {
  cordon: (step) => `cordon ${step.node}`,
  "taint-prefer-no-schedule": (step) => `taint ${step.node} PreferNoSchedule`,
  surge: (step) => `surge ${workloadKey(step.workload)} +${step.by} (${step.pods.join(", ")})`,
  "mark-doomed": (step) =>
    `mark ${step.pods.join(", ")} of ${workloadKey(step.workload)} with pod-deletion-cost ${step.deletionCost}`,
  retire: (step) =>
    `retire ${workloadKey(step.workload)} -${step.by}${step.pods.length > 0 ? ` (${step.pods.join(", ")})` : ""}`,
  evict: (step) =>
    `evict ${podKey(step.pod)} on ${step.node}${step.overridePdb ? " (at the last responsible moment: a PDB refusal is answered with a graceful delete)" : step.atLastResponsibleMoment ? " (at the last responsible moment; the node's end is not certain: a PDB refusal is retried)" : ""}`,
  delete: (step) =>
    `delete ${podKey(step.pod)} on ${step.node} (overriding PodDisruptionBudget ${step.pdbs.join(", ")})`,
  "force-delete": (step) => `force-delete ${podKey(step.pod)} on ${step.node}`,
  "taint-out-of-service": (step) => `taint ${step.node} node.kubernetes.io/out-of-service:NoExecute`,
  warn: (step) => `warn ${step.code} ${step.subject}`,
  "request-node": (step) =>
    `request ${step.count} node(s) from the Auto Scaling group of ${step.instanceId} (${step.node})`,
  wait: (step, at) =>
    `wait ${step.subject} ${step.until === null ? "for a change" : `until ${at(step.until)}`}`,
  "hand-back": (step) => `hand back the surge of ${workloadKey(step.workload)} (${step.cause})`,
  uncordon: (step) => `uncordon ${step.node}`,
  "clear-request": (step) => `remove the served request ${step.value} from ${step.node}`,
  complete: (step) => `complete ${step.evacuation}`,
  fail: (step) => `give up ${step.evacuation}`,
  forget: (step) => `forget ${step.evacuation}`,
};

function headlineOf<K extends StepKind>(kind: K): Headline<K> {
  return HEADLINES[kind];
}

function headline(step: Step, at: (t: number) => string): string {
  return headlineOf(step.kind)(step, at);
}
