/**
 * The capacity policies' parts, composed for the controller (docs/design.md, "Capacity"): managed headroom
 * (placeholder Deployments), the early node (`--early-node`) and steering away from a pool under reclaim.
 * Kept apart from wiring.ts, which builds them with the rest, and from controller.ts, which only starts them.
 */
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { AppsV1Api, CoreV1Api, SchedulingV1Api } from "@kubernetes/client-node";
import { EarlyNodeActuator, type EarlyNodeActuatorLike } from "../actuators/aws/early-node.ts";
import { HeadroomActuator } from "../actuators/kube/headroom.ts";
import { removePreferNoScheduleTaint, setPreferNoScheduleTaint } from "../actuators/kube/node.ts";
import type { Config } from "../config/schema.ts";
import type { Evacuation } from "../domain/evacuation.ts";
import type { ClusterSnapshot, NodeView } from "../domain/snapshot.ts";
import { POOL_TAINT_KEY } from "../domain/steering.ts";
import { HeadroomKeeper } from "../executor/headroom-keeper.ts";
import { SteeringKeeper } from "../executor/steering-keeper.ts";
import type { LeaseFence } from "../leader/fence.ts";
import type { Logger } from "../observability/logger.ts";
import { awsClientConfig, type ControllerDeps } from "./deps.ts";

/** `--early-node`: the doomed node's Auto Scaling group is raised at the notice when the surge has no room. */
export function earlyNodeActuator(
  config: Config,
  fence: LeaseFence,
  log: Logger,
): EarlyNodeActuatorLike | null {
  if (!config.earlyNode) return null;
  if (config.dryRun) {
    const dry = log.child({ component: "dry-run" });
    return {
      request: (instanceId, count, evacuation) => {
        dry.info({ instanceId, count, evacuation }, "would raise the Auto Scaling group of the instance");
        return Promise.resolve({ kind: "no-group" });
      },
    };
  }
  const actuator = new EarlyNodeActuator(new AutoScalingClient(awsClientConfig(config)));
  return {
    request: (instanceId, count, evacuation) => {
      fence.assertHeld("asg.request-node");
      return actuator.request(instanceId, count, evacuation);
    },
  };
}

/** Managed headroom (src/executor/headroom-keeper.ts): placeholder Deployments kept by the leader. */
export function headroomKeeper(
  deps: ControllerDeps,
  fence: LeaseFence,
  snapshot: (now: number) => ClusterSnapshot,
): HeadroomKeeper {
  const { config, kubeConfig, clock, log } = deps;
  return new HeadroomKeeper({
    snapshot,
    actuator: new HeadroomActuator(
      { apps: kubeConfig.makeApiClient(AppsV1Api), scheduling: kubeConfig.makeApiClient(SchedulingV1Api) },
      {
        namespace: config.headroomNamespace,
        priorityClassName: config.headroomPriorityClass,
        priority: config.headroomPriority,
        image: config.headroomImage,
      },
    ),
    settings: {
      nodes: config.headroomNodes,
      scope: config.headroomScope,
      cpuMilli: config.headroomCpu === null ? null : Math.ceil(config.headroomCpu * 1000),
      memoryBytes: config.headroomMemory === null ? null : Math.ceil(config.headroomMemory),
    },
    intervalSeconds: config.headroomIntervalSeconds,
    clock,
    log: log.child({ component: "headroom" }),
    fence,
    dryRun: config.dryRun,
  });
}

/** Steering away from a pool under reclaim (src/executor/steering-keeper.ts): PreferNoSchedule on its nodes. */
export function steeringKeeper(
  deps: ControllerDeps,
  fence: LeaseFence,
  nodes: () => readonly NodeView[],
  evacuations: () => Promise<readonly Evacuation[]>,
): SteeringKeeper {
  const { config, kubeConfig, clock, log } = deps;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return new SteeringKeeper({
    nodes,
    evacuations,
    actuator: {
      taint: (node, until) => setPreferNoScheduleTaint(core, node, POOL_TAINT_KEY, String(until)),
      untaint: (node) => removePreferNoScheduleTaint(core, node, POOL_TAINT_KEY),
    },
    settings: {
      threshold: config.poolSteeringThreshold,
      windowSeconds: config.poolSteeringWindowSeconds,
      taintSeconds: config.poolSteeringSeconds,
    },
    intervalSeconds: Math.max(config.reconcileIntervalSeconds, 5),
    clock,
    log: log.child({ component: "steering" }),
    fence,
    dryRun: config.dryRun,
  });
}
