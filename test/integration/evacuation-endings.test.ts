/**
 * How evacuations end, against the lab's real control plane (issue 7 items 4, 5, 6): `lifeboat run` as a
 * process, notices as EventBridge messages on moto SQS, every assertion on what the cluster shows.
 * - the Deployment is deleted mid-evacuation: its surge is handed back and the evacuation completes;
 * - a doomed pod that never leaves: the evacuation gives up (Failed, Warning EvacuationFailed);
 * - finished evacuations are deleted after their time to live;
 * - a prewarm (rebalance recommendation) that sees no warning in time is undone: surge retired, the
 *   StatefulSet pod on the node untouched, the node uncordoned;
 * - a `lifeboat.dev/evacuate` annotation is a one-shot request: removed once served, so that neither the
 *   record's deletion nor a restart makes it ask again.
 * The controller runs with a short give-up time and time to live so that the test stays short.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { EvacuationResource } from "../../src/state/evacuation-resource.ts";
import { startController, type ControllerProcess } from "../helpers/controller-process.ts";
import {
  deploymentReplicas,
  EVACUATED_MARKS,
  evacuationMarks,
  eventsFor,
  nodesHolding,
  NS,
  REGION,
  podsOf,
  readyPodCount,
  startControllerLab,
  type ControllerLab,
} from "../helpers/lab-env.ts";
import { waitForReconciles } from "../helpers/reconciles.ts";
import { waitFor, waitUntil } from "../helpers/wait.ts";
import { fastDeployment, fastStatefulSet } from "../helpers/workloads.ts";
import { rebalanceRecommendation } from "../../lab/cloud/messages.ts";

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const GIVE_UP_SECONDS = 4;
const TTL_SECONDS = 6;
const PREWARM_TIMEOUT_SECONDS = 15;
/** A finalizer nothing removes: the pod stays terminating (a stuck volume detach, say) until the test lifts it. */
const STUCK = "lab.lifeboat.dev/stuck";

