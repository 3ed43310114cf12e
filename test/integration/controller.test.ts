/**
 * The lifeboat controller end to end: `lifeboat run` as a process against the lab's control plane, KWOK nodes,
 * pod runtime and moto SQS. Notices go in as EventBridge messages (or the node annotation); every assertion
 * is on what the cluster and the queue show afterwards, never on how long it took. One lab and one
 * controller serve every test of the file; each test has its own node group and workload so they do not
 * touch each other's pods.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { PatchStrategy, setHeaderOptions, type V1Deployment, type V1Node } from "@kubernetes/client-node";
import type { LabNode } from "../../lab/lab.ts";
import { spotInterruptionWarning } from "../../lab/cloud/messages.ts";
import { pdb } from "../../lab/workloads.ts";
import type { EvacuationResource } from "../../src/state/evacuation-resource.ts";
import { LIFEBOAT_BIN, startController, type ControllerProcess } from "../helpers/controller-process.ts";
import {
  deploymentReplicas,
  EVACUATED_MARKS,
  evacuationMarks,
  eventsFor,
  isPodReady,
  isTerminating,
  nodesHolding,
  NS,
  podsOf,
  readyPodCount,
  REGION,
  spotWarningBody,
  startControllerLab,
  statefulSetReplicas,
  type ControllerLab,
} from "../helpers/lab-env.ts";
import { metricsUrl, scrape, total } from "../helpers/reconciles.ts";
import { Sampler, waitFor, waitUntil } from "../helpers/wait.ts";
import { FirstRevision } from "../helpers/write-order.ts";
import { fastDeployment, fastStatefulSet } from "../helpers/workloads.ts";

const run = promisify(execFile);
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

interface WorkloadSample {
  /** Ready, non-terminating pods. */
  ready: number;
  /** spec.replicas of the workload. */
  replicas: number;
}

