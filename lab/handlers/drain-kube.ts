/** The `drain` handler's adapters: Kubernetes through @kubernetes/client-node, the queue through the SQS SDK. */
import { CoreV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { KubeConfig } from "@kubernetes/client-node";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import type { DrainKube, DrainQueue } from "./drain-handler.ts";
import { httpStatusOf as statusOf } from "../../shared/kube-status.ts";

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

export function kubeForDrain(kc: KubeConfig): DrainKube {
  const core = kc.makeApiClient(CoreV1Api);
  return {
    listNodes: async () => (await core.listNode()).items,
    cordon: async (name) => {
      await core.patchNode({ name, body: { spec: { unschedulable: true } } }, mergePatch);
    },
    podsOnNode: async (nodeName) =>
      (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` })).items,
    evict: async (pod) => {
      try {
        await core.createNamespacedPodEviction({
          name: pod.name,
          namespace: pod.namespace,

          body: {
            apiVersion: "policy/v1",
            kind: "Eviction",
            metadata: { name: pod.name, namespace: pod.namespace },
          },
        });
        return { kind: "evicted" };
      } catch (err) {
        const code = statusOf(err);
        if (code === 429)
          return { kind: "blocked", message: err instanceof Error ? err.message.slice(0, 300) : "429" };
        if (code === 404) return { kind: "gone" };
        throw err;
      }
    },
    podExists: async (pod) => {
      try {
        const p = await core.readNamespacedPod({ name: pod.name, namespace: pod.namespace });
        return p.metadata?.uid === pod.uid;
      } catch (err) {
        if (statusOf(err) === 404) return false;
        throw err;
      }
    },
  };
}

/** NTH's receive: up to 10 messages, long poll 20 s, visibility timeout 20 s. */
export function sqsQueue(client: SQSClient, queueUrl: string): DrainQueue {
  return {
    receive: async (signal) => {
      const out = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 20,
          VisibilityTimeout: 20,
        }),
        { abortSignal: signal },
      );
      return (out.Messages ?? []).flatMap((m) =>
        m.Body === undefined || m.ReceiptHandle === undefined
          ? []
          : [{ body: m.Body, receiptHandle: m.ReceiptHandle }],
      );
    },
    delete: async (receiptHandle) => {
      await client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle }));
    },
  };
}