describe("how evacuations end, against the lab", { timeout: 300_000 }, () => {
  let env: ControllerLab;
  let controller: ControllerProcess;

  before(async () => {
    env = await startControllerLab({
      timeScale: 0.2,
      nodeGroups: [
        { name: "gone", zone: "us-east-1a", count: 3 },
        { name: "stuck", zone: "us-east-1b", count: 3 },
        { name: "warm", zone: "us-east-1a", count: 3 },
        { name: "asked", zone: "us-east-1b", count: 1 },
      ],
    });
    controller = await startController({
      ...env.handlerContext("controller.log"),
      extraArgs: [
        `--give-up-after-seconds=${GIVE_UP_SECONDS}`,
        `--evacuation-ttl-seconds=${TTL_SECONDS}`,
        `--prewarm-timeout-seconds=${PREWARM_TIMEOUT_SECONDS}`,
      ],
    });
  });

  after(async () => {
    await controller?.stop();
    await env?.[Symbol.asyncDispose]();
  });

  async function phaseOf(node: string, phase: string): Promise<EvacuationResource> {
    return waitFor(
      `Evacuation of ${node} in phase ${phase}`,
      async () => (await env.evacuationsOf(node)).find((e) => e.status?.phase === phase),
      { timeoutMs: 60_000, alive: controller.assertRunning },
    );
  }

  it("the Deployment deleted mid-evacuation: the surge is handed back, the evacuation is Done, then forgotten", async () => {
    // Pods take 60 s to be Ready, from creation (a template changed afterwards would need a two-step rollout):
    // the surge is still open when the Deployment goes.
    await env.lab.apps.createNamespacedDeployment({
      namespace: NS,
      body: fastDeployment({ name: "gone", replicas: 2, nodeGroup: "gone", readyAfterSeconds: 60 }),
    });
    await waitUntil("2 Ready pods of gone", async () => (await readyPodCount(env.lab, "gone")) === 2, {
      timeoutMs: 150_000,
    });
    const [node] = await nodesHolding(env.lab, "gone");
    assert.ok(node !== undefined);

    await env.sendSpotWarning(node);
    await waitUntil("surged to 3", async () => {
      const d = await env.lab.apps.readNamespacedDeployment({ name: "gone", namespace: NS });
      return d.spec?.replicas === 3;
    });
    await env.lab.apps.deleteNamespacedDeployment({ name: "gone", namespace: NS });

    const done = await phaseOf(node.name, "Done");
    assert.ok(
      done.status?.surges?.every((s) => s.handedBackAt !== undefined),
      `every surge handed back: ${JSON.stringify(done.status?.surges)}`,
    );
    const handedBack = await eventsFor(env.lab, "Deployment", "gone", "SurgeHandedBack");
    assert.ok(handedBack.length >= 1 && handedBack.every((e) => e.type === "Warning"));
    // The owner's deletion removes its pods (garbage collection, then each pod's grace period), not lifeboat.
    await waitUntil(
      "the deleted Deployment's pods gone",
      async () => (await podsOf(env.lab, "gone")).length === 0,
      {
        timeoutMs: 30_000,
      },
    );

    await waitUntil(
      `Evacuation of ${node.name} deleted after its ${TTL_SECONDS} s time to live`,
      async () => (await env.evacuationsOf(node.name)).length === 0,
      { timeoutMs: 60_000 },
    );
  });

  it("a doomed pod that never leaves: after the deadline plus the give-up time the evacuation is Failed", async () => {
    await env.lab.apps.createNamespacedDeployment({
      namespace: NS,
      body: fastDeployment({ name: "stuck", replicas: 2, nodeGroup: "stuck" }),
    });
    await waitUntil("2 Ready pods of stuck", async () => (await readyPodCount(env.lab, "stuck")) === 2);
    const [node] = await nodesHolding(env.lab, "stuck");
    assert.ok(node !== undefined);
    const doomed = (await podsOf(env.lab, "stuck")).find((p) => p.spec?.nodeName === node.name);
    const name = doomed?.metadata?.name ?? "";
    await env.lab.core.patchNamespacedPod(
      { name, namespace: NS, body: { metadata: { finalizers: [STUCK] } } },
      mergePatch,
    );

    try {
      // A warning sent 110 s ago: the deadline is 10 s away.
      await env.sendSpotWarning(node, new Date(Date.now() - 110_000));
      const failed = await phaseOf(node.name, "Failed");
      assert.ok(failed.status?.timeline?.failedAt !== undefined, "failedAt recorded");
      assert.ok(
        failed.status?.surges?.every((s) => s.retiredAt !== undefined),
        "no surge left open behind a failed evacuation",
      );
      const d = await env.lab.apps.readNamespacedDeployment({ name: "stuck", namespace: NS });
      assert.equal(d.spec?.replicas, 2, "the workload is back at its owner's count");
      const events = await eventsFor(
        env.lab,
        "Evacuation",
        failed.metadata.name,
        "EvacuationFailed",
        "default",
      );
      assert.ok(events.some((e) => e.type === "Warning" && (e.message ?? "").includes(name)));
    } finally {
      await env.lab.core.patchNamespacedPod(
        { name, namespace: NS, body: { metadata: { finalizers: null } } },
        mergePatch,
      );
    }
  });

  it("a prewarm that sees no warning is undone: surge retired, the StatefulSet pod left alone, node uncordoned", async () => {
    await env.lab.apps.createNamespacedDeployment({
      namespace: NS,
      body: fastDeployment({ name: "warm", replicas: 2, nodeGroup: "warm" }),
    });
    await env.lab.apps.createNamespacedStatefulSet({
      namespace: NS,
      body: fastStatefulSet({ name: "warm-db", replicas: 3, nodeGroup: "warm" }),
    });
    await waitUntil("2 Ready pods of warm", async () => (await readyPodCount(env.lab, "warm")) === 2);
    await waitUntil("3 Ready pods of warm-db", async () => (await readyPodCount(env.lab, "warm-db")) === 3);
    const [node] = await nodesHolding(env.lab, "warm");
    assert.ok(node !== undefined);
    const dbPod = (await podsOf(env.lab, "warm-db")).find((p) => p.spec?.nodeName === node.name);
    assert.ok(dbPod !== undefined, "one pod of warm-db per node");

    await env.send(
      JSON.stringify(rebalanceRecommendation({ instanceId: node.instanceId, region: REGION }, new Date())),
    );
    await waitUntil(
      "prewarm surged warm to 3",
      async () => (await deploymentReplicas(env.lab, "warm")) === 3,
    );
    const marked = evacuationMarks(await env.lab.core.readNode({ name: node.name }));
    assert.deepEqual(marked, EVACUATED_MARKS, "the prewarmed node is cordoned, tainted and labelled");

    const done = await phaseOf(node.name, "Done");
    assert.equal(done.spec.mode, "prewarm");
    assert.equal(await deploymentReplicas(env.lab, "warm"), 2, "the surge is retired");
    await waitUntil(
      "the node uncordoned, untainted and back in the load balancers",
      async () => {
        const marks = evacuationMarks(await env.lab.core.readNode({ name: node.name }));
        return !marks.unschedulable && marks.taint === null && marks.excludeLabel === null;
      },
      { timeoutMs: 30_000 },
    );
    const db = await env.lab.core.readNamespacedPod({ name: dbPod.metadata?.name ?? "", namespace: NS });
    assert.equal(db.metadata?.uid, dbPod.metadata?.uid, "the StatefulSet pod was never moved");
    assert.equal(db.metadata?.deletionTimestamp, undefined, "nor is it terminating");
    assert.equal(db.spec?.nodeName, node.name);
    const expired = await eventsFor(env.lab, "Evacuation", done.metadata.name, "PrewarmExpired", "default");
    assert.equal(expired.length, 1, "PrewarmExpired said once");
    const evictions = await eventsFor(env.lab, "Pod", dbPod.metadata?.name ?? "", "Evicted");
    assert.deepEqual(evictions, [], "no eviction of a pod that cannot surge on a node without a deadline");
  });

  it("the evacuate annotation is removed once served; after the record's TTL and a restart nothing starts again", async () => {
    const [node] = env.lab.nodes.filter((n) => n.nodeGroup === "asked");
    assert.ok(node !== undefined);
    await env.lab.core.patchNode(
      { name: node.name, body: { metadata: { annotations: { "lifeboat.dev/evacuate": "2m" } } } },
      mergePatch,
    );
    const done = await phaseOf(node.name, "Done");
    await waitUntil(
      "the served annotation removed",
      async () =>
        (await env.lab.core.readNode({ name: node.name })).metadata?.annotations?.[
          "lifeboat.dev/evacuate"
        ] === undefined,
      { timeoutMs: 30_000 },
    );
    // Events are written after the step, best effort: wait for it, then check it came once.
    const cleared = await waitFor(
      "a RequestCleared Event on the node",
      async () => {
        const events = await eventsFor(env.lab, "Node", node.name, "RequestCleared", "default");
        return events.length > 0 ? events : undefined;
      },
      { timeoutMs: 15_000 },
    );
    assert.equal(cleared.length, 1, "RequestCleared once");
    assert.match(cleared[0]?.message ?? "", new RegExp(`served by evacuation ${done.metadata.name}`));
    await waitUntil(
      `the Evacuation of ${node.name} forgotten after its time to live`,
      async () => (await env.evacuationsOf(node.name)).length === 0,
      { timeoutMs: 60_000 },
    );

    await controller.stop();
    controller = await startController({
      ...env.handlerContext("controller-2.log"),
      extraArgs: [`--evacuation-ttl-seconds=${TTL_SECONDS}`],
    });
    // It reads every node's annotation as it starts leading; a notice from one would be recorded in the
    // intake's turn, between two passes of the reconcile loop. Three passes leave room for that turn.
    await waitForReconciles(controller, 3);
    assert.deepEqual(await env.evacuationsOf(node.name), [], "no new evacuation from a served request");
  });
});
