/**
 * When a PodDisruptionBudget may be overridden: only when the node's death is certain. A budget guards a
 * workload against voluntary disruptions (two drains at once taking a ZooKeeper or etcd StatefulSet below
 * quorum); lifeboat deletes a pod a budget refuses only when the node ends whatever anyone does, and then
 * only at the pod's last responsible moment before that end, so that the pod leaves the load balancer before
 * it dies. Pure: the notice or the evacuation record, the budgets and now.
 *
 * | notice | the node's end | a PodDisruptionBudget |
 * |---|---|---|
 * | spot interruption warning | certain at the deadline (EC2 reclaims it; nothing extends it) | overridden at the LRM |
 * | instance state change (stopping, shutting-down, stopped, terminated) | already happening | overridden |
 * | scheduled change: retirement or stop | certain at its start time | overridden at the LRM |
 * | scheduled change: reboot, maintenance | the instance comes back | holds |
 * | ASG lifecycle hook (terminate) | waits for lifeboat: the hook is heartbeated, completed once the node is empty | holds |
 * | manual (`lifeboat evacuate --deadline`, annotation) | an operator's deadline: it can be moved | holds |
 * | rebalance recommendation | no deadline | holds |
 */
import type { Evacuation } from "../domain/evacuation.ts";
import type { Notice } from "../domain/notice.ts";
import { lastResponsibleMoment, type Budgets } from "./budgets.ts";
import { rel } from "./plan-words.ts";

/** True when a notice says the node certainly ends at its deadline (or is ending now). One rule per kind. */
export function deathIsCertain(notice: Pick<Notice, "kind" | "scheduledChange">): boolean {
  switch (notice.kind) {
    case "spot-interruption":
    case "instance-state-change":
      return true;
    case "scheduled-change":
      return notice.scheduledChange === "retirement";
    case "asg-lifecycle-terminate":
    case "manual":
    case "rebalance-recommendation":
      return false;
  }
}

/** Whether a PodDisruptionBudget that refuses a pod now still holds it, and why, in words. */
export type PdbRule =
  | { override: true; why: string }
  /** `until`: when it stops holding the pod (its LRM before the node's certain end); null: for as long as it refuses. */
  | { override: false; until: number | null; why: string };

/**
 * The rule for a pod (its preStop sleep) of `evac` at `now`, once the pod's last responsible moment has come:
 * overridden when the instance is already leaving or the pod's LRM before the certain end has come; held
 * otherwise.
 */
export function pdbRule(
  evac: Evacuation,
  preStopSeconds: number | null,
  budgets: Budgets,
  now: number,
): PdbRule {
  if (evac.instanceGone) {
    return {
      override: true,
      why: `instance ${evac.instanceId ?? evac.nodeName} is already leaving: the node dies whatever the budget says`,
    };
  }
  const at = lastResponsibleMoment(evac.certainDeadline, preStopSeconds, budgets);
  if (at !== null && now >= at) {
    const end = evac.certainDeadline ?? now;
    return {
      override: true,
      why: `${certainEnd(evac)} ends the node ${rel(end, now)} whatever the budget says`,
    };
  }
  if (at !== null) {
    return {
      override: false,
      until: at,
      why: `the deadline is ${uncertain(evac)}, and the node certainly ends only ${rel(evac.certainDeadline ?? at, now)}: the budget holds until the pod's last responsible moment before that, ${rel(at, now)}`,
    };
  }
  return { override: false, until: null, why: `the deadline is ${uncertain(evac)}` };
}

/** What makes the evacuation's end certain, in words. */
function certainEnd(evac: Evacuation): string {
  if (evac.certainDeadline !== evac.deadline) return "a notice that cannot be extended";
  switch (evac.noticeKind) {
    case "spot-interruption":
      return "the spot interruption warning";
    case "scheduled-change":
      return "the scheduled retirement";
    default:
      return "a notice that cannot be extended";
  }
}

/** Why the evacuation's deadline is not the node's certain end, in words. */
function uncertain(evac: Evacuation): string {
  switch (evac.noticeKind) {
    case "manual":
      return "set by an operator with lifeboat evacuate or the lifeboat.dev/evacuate annotation; it can be moved, so the disruption stays voluntary";
    case "asg-lifecycle-terminate":
      return "an ASG lifecycle hook's, which lifeboat heartbeats, so the instance waits until lifeboat completes the action";
    case "scheduled-change":
      return "a scheduled change that retires nothing, a reboot or maintenance, after which the instance comes back";
    case "rebalance-recommendation":
      return "unknown: a rebalance recommendation sets none, and nothing ends the node yet";
    default:
      return "not the node's certain end";
  }
}
