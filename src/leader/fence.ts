/**
 * Fencing: a replica that may have lost its lease must not issue another write. Before every write the
 * controller makes on the leader's behalf (Kubernetes actuators, Evacuation writes, ASG lifecycle calls)
 * the fence checks that the lease is still held with margin: renewed less than renewDeadline ago on our own
 * clock. A standby takes over only after leaseDuration without a renewal, as observed on ITS clock, so the
 * gap between the two (client-go's defaults: 15 s - 10 s) separates the old leader's last write from the new
 * leader's first. Calls already in flight when the margin runs out are not recalled; they were sent while
 * the lease was held.
 */
import type { KubeActuator } from "../actuators/kube-actuator.ts";
import type { LifecycleActuatorLike } from "../actuators/aws/lifecycle.ts";

/** This replica no longer holds the lease with margin: it must not write. */
export class NotLeaderError extends Error {
  override readonly name = "NotLeaderError";
}

export function isNotLeader(err: unknown): err is NotLeaderError {
  return err instanceof NotLeaderError;
}

export interface LeaseFence {
  /** Throws NotLeaderError unless the lease is held with margin; `action` names the write in the error. */
  assertHeld(action: string): void;
}

/** Without leader election the single replica is always allowed to write. */
export const NO_FENCE: LeaseFence = { assertHeld: () => undefined };

/** Every method of `target` checks the fence first (a method is a write: checking reads too is harmless). */
function fenced<T extends object>(target: T, fence: LeaseFence, what: string): T {
  return new Proxy(target, {
    get(t, prop, receiver) {
      const value: unknown = Reflect.get(t, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]): unknown => {
        fence.assertHeld(`${what}.${String(prop)}`);
        return (value as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
}

export function fencedActuator(actuator: KubeActuator, fence: LeaseFence): KubeActuator {
  return fenced(actuator, fence, "kube");
}

export function fencedLifecycle(lifecycle: LifecycleActuatorLike, fence: LeaseFence): LifecycleActuatorLike {
  return fenced(lifecycle, fence, "asg");
}

/** The store's writes are fenced; its reads are not (a standby may read). */
export function fencedStore<
  S extends { create: unknown; updateSpec: unknown; updateStatus: unknown; delete: unknown },
>(store: S, fence: LeaseFence): S {
  return new Proxy(store, {
    get(t, prop, receiver) {
      const value: unknown = Reflect.get(t, prop, receiver);
      if (typeof value !== "function") return value;
      const write =
        prop === "create" || prop === "updateSpec" || prop === "updateStatus" || prop === "delete";
      return (...args: unknown[]): unknown => {
        if (write) fence.assertHeld(`evacuations.${prop}`);
        return (value as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
}
