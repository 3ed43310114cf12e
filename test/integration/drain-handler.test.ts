/**
 * Integration: the cloud simulator puts a spot warning into moto SQS, the `drain` handler runs as its own process
 * (`node lab/handlers/drain-main.ts ...`) against the lab's real control plane, cordons the node and evicts its
 * pods; the Deployment's replacements come up elsewhere; every message ends up deleted.
 *
 * Needs the lab's binaries and moto (lab/setup/*.sh). Run: node --test test/integration/drain-handler.test.ts
 * Waits poll real time with a bound; nothing asserts on durations.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { CreateQueueCommand, GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import type { V1Pod } from "@kubernetes/client-node";
import { startMoto } from "../../lab/aws/moto.ts";
import { startLab } from "../../lab/lab.ts";
import { deployment } from "../../lab/workloads.ts";
import { CloudSimulator } from "../../lab/cloud/cloud.ts";
import { cloudLabOf, podsOf, preferNodesHoldingPods, sqsSender } from "../../lab/cloud/kube.ts";
import type { NodeGroup } from "../../lab/scenarios/schema.ts";
import { waitFor } from "../helpers/wait.ts";

/** Waits in this file: bounded as before, polled as before. */
const WAIT = { timeoutMs: 90_000, intervalMs: 250 };

const TIME_SCALE = 0.2;
const NS = "default";

const isReady = (p: V1Pod): boolean =>
  p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

// Top-level await: this file is not a *.test.ts, so the lint rule that knows node:test does not apply here.
await test(
  "drain handler process: spot warning from the cloud simulator -> cordon + evict on the lab",
  { timeout: 300_000 },
  async () => {
    const groups: NodeGroup[] = [
      { name: "spot-a", zone: "us-east-1a", count: 2, instanceType: "m5.xlarge", capacityType: "SPOT" },
      { name: "spot-b", zone: "us-east-1b", count: 2, instanceType: "m5.xlarge", capacityType: "SPOT" },
    ];
    await using lab = await startLab({ timeScale: TIME_SCALE, nodeGroups: groups });
    await using moto = await startMoto();
    const sqs = moto.sqsClient();
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "nth" }))).QueueUrl ?? "";

    await lab.apps.createNamespacedDeployment({
      namespace: NS,
      body: deployment({
        name: "web",
        replicas: 3,
        onePerNode: true,
        preStopSeconds: 1,
        terminationGracePeriodSeconds: 5,
        readiness: { initialDelaySeconds: 1, periodSeconds: 1, failureThreshold: 2 },
        timings: { pullSeconds: 1, startSeconds: 0 },
      }),
    });
    const listWeb = async (): Promise<V1Pod[]> =>
      (await lab.core.listNamespacedPod({ namespace: NS, labelSelector: "app=web" })).items;
    await waitFor(
      "3 Ready pods",
      async () => ((await listWeb()).filter(isReady).length === 3 ? true : undefined),
      WAIT,
    );

    const out: string[] = [];
    const child = spawn(
      process.execPath,
      [
        join(import.meta.dirname, "..", "..", "lab", "handlers", "drain-main.ts"),
        "--kubeconfig",
        lab.kubeconfigPath,
        "--queue-url",
        queueUrl,
        "--aws-endpoint",
        moto.endpoint,
        "--time-scale",
        String(TIME_SCALE),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child.stdout.on("data", (b: Buffer) => out.push(b.toString()));
    child.stderr.on("data", (b: Buffer) => out.push(b.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code) => {
        resolve(code);
      }),
    );
    try {
      await using cloud = new CloudSimulator({
        lab: cloudLabOf(lab),
        send: sqsSender(sqs, queueUrl),
        hooks: {
          killNode: () => undefined,
          chooseVictims: preferNodesHoldingPods(() => podsOf(lab.core, NS, "app=web")),
        },
        settings: {
          nodeJoinSeconds: 10,
          eventDeliverySeconds: 2,
          noticeLeadSeconds: 120,
          refuseSeconds: 5,
          terminatedAfterSeconds: 10,
          deleteTerminatedNodes: false,
          autoscaler: { enabled: false, maxNodesPerGroup: 4, reactSeconds: 10 },
        },
        nodeGroups: groups,
        events: [{ at: 1, kind: "spot-reclaim", nodes: { count: 1 } }],
        timeScale: TIME_SCALE,
      });
      cloud.start();
      const victim = await waitFor("the reclaim", () => Promise.resolve(cloud.reclaims[0]?.node), WAIT);
      const victimPods = (await listWeb())
        .filter((p) => p.spec?.nodeName === victim)
        .map((p) => p.metadata?.name);
      assert.equal(victimPods.length, 1, "the chooser picked a node holding a pod");

      await waitFor(
        "the victim cordoned",
        async () => ((await lab.getNode(victim)).spec?.unschedulable === true ? true : undefined),
        WAIT,
      );
      await waitFor(
        "its pod gone and 3 Ready pods elsewhere",
        async () => {
          const pods = await listWeb();
          const ok =
            !pods.some((p) => victimPods.includes(p.metadata?.name)) &&
            pods.filter(isReady).length === 3 &&
            pods.every((p) => p.spec?.nodeName !== victim);
          return ok ? true : undefined;
        },
        WAIT,
      );
      await cloud.settled();
      assert.ok(
        cloud.timeline.some((e) => e.kind === "node-joined"),
        "the group replaced the dead instance",
      );
      await waitFor(
        "every message deleted",
        async () => {
          const a = await sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: queueUrl,
              AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            }),
          );
          return a.Attributes?.["ApproximateNumberOfMessages"] === "0" &&
            a.Attributes["ApproximateNumberOfMessagesNotVisible"] === "0"
            ? true
            : undefined;
        },
        WAIT,
      );
    } finally {
      child.kill("SIGTERM");
      const code = await exited;
      sqs.destroy();
      const lines = out
        .join("")
        .split("\n")
        .filter((l) => l.startsWith("{"));
      const msgs = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
      if (!msgs.includes("node drained")) console.error(out.join(""));
      assert.ok(
        msgs.includes("node cordoned") && msgs.includes("pod evicted") && msgs.includes("node drained"),
        msgs.join(" | "),
      );
      assert.equal(code, 0);
    }
  },
);
