/**
 * Pure: a pre-warm (rebalance recommendation, surge done, doomed pods kept) that saw no interruption warning
 * within `prewarmTimeoutSeconds` is finished as an evacuation without a deadline: the replacements are
 * already running, so the doomed pods are retired (make-before-break, nothing evicted early) and the node
 * stays cordoned. The surge's extra capacity does not linger for good on a node that may never be reclaimed.
 */
import type { Evacuation } from "../domain/evacuation.ts";

export interface PrewarmExpiry {
  evacuation: Evacuation;
  reason: string;
}

export function expirePrewarm(e: Evacuation, now: number, timeoutSeconds: number): PrewarmExpiry | null {
  if (e.mode !== "prewarm" || e.deadline !== null || e.phase === "Done" || e.phase === "Failed") return null;
  const age = (now - e.noticedAt) / 1000;
  if (age < timeoutSeconds) return null;
  return {
    evacuation: { ...e, mode: "evacuate" },
    reason: `no interruption warning within ${timeoutSeconds} s of the rebalance recommendation: retire the pre-warmed pods now that their replacements run (the node stays cordoned)`,
  };
}
