/**
 * Relative scaling through the scale subresource. We read the Scale, write replicas + by with the
 * resourceVersion we read, and on 409 read again: a change made meanwhile by an HPA or a user is kept and our
 * delta applied on top of it, never overwritten by a stale absolute number.
 */
import type { AppsV1Api, V1Scale } from "@kubernetes/client-node";
import { workloadKey, type WorkloadRef } from "../../domain/snapshot.ts";
import type { ScaleOutcome } from "../kube-actuator.ts";
import { isConflict, isNotFound, KubeApiError, toKubeApiError } from "./errors.ts";
import { MAX_CONFLICT_ATTEMPTS } from "./node.ts";

export type ScaleClient = Pick<
  AppsV1Api,
  | "readNamespacedDeploymentScale"
  | "replaceNamespacedDeploymentScale"
  | "readNamespacedStatefulSetScale"
  | "replaceNamespacedStatefulSetScale"
  | "readNamespacedReplicaSetScale"
  | "replaceNamespacedReplicaSetScale"
>;

interface ScaleEndpoints {
  read(p: { name: string; namespace: string }): Promise<V1Scale>;
  replace(p: { name: string; namespace: string; body: V1Scale }): Promise<V1Scale>;
}

function endpointsFor(apps: ScaleClient, kind: WorkloadRef["kind"]): ScaleEndpoints | null {
  switch (kind) {
    case "Deployment":
      return {
        read: (p) => apps.readNamespacedDeploymentScale(p),
        replace: (p) => apps.replaceNamespacedDeploymentScale(p),
      };
    case "StatefulSet":
      return {
        read: (p) => apps.readNamespacedStatefulSetScale(p),
        replace: (p) => apps.replaceNamespacedStatefulSetScale(p),
      };
    case "ReplicaSet":
      return {
        read: (p) => apps.readNamespacedReplicaSetScale(p),
        replace: (p) => apps.replaceNamespacedReplicaSetScale(p),
      };
    default:
      return null;
  }
}

export async function scaleBy(apps: ScaleClient, workload: WorkloadRef, by: number): Promise<ScaleOutcome> {
  if (!Number.isInteger(by)) throw new RangeError(`scale delta must be an integer, got ${by}`);
  const endpoints = endpointsFor(apps, workload.kind);
  if (endpoints === null)
    return { kind: "unsupported", reason: `${workload.kind} has no scale subresource lifeboat uses` };
  const target = workloadKey(workload);
  const id = { name: workload.name, namespace: workload.namespace };
  for (let attempt = 1; attempt <= MAX_CONFLICT_ATTEMPTS; attempt++) {
    let scale: V1Scale;
    try {
      scale = await endpoints.read(id);
    } catch (err) {
      if (isNotFound(err)) return { kind: "not-found" };
      throw toKubeApiError(err, "read scale of", target);
    }
    const from = scale.spec?.replicas ?? 0;
    const wanted = from + by;
    const to = Math.max(0, wanted);
    const body: V1Scale = {
      apiVersion: "autoscaling/v1",
      kind: "Scale",
      metadata: {
        name: workload.name,
        namespace: workload.namespace,
        resourceVersion: scale.metadata?.resourceVersion ?? "",
      },
      spec: { replicas: to },
    };
    try {
      await endpoints.replace({ ...id, body });
      return { kind: "scaled", by, replicas: { from, to }, clamped: wanted !== to, attempts: attempt };
    } catch (err) {
      if (isNotFound(err)) return { kind: "not-found" };
      if (isConflict(err)) continue;
      throw toKubeApiError(err, "scale", target);
    }
  }
  throw new KubeApiError({
    kind: "conflict",
    status: 409,
    operation: "scale",
    target,
    serverMessage: `still conflicting after ${MAX_CONFLICT_ATTEMPTS} read-modify-write attempts`,
  });
}
