/** The cloud simulator (lab/cloud/) wired to a lab: what it kills, whom it picks, what it scales for. */
import type { AsgHooks, CloudHooks } from "../cloud/cloud.ts";
import { pendingPods, podsOf, preferNodesHoldingPods } from "../cloud/kube.ts";
import type { Lab } from "../lab.ts";
import { NS } from "./env.ts";

/** The EventBridge notice says "2 minutes"; consumers compute the deadline as the event's time + 120 s. */
export const NOTICE_LEAD_MS = 120_000;

export interface LabCloudHooksOptions {
  /** Reclaim nodes holding pods of this app first. Default: by name. */
  victimsOf?: string | undefined;
  /** The node groups' Auto Scaling groups (LabEnv's `asgs.hooks`). */
  asg?: AsgHooks | undefined;
}

/**
 * A reclaimed node's instance dies in the pod runtime, victims are preferably nodes holding pods of
 * `victimsOf`, and the autoscaler sees the lab's Pending pods.
 */
export function labCloudHooks(lab: Lab, options: LabCloudHooksOptions = {}): CloudHooks {
  const { victimsOf, asg } = options;
  return {
    killNode: (name, mode) => {
      lab.runtime.killNode(name, mode);
    },
    ...(victimsOf === undefined
      ? {}
      : { chooseVictims: preferNodesHoldingPods(() => podsOf(lab.core, NS, `app=${victimsOf}`)) }),
    pendingPods: () => pendingPods(lab.core),
    ...(asg === undefined ? {} : { asg }),
  };
}

/**
 * The `time` of a message issued at scenario second `at`, the run's time zero being `wall0` (epoch ms). At a
 * time scale below 1 the lab's deadline is 120 s x scale after the notice, but a consumer computes it as the
 * message's time + 120 s: the time is back-dated so that both agree.
 */
export function backdatedMessageTime(wall0: number, timeScale: number): (at: number) => Date {
  return (at) => new Date(wall0 + at * timeScale * 1000 - NOTICE_LEAD_MS * (1 - timeScale));
}

/** A run's time zero and its clock in scenario seconds. */
export interface ScenarioClock {
  /** performance.now() at time zero. */
  t0: number;
  /** Date.now() at time zero. */
  wall0: number;
  /** Scenario seconds since time zero. */
  now: () => number;
}

/** Time zero is now. */
export function scenarioClock(timeScale: number): ScenarioClock {
  const t0 = performance.now();
  return { t0, wall0: Date.now(), now: () => (performance.now() - t0) / 1000 / timeScale };
}
