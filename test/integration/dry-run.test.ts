/**
 * `--dry-run` changes nothing anywhere (issue 7 item 10): given a spot warning and an ASG lifecycle action,
 * a dry-run controller says what it would do (DryRun Events; its log says it too) and leaves the cluster (no
 * Evacuation, no cordon, no scale, no pod removed, no Lease) and AWS (no ASG heartbeat or completion, no
 * SQS delete: the messages stay in the queue) as they were. moto sits behind the lab's fault proxy, used
 * here as a recorder of every AWS call the controller makes.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { startAwsFaultProxy } from "../../lab/faults/aws.ts";
import { startController } from "../helpers/controller-process.ts";
import {
  deploymentReplicas,
  eventsFor,
  nodesHolding,
  NS,
  podsOf,
  readyPodCount,
  startControllerLab,
} from "../helpers/lab-env.ts";
import { counter, waitForCount, waitForReconciles } from "../helpers/reconciles.ts";
import { Sampler, waitUntil } from "../helpers/wait.ts";
import { fastDeployment } from "../helpers/workloads.ts";

test("a dry-run controller given a notice leaves the cluster and moto unchanged and says what it would do", async () => {
  await using env = await startControllerLab({
    timeScale: 0.2,
    nodeGroups: [{ name: "dry", zone: "us-east-1a", count: 4 }],
  });
  await using aws = await startAwsFaultProxy(env.moto.endpoint);
  await env.lab.apps.createNamespacedDeployment({
    namespace: NS,
    body: fastDeployment({ name: "dry", replicas: 2, nodeGroup: "dry", readyAfterSeconds: 1 }),
  });
  await waitUntil("2 Ready pods", async () => (await readyPodCount(env.lab, "dry")) === 2, {
    timeoutMs: 60_000,
  });
  const [warned, hooked] = await nodesHolding(env.lab, "dry");
  assert.ok(warned !== undefined && hooked !== undefined);
  const podsBefore = (await podsOf(env.lab, "dry")).map((p) => p.metadata?.name).sort();

  await using replicas = new Sampler(() => deploymentReplicas(env.lab, "dry"), 100);
  await using controller = await startController({
    ...env.handlerContext("dry.log"),
    awsEndpoint: aws.url,
    queueUrl: aws.rewrite(env.queueUrl),
    extraArgs: [
      "--dry-run",
      "--leader-elect=true",
      "--lease-name=lifeboat-dry",
      "--leader-election-namespace=default",
    ],
  });
  await env.sendSpotWarning(warned);
  await env.send(
    JSON.stringify({
      Origin: "AutoScalingGroup",
      Destination: "EC2",
      Service: "AWS Auto Scaling",
      Time: new Date().toISOString(),
      AccountId: "123456789012",
      RequestId: "req-1",
      LifecycleActionToken: "token-dry-1",
      AutoScalingGroupName: "asg-dry",
      LifecycleHookName: "drain",
      EC2InstanceId: hooked.instanceId,
      LifecycleTransition: "autoscaling:EC2_INSTANCE_TERMINATING",
    }),
  );
  // What it would do, said as DryRun Events: the cordon of both nodes (the warned one and the hooked one)
  // and the surge of the Deployment, each under its real reason.
  const dryRun = async (kind: string, name: string): Promise<string[]> =>
    (await eventsFor(env.lab, kind, name, "DryRun")).map((e) => e.message ?? "");
  await waitUntil(
    "DryRun Events for the cordons and the surge",
    async () =>
      (await dryRun("Node", warned.name)).some((m) => m.includes("would Cordoned")) &&
      (await dryRun("Node", hooked.name)).some((m) => m.includes("would Cordoned")) &&
      (await dryRun("Deployment", "dry")).some((m) => m.includes("would SurgeCreated")),
    { timeoutMs: 60_000, alive: controller.assertRunning },
  );
  // Both notices were taken, and both messages handled and kept.
  await waitForCount(controller, "lifeboat_sqs_messages_total", { outcome: "kept" }, 2);
  for (const kind of ["spot-interruption", "asg-lifecycle-terminate"])
    assert.equal(await counter(controller, "lifeboat_notices_total", { kind, outcome: "accepted" }), 1, kind);
  // A write that a later reconcile would make: judge after three more.
  await waitForReconciles(controller, 3);
  const seen = await replicas.stop();

  assert.deepEqual(await env.evacuations(), [], "no Evacuation written");
  for (const n of [warned, hooked]) {
    const node = await env.lab.getNode(n.name);
    assert.equal(node.spec?.unschedulable ?? false, false, `${n.name} not cordoned`);
    assert.deepEqual(node.spec?.taints ?? [], [], `${n.name} not tainted`);
  }
  assert.deepEqual([Math.min(...seen), Math.max(...seen)], [2, 2], "replicas never changed");
  assert.deepEqual(
    (await podsOf(env.lab, "dry")).map((p) => p.metadata?.name).sort(),
    podsBefore,
    "no pod removed",
  );
  await assert.rejects(
    env.lab.coordination.readNamespacedLease({ name: "lifeboat-dry", namespace: "default" }),
    (err: { code?: number }) => err.code === 404,
    "no Lease written",
  );
  const awsWrites = aws.requests
    .map((r) => r.action)
    .filter(
      (a) =>
        a === "DeleteMessage" || a === "RecordLifecycleActionHeartbeat" || a === "CompleteLifecycleAction",
    );
  assert.deepEqual(awsWrites, [], "no SQS delete, no ASG lifecycle call");
  const depth = await env.queueDepth();
  assert.equal(depth.visible + depth.inFlight, 2, "both messages still in the queue");
  const dryEvents = await eventsFor(env.lab, "Node", warned.name, "DryRun");
  assert.ok(dryEvents.length > 0, "DryRun Events on the node");
  assert.ok(dryEvents.every((e) => e.type === "Normal" && (e.message ?? "").startsWith("dry run")));
});
