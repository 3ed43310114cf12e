/**
 * A warning that arrives just after its node was deleted (a message whose holder died, redelivered once the
 * node was gone) is ours, late, not foreign: against the real API server and moto, with
 * `--foreign-instance-policy keep` (a foreign message would stay in the queue for another cluster), the late
 * warning is counted (lifeboat_notices_total, outcome late) and deleted, and no Evacuation is made for a
 * node that no longer exists; a truly foreign instance's warning beside it is counted as foreign and kept.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { spotInterruptionWarning } from "../../lab/cloud/messages.ts";
import { startController } from "../helpers/controller-process.ts";
import { REGION, startControllerLab } from "../helpers/lab-env.ts";
import { counter, waitForCount } from "../helpers/reconciles.ts";
import { waitUntil } from "../helpers/wait.ts";

test(
  "a warning for a node deleted a moment ago is deleted as late, not kept as foreign; a foreign one is kept",
  { timeout: 180_000 },
  async () => {
    await using env = await startControllerLab({
      timeScale: 0.2,
      nodeGroups: [{ name: "late", zone: "us-east-1a", count: 2 }],
    });
    await using controller = await startController({
      ...env.handlerContext("late.log"),
      extraArgs: ["--foreign-instance-policy=keep", "--sqs-visibility-timeout-seconds=30"],
    });
    const [node] = env.lab.nodes.filter((n) => n.nodeGroup === "late");
    assert.ok(node !== undefined);
    await env.lab.core.deleteNode({ name: node.name });
    // The controller's informer sees the delete within a moment; give the watch event time to arrive.
    await waitUntil(
      "the node gone from the API",
      async () => {
        const nodes = await env.lab.core.listNode();
        return nodes.items.every((n) => n.metadata?.name !== node.name);
      },
      { timeoutMs: 15_000 },
    );
    await new Promise((r) => setTimeout(r, 1_000));

    await env.send(
      JSON.stringify(spotInterruptionWarning({ instanceId: node.instanceId, region: REGION }, new Date())),
    );
    await waitForCount(controller, "lifeboat_notices_total", { outcome: "late" }, 1, { timeoutMs: 30_000 });
    await waitUntil(
      "the late warning deleted",
      async () => {
        const d = await env.queueDepth();
        return d.visible === 0 && d.inFlight === 0;
      },
      { timeoutMs: 15_000 },
    );
    assert.deepEqual(
      await env.evacuationsOf(node.name),
      [],
      "no Evacuation for a node that no longer exists",
    );

    await env.send(
      JSON.stringify(
        spotInterruptionWarning({ instanceId: "i-0fffffffffffffff0", region: REGION }, new Date()),
      ),
    );
    await waitForCount(controller, "lifeboat_notices_total", { outcome: "foreign" }, 1, {
      timeoutMs: 30_000,
    });
    await waitForCount(controller, "lifeboat_sqs_messages_total", { outcome: "kept" }, 1, {
      timeoutMs: 30_000,
    });
    assert.equal(
      await counter(controller, "lifeboat_notices_total", { outcome: "late" }),
      1,
      "one late notice",
    );
    const d = await env.queueDepth();
    assert.equal(d.visible + d.inFlight, 1, "the foreign warning stays for another consumer");
  },
);
