/**
 * Exactly-once replica changes (issue 7 item 1), against the real API server through the lab's fault proxy:
 * the Evacuation status write that follows a surge or a retire fails (500), or hangs and the controller is
 * SIGKILLed there. The surge ledger written with spec.replicas keeps the next reconcile (or the next
 * process) from surging or retiring again. Assertions are on spec.replicas as sampled throughout.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startKubeFaultProxy, type KubeFaultProxy } from "../../lab/faults/kube.ts";
import type { RequestInfo } from "../../lab/faults/rules.ts";
import { startController } from "../helpers/controller-process.ts";
import {
  deploymentReplicas,
  nodesHolding,
  NS,
  readyPodCount,
  startControllerLab,
  type ControllerLab,
} from "../helpers/lab-env.ts";
import { waitForReconciles } from "../helpers/reconciles.ts";
import { Sampler, waitFor, waitUntil } from "../helpers/wait.ts";
import { fastDeployment } from "../helpers/workloads.ts";

const REPLICAS = 3;

/** A write of `name`'s replicas: the ledger patch (today) or the scale subresource (before the ledger). */
const isReplicaWrite = (info: RequestInfo, name: string): boolean =>
  info.name === name &&
  ((info.verb === "patch" && info.resource === "deployments") ||
    (info.verb === "update" && info.resource === "deployments/scale"));

const STATUS_WRITE = { verb: "update", resource: "evacuations/status" } as const;

