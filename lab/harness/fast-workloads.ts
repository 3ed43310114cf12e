/**
 * Workload fixtures for controller tests and the notice-latency bench: fast pods (pull 0.5 s, readiness after 1 s, preStop 2 s), written in
 * real seconds (the lab's pod runtime runs them as written), pinned to one node group so that tests sharing
 * a lab do not share nodes.
 */
import type { V1Deployment, V1StatefulSet } from "@kubernetes/client-node";
import { deployment, type DeploymentFixture } from "../workloads.ts";

export interface FastWorkload {
  name: string;
  replicas: number;
  /** Node group the pods are confined to. */
  nodeGroup: string;
  /** Required anti-affinity: at most one pod of the workload per node. Default true. */
  onePerNode?: boolean;
  /** Readiness probe initial delay in seconds. Default 1. */
  readyAfterSeconds?: number;
  /** preStop sleep in seconds. Default 2. */
  preStopSeconds?: number;
}

function fixture(w: FastWorkload): DeploymentFixture {
  return {
    name: w.name,
    replicas: w.replicas,
    preStopSeconds: w.preStopSeconds ?? 2,
    readiness: { initialDelaySeconds: w.readyAfterSeconds ?? 1, periodSeconds: 1, failureThreshold: 2 },
    terminationGracePeriodSeconds: 10,
    cpuRequest: "100m",
    memoryRequest: "64Mi",
    timings: { pullSeconds: 0.5 },
    nodeGroups: [w.nodeGroup],
    onePerNode: w.onePerNode ?? true,
  };
}

export function fastDeployment(w: FastWorkload): V1Deployment {
  return deployment(fixture(w));
}

/** A StatefulSet with the same pod template (Parallel pod management, so its pods start together). */
export function fastStatefulSet(w: FastWorkload): V1StatefulSet {
  const d = deployment(fixture(w));
  const template = d.spec?.template;
  if (template === undefined) throw new Error("deployment fixture without a pod template");
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: w.name, namespace: d.metadata?.namespace ?? "default", labels: { app: w.name } },
    spec: {
      replicas: w.replicas,
      serviceName: w.name,
      podManagementPolicy: "Parallel",
      selector: { matchLabels: { app: w.name } },
      template,
    },
  };
}
