/**
 * When an active evacuation stops moving pods: a prewarm that saw no deadline in time is undone, an
 * evacuation still open long after its deadline gives up. Pure functions of the record, the policy and now.
 */
import type { Evacuation } from "../domain/evacuation.ts";
import type { PlanPolicy } from "./policy.ts";
import { rel } from "./plan-words.ts";

/**
 * An active evacuation that only winds down: it retires (or hands back) its surges without waiting for
 * anything, moves no pod, then ends: `undo` (an expired prewarm) uncordons and completes, `give-up` fails.
 */
export interface WindDown {
  evac: Evacuation;
  kind: "undo" | "give-up";
  /** Why, in words: the start of every reason of its steps. */
  why: string;
}

/** When a prewarm without a deadline is undone; null for anything else. */
export function prewarmExpiresAt(e: Evacuation, policy: PlanPolicy): number | null {
  if (e.mode !== "prewarm" || e.deadline !== null) return null;
  return e.noticedAt + policy.prewarmTimeoutSeconds * 1000;
}

/** When an evacuation that is still active gives up; null for a prewarm still waiting for its deadline. */
export function giveUpAt(e: Evacuation, policy: PlanPolicy): number | null {
  if (e.mode === "taint-only" || prewarmExpiresAt(e, policy) !== null) return null;
  return (e.deadline ?? e.noticedAt) + policy.giveUpAfterSeconds * 1000;
}

/**
 * Null for an evacuation that still moves pods; otherwise how and why it winds down. A time still to come
 * (expiry, give-up) is pushed to `timers`, so the plan is made again then.
 */
export function windDownOf(
  e: Evacuation,
  policy: PlanPolicy,
  now: number,
  timers: number[],
): WindDown | null {
  const expiry = prewarmExpiresAt(e, policy);
  if (expiry !== null) {
    if (now < expiry) {
      timers.push(expiry);
      return null;
    }
    return {
      evac: e,
      kind: "undo",
      why: `prewarm of ${e.nodeName} saw no interruption warning within ${policy.prewarmTimeoutSeconds} s of the rebalance recommendation (${rel(e.noticedAt, now)}): undo it`,
    };
  }
  const giveUp = giveUpAt(e, policy);
  if (giveUp === null) return null;
  if (now < giveUp) {
    timers.push(giveUp);
    return null;
  }
  const since =
    e.deadline === null
      ? `its notice (${rel(e.noticedAt, now)}, no deadline)`
      : `its deadline (${rel(e.deadline, now)})`;
  return {
    evac: e,
    kind: "give-up",
    why: `evacuation of ${e.nodeName} is still not done ${policy.giveUpAfterSeconds} s after ${since}: give up`,
  };
}
