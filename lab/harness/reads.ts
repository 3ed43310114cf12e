/** Reads of the lab's pods that tests and benches judge a run by: which pods serve, which are leaving. */
import type { V1Pod } from "@kubernetes/client-node";
import type { Lab } from "../lab.ts";
import { NS } from "./env.ts";

export const isPodReady = (p: V1Pod): boolean =>
  p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

export const isTerminating = (p: V1Pod): boolean => p.metadata?.deletionTimestamp != null;

export async function podsOf(lab: Lab, app: string, namespace = NS): Promise<V1Pod[]> {
  return (await lab.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items;
}

/** Pods of `app` that are Ready and not terminating: the capacity that serves. */
export async function readyPodCount(lab: Lab, app: string, namespace = NS): Promise<number> {
  return (await podsOf(lab, app, namespace)).filter((p) => isPodReady(p) && !isTerminating(p)).length;
}
