/**
 * What the operator chose (flags) that changes the plan, as opposed to the time budgets of ./budgets.ts.
 */
import { EVACUATING_TAINT_KEY, EXCLUDE_FROM_LB_LABEL } from "../domain/plan.ts";
import type { NodeView } from "../domain/snapshot.ts";

export interface PlanPolicy {
  /** Taint key of the cordon (NoSchedule) and of mode taint-only (PreferNoSchedule): `--evacuation-taint-key`. */
  taintKey: string;
  /** The cordon labels node.kubernetes.io/exclude-from-external-load-balancers=true: `--exclude-from-load-balancers`. */
  excludeFromLb: boolean;
  /**
   * A prewarm (rebalance recommendation) that sees no deadline within this many seconds of its notice is
   * undone: surges retired, nothing evicted, the node uncordoned (`--prewarm-timeout-seconds`, default 1800).
   */
  prewarmTimeoutSeconds: number;
  /**
   * An evacuation still active this many seconds after its deadline (after its notice when it has none) gives
   * up: its surges are retired or handed back, then it is Failed (`--give-up-after-seconds`, default 900).
   */
  giveUpAfterSeconds: number;
  /**
   * A Done or Failed evacuation is deleted this many seconds after it finished, like a Job's
   * ttlSecondsAfterFinished (`--evacuation-ttl-seconds`, default 86400; 0 deletes it at once).
   */
  ttlSecondsAfterFinished: number;
  /**
   * When a surge finds no room (headroom placeholders counted as room), ask the doomed node's Auto Scaling
   * group for a node at once (`--early-node`, default false): plans carry a `request-node` step.
   */
  earlyNode: boolean;
}

export const DEFAULT_POLICY: Readonly<PlanPolicy> = Object.freeze({
  taintKey: EVACUATING_TAINT_KEY,
  excludeFromLb: true,
  prewarmTimeoutSeconds: 1800,
  giveUpAfterSeconds: 900,
  ttlSecondsAfterFinished: 86400,
  earlyNode: false,
});

/** True when the node carries every mark of lifeboat's cordon, as configured (taint key, LB label). */
export function carriesCordon(
  node: NodeView,
  policy: Pick<PlanPolicy, "taintKey" | "excludeFromLb">,
): boolean {
  return (
    node.unschedulable &&
    node.taints.some((t) => t.key === policy.taintKey && t.effect === "NoSchedule") &&
    (!policy.excludeFromLb || node.labels[EXCLUDE_FROM_LB_LABEL] === "true")
  );
}
