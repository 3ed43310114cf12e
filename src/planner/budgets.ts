/**
 * Time budgets the planner plans backwards from. Every field is in seconds unless named otherwise.
 */
export interface Budgets {
  /**
   * How long the load balancer keeps sending new requests to a target after it starts draining. Default 20
   * (measured 17..19 s, aws-load-balancer-controller#2366). A preStop sleep shorter than this loses requests.
   */
  lbPropagationSeconds: number;
  /** Slack kept between the end of the last drain and the deadline (the notice time is approximate). Default 10. */
  safetyMarginSeconds: number;
  /** Time for requests already in flight to finish once no new ones arrive. Default 5. */
  inFlightSeconds: number;
  /** Expected creation-to-Ready time of a replacement when the workload has no learned or annotated value. Default 90. */
  defaultReadySeconds: number;
  /** pod-deletion-cost put on doomed pods so the ReplicaSet removes them first on scale-down. Default -100000. */
  deletionCost: number;
  /**
   * After a retire (scale -k), how long the ReplicaSet gets to delete the doomed pods before the planner
   * evicts the ones it left (it ranks unready pods before deletion cost, so it may pick another). Default 5.
   */
  retireCheckSeconds: number;
  /** While waiting on replacements, plan again at least this often even if nothing changes. Default 5. */
  reviewIntervalSeconds: number;
}

export const DEFAULT_BUDGETS: Readonly<Budgets> = Object.freeze({
  lbPropagationSeconds: 20,
  safetyMarginSeconds: 10,
  inFlightSeconds: 5,
  defaultReadySeconds: 90,
  deletionCost: -100000,
  retireCheckSeconds: 5,
  reviewIntervalSeconds: 5,
});

/**
 * Seconds a pod needs between "start deleting it" and "nothing more reaches it or runs in it":
 * max(preStop sleep, LB propagation) + in-flight requests. The preStop runs while the LB propagates, so the
 * longer of the two counts, not the sum.
 */
export function drainBudgetSeconds(preStopSeconds: number | null, budgets: Budgets): number {
  return Math.max(preStopSeconds ?? 0, budgets.lbPropagationSeconds) + budgets.inFlightSeconds;
}

/**
 * The last responsible moment to start deleting a pod: deadline - drain budget - safety margin (ms).
 * Null when there is no deadline (no time pressure).
 */
export function lastResponsibleMoment(
  deadline: number | null,
  preStopSeconds: number | null,
  budgets: Budgets,
): number | null {
  if (deadline === null) return null;
  return deadline - (drainBudgetSeconds(preStopSeconds, budgets) + budgets.safetyMarginSeconds) * 1000;
}
