/**
 * Pod writes: deletion-cost annotation, eviction through the Eviction API, deletion (normal and forced).
 */
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type V1Eviction } from "@kubernetes/client-node";
import { POD_DELETION_COST_ANNOTATION } from "../../domain/plan.ts";
import { podKey, type PodRef } from "../../domain/snapshot.ts";
import type { DeleteOutcome, EvictOutcome, PatchOutcome } from "../kube-actuator.ts";
import { apiStatusOf, isConflict, isNotFound, isTooManyRequests, toKubeApiError } from "./errors.ts";

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

const target = (pod: PodRef): string => `pod/${podKey(pod)}`;

export async function setDeletionCost(
  core: Pick<CoreV1Api, "patchNamespacedPod">,
  pod: PodRef,
  cost: number,
): Promise<PatchOutcome> {
  if (!Number.isInteger(cost)) throw new RangeError(`pod-deletion-cost must be an integer, got ${cost}`);
  try {
    await core.patchNamespacedPod(
      {
        name: pod.name,
        namespace: pod.namespace,
        body: { metadata: { annotations: { [POD_DELETION_COST_ANNOTATION]: String(cost) } } },
      },
      mergePatch,
    );
    return { kind: "patched" };
  } catch (err) {
    if (isNotFound(err)) return { kind: "not-found" };
    throw toKubeApiError(err, "annotate", target(pod));
  }
}

/**
 * Evicts through policy/v1 Eviction, which honours PodDisruptionBudgets and the pod's own grace period.
 * 429 means a PDB refused (or, without a DisruptionBudget cause, API throttling); 404 gone; 409 changed.
 */
export async function evict(
  core: Pick<CoreV1Api, "createNamespacedPodEviction">,
  pod: PodRef,
): Promise<EvictOutcome> {
  const body: V1Eviction = {
    apiVersion: "policy/v1",
    kind: "Eviction",
    metadata: { name: pod.name, namespace: pod.namespace },
  };
  try {
    await core.createNamespacedPodEviction({ name: pod.name, namespace: pod.namespace, body });
    return { kind: "evicted" };
  } catch (err) {
    const status = apiStatusOf(err);
    const message = status?.message ?? "";
    if (isNotFound(err)) return { kind: "not-found" };
    if (isConflict(err)) return { kind: "conflict", message };
    if (isTooManyRequests(err)) {
      const byPdb =
        status?.causes.some((c) => c.reason === "DisruptionBudget") === true ||
        /disruption budget/i.test(message);
      if (byPdb) return { kind: "blocked-by-pdb", message };
      return {
        kind: "throttled",
        retryAfterSeconds: toKubeApiError(err, "evict", target(pod)).retryAfterSeconds,
        message,
      };
    }
    return { kind: "error", error: toKubeApiError(err, "evict", target(pod)) };
  }
}

async function remove(
  core: Pick<CoreV1Api, "deleteNamespacedPod">,
  pod: PodRef,
  gracePeriodSeconds: number | null,
): Promise<DeleteOutcome> {
  try {
    await core.deleteNamespacedPod({
      name: pod.name,
      namespace: pod.namespace,
      ...(gracePeriodSeconds === null ? {} : { gracePeriodSeconds, body: { gracePeriodSeconds } }),
    });
    return { kind: "deleted" };
  } catch (err) {
    if (isNotFound(err)) return { kind: "not-found" };
    throw toKubeApiError(err, gracePeriodSeconds === 0 ? "force-delete" : "delete", target(pod));
  }
}

/** Deletes at once (grace period 0): for pods on an instance that is shutting down or terminated. */
export function forceDelete(
  core: Pick<CoreV1Api, "deleteNamespacedPod">,
  pod: PodRef,
): Promise<DeleteOutcome> {
  return remove(core, pod, 0);
}

/** Deletes with the pod's own terminationGracePeriodSeconds (preStop runs). */
export function deletePod(core: Pick<CoreV1Api, "deleteNamespacedPod">, pod: PodRef): Promise<DeleteOutcome> {
  return remove(core, pod, null);
}
