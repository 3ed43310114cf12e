/**
 * The notice intake cannot lose an effect (issue 7 item 2), against the real API server through the lab's
 * fault proxy: a state-change ("shutting-down") notice whose status write fails after its spec write is
 * left in SQS, delivered again, and this time recorded (instanceGone), so the pods left on the node are
 * force-deleted instead of the redelivery being dropped as a duplicate.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { stateChange } from "../../lab/cloud/messages.ts";
import { startKubeFaultProxy } from "../../lab/faults/kube.ts";
import { startController } from "../helpers/controller-process.ts";
import { nodesHolding, NS, readyPodCount, REGION, startControllerLab } from "../helpers/lab-env.ts";
import { waitForCount } from "../helpers/reconciles.ts";
import { waitFor, waitUntil } from "../helpers/wait.ts";
import { fastDeployment } from "../helpers/workloads.ts";

test(
  "a state change whose status write failed is delivered again and recorded: instanceGone, pods force-deleted",
  { timeout: 180_000 },
  async () => {
    await using env = await startControllerLab({
      timeScale: 0.2,
      nodeGroups: [{ name: "gone", zone: "us-east-1a", count: 2 }],
    });
    await using faults = await startKubeFaultProxy(env.lab.controlPlane);
    const { proxy } = faults;
    // One pod per node on two nodes: the replacement stays Pending, so the evacuation is still waiting for
    // it (until the last responsible moment) when the state change comes.
    await env.lab.apps.createNamespacedDeployment({
      namespace: NS,
      body: fastDeployment({ name: "gone", replicas: 2, nodeGroup: "gone", readyAfterSeconds: 1 }),
    });
    await waitUntil("2 Ready pods", async () => (await readyPodCount(env.lab, "gone")) === 2, {
      timeoutMs: 60_000,
    });
    const [node] = await nodesHolding(env.lab, "gone");
    assert.ok(node !== undefined);

    // The first spec write of an existing Evacuation is the state change's; fail the status write after it.
    let armed = false;
    proxy.onRequest((info) => {
      if (armed || info.verb !== "update" || info.resource !== "evacuations") return;
      armed = true;
      proxy.inject({
        match: { verb: "update", resource: "evacuations/status" },
        fault: { kind: "status", status: 500 },
        times: 1,
      });
    });
    await using controller = await startController({
      ...env.handlerContext("intake.log"),
      kubeconfigPath: faults.kubeconfigPath,
      extraArgs: ["--sqs-visibility-timeout-seconds=2"],
    });
    await env.sendSpotWarning(node);
    await waitFor(
      "the evacuation surging",
      async () => ((await env.evacuationsOf(node.name))[0]?.status?.phase === "Surging" ? true : undefined),
      { timeoutMs: 30_000, alive: controller.assertRunning },
    );
    await env.send(
      JSON.stringify(
        stateChange({ instanceId: node.instanceId, region: REGION }, new Date(), "shutting-down"),
      ),
    );

    const [gone] = await waitFor(
      "instanceGone recorded",
      async () => {
        const evs = await env.evacuationsOf(node.name);
        return evs[0]?.status?.instanceGone === true ? evs : undefined;
      },
      { timeoutMs: 30_000, alive: controller.assertRunning },
    );
    assert.ok(armed, "the state change's spec write was seen");
    assert.ok(
      proxy.requests.some((r) => r.resource === "evacuations/status" && r.status === 500),
      "its status write failed once",
    );
    assert.equal(gone?.spec.noticeIds.length, 2, "the notice is listed once");
    await waitUntil(
      "no pod left on the gone node",
      async () => (await nodesHolding(env.lab, "gone")).every((n) => n.name !== node.name),
      { timeoutMs: 30_000 },
    );
    // The pod is gone from the API as soon as the delete call returns; the count follows it.
    await waitForCount(controller, "lifeboat_pods_moved_total", { method: "force_delete" }, 1, {
      timeoutMs: 10_000,
    });
  },
);