describe(
  "exactly-once surge and retire through status-write failures and a crash",
  { timeout: 300_000 },
  () => {
    let env: ControllerLab;
    let faults: KubeFaultProxy;

    before(async () => {
      env = await startControllerLab({
        timeScale: 0.2,
        nodeGroups: ["a", "b", "c"].map((g) => ({ name: `g-${g}`, zone: "us-east-1a", count: 4 })),
      });
      faults = await startKubeFaultProxy(env.lab.controlPlane);
    });
    after(async () => {
      await faults[Symbol.asyncDispose]();
      await env[Symbol.asyncDispose]();
    });

    /** Deployment `name` (3 replicas, one per node of its group, Ready 3 s after start); its doomed node. */
    async function workload(name: string): Promise<string> {
      await env.lab.apps.createNamespacedDeployment({
        namespace: NS,
        body: fastDeployment({ name, replicas: REPLICAS, nodeGroup: `g-${name}`, readyAfterSeconds: 3 }),
      });
      await waitUntil(`3 Ready ${name} pods`, async () => (await readyPodCount(env.lab, name)) === REPLICAS, {
        timeoutMs: 60_000,
      });
      const [node] = await nodesHolding(env.lab, name);
      assert.ok(node !== undefined);
      return node.name;
    }

    async function evacuationDone(nodeName: string, alive: () => void): Promise<void> {
      await waitFor(
        `the Evacuation of ${nodeName} Done`,
        async () => {
          const [e] = await env.evacuationsOf(nodeName);
          return e?.status?.phase === "Done" ? e : undefined;
        },
        { timeoutMs: 90_000, alive },
      );
    }

    async function sendWarning(nodeName: string): Promise<void> {
      const node = env.lab.nodes.find((n) => n.name === nodeName);
      assert.ok(node !== undefined);
      await env.sendSpotWarning(node);
    }

    it("the status write after the surge fails (500): no second surge", async () => {
      const node = await workload("a");
      const { proxy } = faults;
      let armed = false;
      proxy.onRequest((info) => {
        if (armed || !isReplicaWrite(info, "a")) return;
        armed = true;
        proxy.inject({ match: STATUS_WRITE, fault: { kind: "status", status: 500 }, forMs: 3_000 });
      });
      await using replicas = new Sampler(() => deploymentReplicas(env.lab, "a"), 100);
      await using controller = await startController({
        ...env.handlerContext("a.log"),
        kubeconfigPath: faults.kubeconfigPath,
      });
      await sendWarning(node);
      await evacuationDone(node, controller.assertRunning);
      await waitUntil(
        "spec.replicas back to 3",
        async () => (await deploymentReplicas(env.lab, "a")) === REPLICAS,
      );
      const seen = await replicas.stop();
      proxy.clear();
      assert.ok(
        proxy.requests.some((r) => r.resource === "evacuations/status" && r.status === 500),
        "a status write failed",
      );
      assert.equal(Math.max(...seen), REPLICAS + 1, "surged exactly once");
      assert.equal(Math.min(...seen), REPLICAS, "never below desired");
    });

    it("the status write after the retire fails (500): no second retire, never below desired", async () => {
      const node = await workload("b");
      const { proxy } = faults;
      let writes = 0;
      proxy.onRequest((info) => {
        if (!isReplicaWrite(info, "b") || ++writes !== 2) return;
        proxy.inject({ match: STATUS_WRITE, fault: { kind: "status", status: 500 }, forMs: 3_000 });
      });
      await using replicas = new Sampler(() => deploymentReplicas(env.lab, "b"), 100);
      await using controller = await startController({
        ...env.handlerContext("b.log"),
        kubeconfigPath: faults.kubeconfigPath,
      });
      await sendWarning(node);
      await evacuationDone(node, controller.assertRunning);
      // A repeated retire would come from a later reconcile: judge after three more.
      await waitForReconciles(controller, 3);
      const seen = await replicas.stop();
      proxy.clear();
      assert.ok(writes >= 2, "the retire was written");
      assert.ok(proxy.requests.some((r) => r.resource === "evacuations/status" && r.status === 500));
      assert.equal(await deploymentReplicas(env.lab, "b"), REPLICAS, "spec.replicas exactly as before");
      assert.equal(Math.min(...seen), REPLICAS, "never retired below desired");
      assert.equal(Math.max(...seen), REPLICAS + 1);
    });

    it("SIGKILL between the replica write and the status write: the next controller does not surge again", async () => {
      const node = await workload("c");
      const { proxy } = faults;
      let armed = false;
      proxy.onRequest((info) => {
        if (armed || !isReplicaWrite(info, "c")) return;
        armed = true;
        // The status write that follows the surge never gets an answer: the process dies waiting for it.
        proxy.inject({ match: STATUS_WRITE, fault: { kind: "hang" } });
      });
      await using replicas = new Sampler(() => deploymentReplicas(env.lab, "c"), 100);
      const first = await startController({
        ...env.handlerContext("c-1.log"),
        kubeconfigPath: faults.kubeconfigPath,
      });
      await sendWarning(node);
      await waitFor(
        "a status write hanging after the surge",
        () =>
          proxy.requests.some((r) => r.resource === "evacuations/status" && r.fault === "hang")
            ? true
            : undefined,
        { timeoutMs: 30_000, alive: first.assertRunning },
      );
      assert.equal(await deploymentReplicas(env.lab, "c"), REPLICAS + 1, "the surge landed");
      const [before] = await env.evacuationsOf(node);
      assert.deepEqual(before?.status?.surges ?? [], [], "and its status record did not");
      await first.kill();
      proxy.clear();

      await using second = await startController(env.handlerContext("c-2.log"));
      await evacuationDone(node, second.assertRunning);
      await waitUntil(
        "spec.replicas back to 3",
        async () => (await deploymentReplicas(env.lab, "c")) === REPLICAS,
      );
      const seen = await replicas.stop();
      assert.equal(Math.max(...seen), REPLICAS + 1, "surged exactly once across both processes");
      assert.equal(Math.min(...seen), REPLICAS);
      const [done] = await env.evacuationsOf(node);
      assert.deepEqual(
        done?.status?.surges?.map((s) => [s.workload.name, s.by, s.retiredAt !== undefined]),
        [["c", 1, true]],
        "one surge record (recovered from the ledger), retired",
      );
    });
  },
);
