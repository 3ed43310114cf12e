/**
 * Steering away from a pool under reclaim: when several nodes of one pool (instance type and zone) get notices
 * within a window, the pool's other nodes are tainted PreferNoSchedule for a while, so the scheduler prefers
 * other pools for surges and headroom. The taint's value is when it expires (epoch seconds), so the state
 * lives on the nodes themselves and survives a restart or a failover.
 */

/** Taint key of a steered node (effect PreferNoSchedule); its value is the expiry in epoch seconds. */
export const POOL_TAINT_KEY = "lifeboat.dev/pool-under-reclaim";
export const INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type";

export interface SteeringSettings {
  /** Distinct nodes of one pool with notices within the window that make a burst (`--pool-steering-threshold`); 0: off. */
  threshold: number;
  windowSeconds: number;
  /** How long after the latest notice of a burst the pool stays tainted. */
  taintSeconds: number;
}

export type SteeringStep =
  /** Put (or extend) the PreferNoSchedule taint with value `until` (epoch seconds). */
  | { kind: "taint"; node: string; until: number; reason: string }
  /** Remove the taint: its pool is no longer under reclaim. */
  | { kind: "untaint"; node: string; reason: string };
