/**
 * Crash safety of the controller: `lifeboat run` is SIGKILLed while an evacuation is surging (its
 * replacements take several seconds to become Ready), a new process starts on the same cluster, resumes from
 * the Evacuation resource, and finishes without a second surge. Assertions are on cluster state, Events and
 * the second controller's metrics.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
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
import { counter } from "../helpers/reconciles.ts";
import { Sampler, waitFor, waitUntil } from "../helpers/wait.ts";
import { fastDeployment } from "../helpers/workloads.ts";

test(
  "a controller killed mid-surge is replaced by one that resumes: Done, no double surge, replicas exactly as before",
  { timeout: 180_000 },
  async () => {
    await using env = await startControllerLab({
      timeScale: 0.2,
      nodeGroups: [{ name: "slow", zone: "us-east-1a", count: 4 }],
    });
    const replicas = 3;
    // Replacements become Ready 8 s after they start: long enough to find the evacuation in phase Surging.
    await env.lab.apps.createNamespacedDeployment({
      namespace: NS,
      body: fastDeployment({ name: "slow", replicas, nodeGroup: "slow", readyAfterSeconds: 8 }),
    });
    await waitUntil("3 Ready slow pods", async () => (await readyPodCount(env.lab, "slow")) === replicas, {
      timeoutMs: 60_000,
    });
    const [node] = await nodesHolding(env.lab, "slow");
    assert.ok(node !== undefined);
    const doomed = (await podsOf(env.lab, "slow")).filter((p) => p.spec?.nodeName === node.name).length;
    assert.equal(doomed, 1);

    await using samples = new Sampler(
      async () => ({
        ready: await readyPodCount(env.lab, "slow"),
        replicas: await deploymentReplicas(env.lab, "slow"),
      }),
      150,
    );
    const first = await startController(env.handlerContext("controller-1.log"));
    await env.sendSpotWarning(node);
    const surging = await waitFor(
      "the Evacuation in phase Surging",
      async () => {
        const [e] = await env.evacuationsOf(node.name);
        return e?.status?.phase === "Surging" ? e : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, alive: first.assertRunning },
    );
    await first.kill();
    assert.equal(first.child.signalCode, "SIGKILL");
    assert.equal(surging.status?.surges?.length, 1);
    const [afterKill] = await env.evacuationsOf(node.name);
    assert.notEqual(afterKill?.status?.phase, "Done", "the first controller died before finishing");

    await using second = await startController(env.handlerContext("controller-2.log"));
    const [done] = await waitFor(
      "the Evacuation in phase Done",
      async () => {
        const evs = await env.evacuationsOf(node.name);
        return evs.length === 1 && evs[0]?.status?.phase === "Done" ? evs : undefined;
      },
      { timeoutMs: 60_000, alive: second.assertRunning },
    );
    await waitUntil("no slow pod left on the node", async () =>
      (await podsOf(env.lab, "slow")).every((p) => p.spec?.nodeName !== node.name),
    );
    await waitUntil(
      "3 Ready slow pods again",
      async () => (await readyPodCount(env.lab, "slow")) === replicas,
    );
    const seen = await samples.stop();

    assert.equal(await deploymentReplicas(env.lab, "slow"), replicas, "spec.replicas exactly as before");
    assert.equal(Math.max(...seen.map((s) => s.replicas)), replicas + doomed, "never more than one surge");
    assert.equal(Math.min(...seen.map((s) => s.ready)), replicas, "Ready replicas never below 3");
    assert.deepEqual(
      done?.status?.surges?.map((s) => [s.workload.name, s.by, s.retiredAt !== undefined]),
      [["slow", 1, true]],
      "one surge record, retired",
    );
    assert.equal(
      await counter(second, "lifeboat_pods_moved_total", { method: "surge" }),
      0,
      "the second controller did not surge again",
    );
    // Events are written after the step, best effort: wait for it.
    await waitUntil(
      "a Retired Event on the Deployment (the second controller retired the surge)",
      async () => (await eventsFor(env.lab, "Deployment", "slow", "Retired")).length >= 1,
      { timeoutMs: 15_000 },
    );
  },
);
