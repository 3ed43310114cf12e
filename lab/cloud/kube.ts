/**
 * Adapters from the running lab (a real API server) to the cloud simulator's narrow interfaces, plus the SQS
 * sender. The runner composes them:
 *
 *   const cloud = new CloudSimulator({
 *     lab: cloudLabOf(lab),
 *     send: sqsSender(moto.sqsClient(), queueUrl),
 *     hooks: {
 *       killNode: (name, mode) => runtime.killNode(name, mode),
 *       chooseVictims: preferNodesHoldingPods(() => podsOf(lab.core, "default", "app=app")),
 *       pendingPods: () => pendingPods(lab.core),
 *     },
 *     settings: scenario.cloud, nodeGroups: scenario.cluster.nodeGroups, events: scenario.events,
 *     timeScale,
 *   });
 */
import type { CoreV1Api, V1Pod } from "@kubernetes/client-node";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import type { Lab } from "../lab.ts";
import { conditionStatus } from "../lab.ts";
import type { CloudLab, CloudNode, PendingPod, SqsSender } from "./cloud.ts";
import { httpStatusOf as statusOf } from "../../common/kube-status.ts";

export const NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup";

/** The cloud simulator's view of a running lab. */
export function cloudLabOf(lab: Lab): CloudLab {
  return {
    get nodes() {
      return lab.nodes;
    },
    addNode: (spec) => lab.addNode(spec, 0),
    stopHeartbeats: (name) => lab.stopHeartbeats(name),
    terminateInstance: (name) => lab.terminateInstance(name),
    deleteNode: async (name) => {
      await lab.core.deleteNode({ name }).catch((err: unknown) => {
        if (statusOf(err) !== 404) throw err;
      });
    },
    nodeReady: async (name) => {
      try {
        return conditionStatus(await lab.core.readNode({ name }), "Ready") === "True";
      } catch (err) {
        if (statusOf(err) === 404) return null;
        throw err;
      }
    },
  };
}

/** Sends message bodies to one SQS queue. */
export function sqsSender(client: SQSClient, queueUrl: string): SqsSender {
  return async (body) => {
    await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  };
}

/** Where the pods matching `labelSelector` run: one entry per pod with its node (or undefined if unscheduled). */
export async function podsOf(
  core: CoreV1Api,
  namespace: string,
  labelSelector: string,
): Promise<{ nodeName: string | undefined }[]> {
  const list = await core.listNamespacedPod({ namespace, labelSelector });
  return list.items
    .filter((p) => p.metadata?.deletionTimestamp === undefined)
    .map((p) => ({ nodeName: p.spec?.nodeName }));
}

/**
 * A victim chooser that prefers nodes holding the most pods (of whatever `listPods` returns), then by name: the
 * scenario's reclaim always hits a node that serves traffic.
 */
export function preferNodesHoldingPods(
  listPods: () => Promise<readonly { nodeName: string | undefined }[]>,
): (candidates: readonly CloudNode[], count: number) => Promise<CloudNode[]> {
  return async (candidates, count) => {
    const pods = await listPods();
    const perNode = new Map<string, number>();
    for (const p of pods)
      if (p.nodeName !== undefined) perNode.set(p.nodeName, (perNode.get(p.nodeName) ?? 0) + 1);
    return [...candidates]
      .sort((a, b) => (perNode.get(b.name) ?? 0) - (perNode.get(a.name) ?? 0) || a.name.localeCompare(b.name))
      .slice(0, count);
  };
}

/** Pods the scheduler could not place (PodScheduled False, reason Unschedulable), across namespaces. */
export async function pendingPods(core: CoreV1Api): Promise<PendingPod[]> {
  const list = await core.listPodForAllNamespaces({ fieldSelector: "status.phase=Pending" });
  return list.items.map(pendingPodOf).filter((p): p is PendingPod => p !== null);
}

/** The autoscaler's view of one pod, or null when it is not Pending/Unschedulable. */
export function pendingPodOf(pod: V1Pod): PendingPod | null {
  if (pod.spec?.nodeName !== undefined || pod.metadata?.deletionTimestamp !== undefined) return null;
  const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
  if (scheduled?.status !== "False" || scheduled.reason !== "Unschedulable") return null;
  const labels = pod.metadata?.labels ?? {};
  const workload = labels["app"] ?? pod.metadata?.ownerReferences?.[0]?.name ?? pod.metadata?.name ?? "";
  const terms =
    pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  const groups =
    terms
      .flatMap((t) => t.matchExpressions ?? [])
      .find((e) => e.key === NODEGROUP_LABEL && e.operator === "In")?.values ?? null;
  const anti = pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
  const onePerNode = anti.some(
    (t) =>
      t.topologyKey === "kubernetes.io/hostname" &&
      Object.entries(t.labelSelector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v),
  );
  const cpuMilli = (pod.spec?.containers ?? []).reduce(
    (sum, c) => sum + cpuToMilli(c.resources?.requests?.["cpu"]),
    0,
  );
  return {
    name: `${pod.metadata?.namespace ?? "default"}/${pod.metadata?.name ?? ""}`,
    workload,
    groups,
    cpuMilli,
    onePerNode,
  };
}

/** "250m" -> 250, "1" -> 1000, "1.5" -> 1500; absent -> 0. */
export function cpuToMilli(q: string | undefined): number {
  if (q === undefined) return 0;
  if (q.endsWith("m")) return Number(q.slice(0, -1));
  return Math.round(Number(q) * 1000);
}