describe("lifeboat controller against the lab", { timeout: 600_000 }, () => {
  let env: ControllerLab;
  let controller: ControllerProcess;

  before(async () => {
    env = await startControllerLab({
      timeScale: 0.2,
      nodeGroups: [
        { name: "web", zone: "us-east-1a", count: 7 },
        { name: "pdb", zone: "us-east-1a", count: 2 },
        { name: "sts", zone: "us-east-1b", count: 3 },
        { name: "pair", zone: "us-east-1b", count: 5 },
        { name: "misc", zone: "us-east-1c", count: 5 },
      ],
    });
    controller = await startController(env.handlerContext("controller.log"));
  });

  after(async () => {
    await controller?.stop();
    await env?.[Symbol.asyncDispose]();
  });

  /** The controller's counts of notices by outcome and of SQS messages by what was done with them. */
  async function sqsCounts(): Promise<Record<string, number>> {
    const samples = await scrape(await metricsUrl(controller));
    const notices = (outcome: string): number => total(samples, "lifeboat_notices_total", { outcome });
    const messages = (outcome: string): number => total(samples, "lifeboat_sqs_messages_total", { outcome });
    return {
      malformed: notices("malformed"),
      unknown: notices("unknown"),
      foreign: notices("foreign"),
      accepted: notices("accepted"),
      deleted: messages("deleted"),
      kept: messages("kept"),
    };
  }

  /** Waits until the node's (only) Evacuation is Done and returns it. */
  async function evacuationDone(node: string, timeoutMs = 60_000): Promise<EvacuationResource> {
    return waitFor(
      `Evacuation of ${node} in phase Done`,
      async () => {
        const evs = await env.evacuationsOf(node);
        return evs.length > 0 && evs.every((e) => e.status?.phase === "Done") ? evs[0] : undefined;
      },
      { timeoutMs, alive: controller.assertRunning },
    );
  }

  async function createDeployment(w: Parameters<typeof fastDeployment>[0]): Promise<void> {
    await env.lab.apps.createNamespacedDeployment({ namespace: NS, body: fastDeployment(w) });
    await waitUntil(
      `${w.replicas} Ready pods of ${w.name}`,
      async () => (await readyPodCount(env.lab, w.name)) === w.replicas,
    );
  }

  function sampleDeployment(name: string): Sampler<WorkloadSample> {
    return new Sampler(
      async () => ({
        ready: await readyPodCount(env.lab, name),
        replicas: await deploymentReplicas(env.lab, name),
      }),
      150,
    );
  }

  async function podsOfOn(app: string, node: string): Promise<string[]> {
    return (await podsOf(env.lab, app))
      .filter((p) => p.spec?.nodeName === node)
      .map((p) => p.metadata?.name ?? "");
  }

  async function firstNodeHolding(app: string): Promise<LabNode> {
    const [node] = await nodesHolding(env.lab, app);
    assert.ok(node !== undefined, `a node holds a pod of ${app}`);
    return node;
  }

  it("a spot warning on SQS evacuates a 6-replica Deployment's node make-before-break: Ready replicas never below 6", async () => {
    await createDeployment({ name: "web", replicas: 6, nodeGroup: "web" });
    const node = await firstNodeHolding("web");
    const samples = sampleDeployment("web");

    await env.sendSpotWarning(node);
    const evac = await evacuationDone(node.name);
    await waitUntil(
      "no pod of web left on the node",
      async () => (await podsOfOn("web", node.name)).length === 0,
    );
    await waitUntil("6 Ready pods of web again", async () => (await readyPodCount(env.lab, "web")) === 6);
    const seen = await samples.stop();

    assert.ok(seen.length > 10, `sampled the Deployment throughout (${seen.length} samples)`);
    assert.equal(Math.min(...seen.map((s) => s.ready)), 6, "Ready replicas never dropped below 6");
    assert.equal(Math.max(...seen.map((s) => s.replicas)), 7, "surged by exactly the one doomed pod");
    assert.equal(await deploymentReplicas(env.lab, "web"), 6, "spec.replicas back to 6");
    assert.deepEqual(evacuationMarks(await env.lab.getNode(node.name)), EVACUATED_MARKS);

    assert.equal(evac.spec.instanceId, node.instanceId);
    assert.equal(evac.spec.noticeKind, "spot-interruption");
    const t = evac.status?.timeline ?? {};
    for (const field of [
      "noticedAt",
      "cordonedAt",
      "surgeCreatedAt",
      "replacementsReadyAt",
      "retiredAt",
      "doneAt",
    ] as const) {
      assert.ok(t[field] !== undefined, `timeline.${field} is set`);
    }
    const at = (s: string | undefined): number => Date.parse(s ?? "");
    assert.ok(at(t.cordonedAt) <= at(t.surgeCreatedAt), "cordoned before the surge");
    assert.ok(at(t.surgeCreatedAt) <= at(t.replacementsReadyAt), "surge before replacements Ready");
    assert.ok(at(t.replacementsReadyAt) <= at(t.doneAt), "replacements Ready before done");
    assert.deepEqual(
      evac.status?.surges?.map((s) => ({
        workload: s.workload.name,
        by: s.by,
        retired: s.retiredAt !== undefined,
      })),
      [{ workload: "web", by: 1, retired: true }],
    );
    assert.deepEqual(await env.queueDepth(), { visible: 0, inFlight: 0 }, "the message was deleted");
  });

  it("a PodDisruptionBudget that allows no disruption blocks the eviction (Warning Event, retried) until it is relaxed", async () => {
    await env.lab.apps.createNamespacedStatefulSet({
      namespace: NS,
      body: fastStatefulSet({ name: "db", replicas: 1, nodeGroup: "pdb" }),
    });
    await env.lab.policy.createNamespacedPodDisruptionBudget({
      namespace: NS,
      body: pdb("db", { maxUnavailable: 0 }),
    });
    await waitUntil("db-0 Ready", async () => (await readyPodCount(env.lab, "db")) === 1);
    const node = await firstNodeHolding("db");
    const before = (await env.lab.core.readNamespacedPod({ name: "db-0", namespace: NS })).metadata?.uid;

    await env.sendSpotWarning(node);
    const blocked = await waitFor(
      "EvictionBlocked Warning Events for db-0 (at least two attempts)",
      async () => {
        const events = await eventsFor(env.lab, "Pod", "db-0", "EvictionBlocked");
        const attempts = events.reduce((n, e) => n + (e.count ?? 1), 0);
        return attempts >= 2 ? events : undefined;
      },
      { timeoutMs: 30_000, alive: controller.assertRunning },
    );
    assert.ok(blocked.every((e) => e.type === "Warning"));
    const still = await env.lab.core.readNamespacedPod({ name: "db-0", namespace: NS });
    assert.equal(still.metadata?.uid, before, "db-0 is still the original pod");
    assert.equal(still.spec?.nodeName, node.name, "and still on the evacuated node");
    assert.equal(isTerminating(still), false);
    const [inProgress] = await env.evacuationsOf(node.name);
    assert.notEqual(inProgress?.status?.phase, "Done", "the evacuation waits for the pod");
    assert.ok(
      inProgress?.status?.evictions?.some((e) => e.pod.name === "db-0" && e.outcome === "blocked-by-pdb"),
      "the Evacuation records the blocked eviction",
    );

    await env.lab.policy.patchNamespacedPodDisruptionBudget(
      { name: "db", namespace: NS, body: { spec: { maxUnavailable: 1 } } },
      mergePatch,
    );
    await evacuationDone(node.name);
    const moved = await waitFor("db-0 recreated and Ready", async () => {
      const p = await env.lab.core.readNamespacedPod({ name: "db-0", namespace: NS });
      return p.metadata?.uid !== before && isPodReady(p) ? p : undefined;
    });
    assert.notEqual(moved.spec?.nodeName, node.name, "recreated on another node");
    assert.equal(await statefulSetReplicas(env.lab, "db"), 1);
  });

  it("StatefulSet pods are evicted, not surged: replicas unchanged, the pod recreated elsewhere", async () => {
    await env.lab.apps.createNamespacedStatefulSet({
      namespace: NS,
      body: fastStatefulSet({ name: "cache", replicas: 2, nodeGroup: "sts" }),
    });
    await waitUntil("2 Ready cache pods", async () => (await readyPodCount(env.lab, "cache")) === 2);
    const node = await firstNodeHolding("cache");
    const doomed = (await podsOf(env.lab, "cache")).find((p) => p.spec?.nodeName === node.name);
    assert.ok(doomed?.metadata?.name !== undefined);
    const name = doomed.metadata.name;
    const replicas = new Sampler(() => statefulSetReplicas(env.lab, "cache"), 150);

    await env.sendSpotWarning(node);
    const evac = await evacuationDone(node.name);
    const moved = await waitFor(`${name} recreated and Ready`, async () => {
      const p = await env.lab.core.readNamespacedPod({ name, namespace: NS });
      return p.metadata?.uid !== doomed.metadata?.uid && isPodReady(p) ? p : undefined;
    });
    const seen = await replicas.stop();

    assert.notEqual(moved.spec?.nodeName, node.name);
    assert.deepEqual([...new Set(seen)], [2], "StatefulSet spec.replicas never changed");
    assert.deepEqual(evac.status?.surges ?? [], [], "no surge for a StatefulSet");
    assert.deepEqual(
      evac.status?.evictions?.map((e) => [e.pod.name, e.outcome]),
      [[name, "evicted"]],
    );
    assert.deepEqual(await podsOfOn("cache", node.name), []);
  });

  it("two nodes at once: both cordoned before any surge, one surge per workload, both Done, replicas back", async () => {
    await createDeployment({ name: "pair", replicas: 3, nodeGroup: "pair" });
    const holding = await nodesHolding(env.lab, "pair");
    const [a, b] = holding;
    assert.ok(a !== undefined && b !== undefined);
    const samples = sampleDeployment("pair");
    // The order of the writes themselves: the timestamps in the timeline are taken when each call returned, so
    // a slow response makes a cordon that landed before the surge look later than it.
    await using cordoned = new FirstRevision<V1Node>(
      env.lab.kubeConfig,
      "/api/v1/nodes",
      (n) => n.spec?.unschedulable === true,
    );
    await using scaled = new FirstRevision<V1Deployment>(
      env.lab.kubeConfig,
      `/apis/apps/v1/namespaces/${NS}/deployments`,
      (d) => (d.spec?.replicas ?? 0) > 3,
    );
    await Promise.all([cordoned.started(), scaled.started()]);

    const now = new Date();
    await env.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: env.queueUrl,
        Entries: [a, b].map((n, i) => ({ Id: `m${i}`, MessageBody: spotWarningBody(n, now) })),
      }),
    );
    const [ea, eb] = [await evacuationDone(a.name), await evacuationDone(b.name)];
    await waitUntil("3 Ready pair pods again", async () => (await readyPodCount(env.lab, "pair")) === 3);
    const seen = await samples.stop();

    const [cordonA, cordonB, surge] = [cordoned.of(a.name), cordoned.of(b.name), scaled.of("pair")];
    assert.ok(
      cordonA !== undefined && cordonB !== undefined && surge !== undefined,
      `every write seen: cordons ${cordonA}, ${cordonB}, surge ${surge}`,
    );
    assert.ok(
      cordonA < surge && cordonB < surge,
      `both nodes cordoned (revisions ${cordonA}, ${cordonB}) before the first surge (revision ${surge})`,
    );
    const surges = [ea, eb].flatMap((e) => e.status?.surges ?? []);
    assert.deepEqual(
      surges.map((s) => [s.workload.name, s.by]),
      [
        ["pair", 1],
        ["pair", 1],
      ],
    );
    assert.equal(new Set(surges.map((s) => s.issuedAt)).size, 1, "one scale-up covered both doomed pods");
    assert.equal(Math.max(...seen.map((s) => s.replicas)), 5, "spec.replicas peaked at 3 + 2 doomed");
    assert.equal(Math.min(...seen.map((s) => s.ready)), 3, "Ready replicas never below 3");
    assert.equal(await deploymentReplicas(env.lab, "pair"), 3);
    for (const n of [a, b]) {
      assert.deepEqual(evacuationMarks(await env.lab.getNode(n.name)), EVACUATED_MARKS);
      assert.deepEqual(await podsOfOn("pair", n.name), []);
    }
    const replacements = (await podsOf(env.lab, "pair"))
      .filter((p) => !isTerminating(p))
      .map((p) => p.spec?.nodeName);
    assert.ok(
      !replacements.includes(a.name) && !replacements.includes(b.name),
      "no replacement on an evacuated node",
    );
  });

  it("duplicate messages (the same warning three times, then redelivered) make one Evacuation and one surge", async () => {
    await createDeployment({ name: "dup", replicas: 2, nodeGroup: "misc" });
    const node = await firstNodeHolding("dup");
    const samples = sampleDeployment("dup");
    const body = spotWarningBody(node);
    const noticeId = (JSON.parse(body) as { id: string }).id;

    await env.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: env.queueUrl,
        Entries: [0, 1, 2].map((i) => ({ Id: `d${i}`, MessageBody: body })),
      }),
    );
    await waitFor("an Evacuation for the node", async () =>
      (await env.evacuationsOf(node.name)).length > 0 ? true : undefined,
    );
    // SQS delivers a message again when its visibility timeout lapses before the delete: same body, same event id.
    await env.send(body);
    await evacuationDone(node.name);
    await waitUntil("queue drained", async () => {
      const d = await env.queueDepth();
      return d.visible === 0 && d.inFlight === 0;
    });
    await waitUntil("2 Ready dup pods again", async () => (await readyPodCount(env.lab, "dup")) === 2);
    const seen = await samples.stop();

    const evs = await env.evacuationsOf(node.name);
    assert.equal(evs.length, 1, "one Evacuation for the node");
    assert.deepEqual(evs[0]?.spec.noticeIds, [noticeId]);
    assert.equal(evs[0]?.status?.surges?.length, 1, "one surge record");
    assert.equal(Math.max(...seen.map((s) => s.replicas)), 3, "surged once: 2 + 1");
    assert.equal(await deploymentReplicas(env.lab, "dup"), 2);
    await env.lab.apps.deleteNamespacedDeployment({ name: "dup", namespace: NS });
  });

  it("manual trigger: `lifeboat evacuate NODE --deadline 2m` annotates the node and the controller evacuates it", async () => {
    await createDeployment({ name: "manual", replicas: 2, nodeGroup: "misc" });
    const node = await firstNodeHolding("manual");
    const samples = sampleDeployment("manual");

    const out = await run(process.execPath, [
      LIFEBOAT_BIN,
      "evacuate",
      node.name,
      "--deadline",
      "2m",
      "--kubeconfig",
      env.lab.kubeconfigPath,
    ]);
    assert.match(out.stdout, /annotated lifeboat\.dev\/evacuate=/);
    const annotated = (await env.lab.getNode(node.name)).metadata?.annotations?.["lifeboat.dev/evacuate"];
    assert.ok(
      annotated !== undefined && Date.parse(annotated) > Date.now(),
      `deadline annotation in the future: ${annotated}`,
    );

    const evac = await evacuationDone(node.name);
    await waitUntil("2 Ready manual pods again", async () => (await readyPodCount(env.lab, "manual")) === 2);
    const seen = await samples.stop();

    assert.equal(evac.spec.noticeKind, "manual");
    assert.equal(evac.spec.deadline, new Date(Date.parse(annotated)).toISOString());
    assert.deepEqual(evacuationMarks(await env.lab.getNode(node.name)), EVACUATED_MARKS);
    assert.deepEqual(await podsOfOn("manual", node.name), []);
    assert.equal(Math.min(...seen.map((s) => s.ready)), 2, "Ready replicas never below 2");
    assert.equal(await deploymentReplicas(env.lab, "manual"), 2);
    await env.lab.apps.deleteNamespacedDeployment({ name: "manual", namespace: NS });
  });

  it("bad input: a malformed message, an unknown detail-type and a foreign instance do not stop the next good warning", async () => {
    await createDeployment({ name: "misc", replicas: 1, nodeGroup: "misc" });
    const node = await firstNodeHolding("misc");
    const evacuationsBefore = (await env.evacuations()).length;
    const foreignInstance = "i-0000000000000dead";
    const countsBefore = await sqsCounts();

    await env.send("{not json");
    const unknown = {
      ...spotInterruptionWarning({ instanceId: node.instanceId, region: REGION }, new Date()),
      "detail-type": "EC2 Instance-launch Lifecycle Action",
    };
    await env.send(JSON.stringify(unknown));
    await env.send(
      JSON.stringify(spotInterruptionWarning({ instanceId: foreignInstance, region: REGION }, new Date())),
    );
    await env.sendSpotWarning(node);

    await evacuationDone(node.name);
    assert.ok(controller.running, "the controller is still running");
    const evs = await env.evacuations();
    assert.equal(evs.length, evacuationsBefore + 1, "one new Evacuation: the good warning's");
    assert.ok(
      !evs.some((e) => e.spec.instanceId === foreignInstance),
      "nothing recorded for the foreign instance",
    );
    await waitUntil("every message but the malformed one deleted", async () => {
      const d = await env.queueDepth();
      return d.visible + d.inFlight === 1;
    });

    // Each message counted by what it was and what became of it (the malformed one is kept, and counted
    // again whenever it comes back); a count follows its message's delete by a moment.
    const atLeast: Record<string, number> = {
      malformed: 1,
      unknown: 1,
      foreign: 1,
      accepted: 1,
      deleted: 3,
      kept: 1,
    };
    await waitFor(
      `the controller's counts to grow by at least ${JSON.stringify(atLeast)}`,
      async () => {
        const counts = await sqsCounts();
        const added = Object.fromEntries(
          Object.keys(atLeast).map((k) => [k, (counts[k] ?? 0) - (countsBefore[k] ?? 0)]),
        );
        if (Object.entries(atLeast).every(([k, n]) => (added[k] ?? 0) >= n)) return true;
        // Thrown, so that a timeout reports what was counted.
        throw new Error(`counted ${JSON.stringify(added)}`);
      },
      { timeoutMs: 15_000, alive: controller.assertRunning },
    );
    assert.deepEqual(await podsOfOn("misc", node.name), []);
  });
});
