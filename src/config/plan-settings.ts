/**
 * The planner's inputs that come from the configuration: the time budgets and the operator's policy. One
 * place, so that `lifeboat run` and `lifeboat plan` plan with exactly the same settings.
 */
import type { Budgets } from "../planner/budgets.ts";
import type { PlanPolicy } from "../planner/policy.ts";
import type { Config } from "./schema.ts";

export function budgetsFrom(config: Config): Budgets {
  return {
    lbPropagationSeconds: config.lbPropagationSeconds,
    safetyMarginSeconds: config.safetyMarginSeconds,
    inFlightSeconds: config.inFlightSeconds,
    defaultReadySeconds: config.defaultReadySeconds,
    deletionCost: config.deletionCost,
    retireCheckSeconds: 5,
    reviewIntervalSeconds: 5,
  };
}

export function policyFrom(config: Config): PlanPolicy {
  return {
    taintKey: config.evacuationTaintKey,
    excludeFromLb: config.excludeFromLoadBalancers,
    prewarmTimeoutSeconds: config.prewarmTimeoutSeconds,
    giveUpAfterSeconds: config.giveUpAfterSeconds,
    ttlSecondsAfterFinished: config.evacuationTtlSeconds,
    earlyNode: config.earlyNode,
  };
}
