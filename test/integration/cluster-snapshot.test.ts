/**
 * The informer cache against the lab's real control plane: what the planner will read. Waits poll real time
 * with a bound; nothing asserts on durations.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  AutoscalingV2Api,
  PatchStrategy,
  setHeaderOptions,
  type V1StatefulSet,
} from "@kubernetes/client-node";
import { startLab, type Lab } from "../../lab/lab.ts";
import { deployment, pdb } from "../../lab/workloads.ts";
import { systemClock } from "../../src/domain/clock.ts";
import { EXPECTED_READY_ANNOTATION, type ClusterSnapshot, type PodView } from "../../src/domain/snapshot.ts";
import { ClusterCache, type ClusterChange } from "../../src/cluster/cluster-cache.ts";
import { RecordingLogger } from "../../src/cluster/logger.ts";
import { waitFor } from "../helpers/wait.ts";

/** Waits in this file: bounded as before, polled as before. */
const WAIT = { intervalMs: 100 };

const NS = "default";
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

function fastDeployment(
  name: string,
  replicas: number,
  annotations: Record<string, string> = {},
): ReturnType<typeof deployment> {
  const d = deployment({
    name,
    replicas,
    preStopSeconds: 3,
    terminationGracePeriodSeconds: 30,
    readiness: { initialDelaySeconds: 1, periodSeconds: 1, failureThreshold: 2 },
    timings: { pullSeconds: 1 },
    cpuRequest: "300m",
    memoryRequest: "128Mi",
  });
  if (d.metadata !== undefined) d.metadata.annotations = annotations;
  return d;
}

/** A StatefulSet with the Deployment fixture's pod template. */
function statefulSet(name: string, replicas: number): V1StatefulSet {
  const template = fastDeployment(name, replicas).spec;
  assert.ok(template !== undefined);
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, namespace: NS },
    spec: { serviceName: name, replicas, selector: template.selector, template: template.template },
  };
}

const podsOwnedBy = (s: ClusterSnapshot, kind: string, name: string): PodView[] =>
  s.pods.filter((p) => p.owner?.kind === kind && p.owner.name === name && !p.deleting);

describe("ClusterCache on the lab's control plane", { timeout: 240_000 }, () => {
  let lab: Lab;
  let cache: ClusterCache;
  const log = new RecordingLogger();
  const changes: ClusterChange[] = [];

  before(async () => {
    lab = await startLab({
      timeScale: 0.2,
      nodeGroups: [
        { name: "spot-a", zone: "us-east-1a", count: 2 },
        { name: "spot-b", zone: "us-east-1b", count: 1 },
      ],
    });
    cache = new ClusterCache({ kubeConfig: lab.kubeConfig, clock: systemClock, log });
    cache.onChange((c) => changes.push(c));
    await cache.start();
    await cache.synced;
  });

  after(async () => {
    await cache.stop();
    await lab[Symbol.asyncDispose]();
  });

  it("indexes every node by its EC2 instance id and reads its group, zone and allocatable", () => {
    const snapshot = cache.snapshot(systemClock.now());
    assert.equal(snapshot.nodes.length, 3);
    for (const labNode of lab.nodes) {
      const view = cache.nodeByInstanceId(labNode.instanceId);
      assert.ok(view !== null, `node of ${labNode.instanceId}`);
      assert.equal(view.name, labNode.name);
      assert.equal(view.nodeGroup, labNode.nodeGroup);
      assert.equal(view.zone, labNode.zone);
      assert.equal(view.ready, true);
      assert.equal(view.unschedulable, false);
      assert.equal(view.allocatable.cpuMilli, 3920);
      assert.equal(view.allocatable.pods, 58);
    }
    assert.equal(cache.nodeByInstanceId("i-00000000000000000"), null);
  });

  it("resolves owners, readiness, preStop and requests of Deployment and StatefulSet pods, with HPA and learned time to Ready", async () => {
    await lab.apps.createNamespacedDeployment({ namespace: NS, body: fastDeployment("web", 6) });
    await lab.apps.createNamespacedDeployment({
      namespace: NS,
      body: fastDeployment("annotated", 1, { [EXPECTED_READY_ANNOTATION]: "42" }),
    });
    await lab.apps.createNamespacedStatefulSet({ namespace: NS, body: statefulSet("db", 2) });
    await lab.kubeConfig.makeApiClient(AutoscalingV2Api).createNamespacedHorizontalPodAutoscaler({
      namespace: NS,
      body: {
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: { name: "web", namespace: NS },
        spec: {
          scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
          minReplicas: 2,
          maxReplicas: 10,
        },
      },
    });

    const snapshot = await waitFor(
      "6 Ready web pods, 2 Ready db pods and the HPA in the snapshot",
      () => {
        const s = cache.snapshot(systemClock.now());
        const web = s.workloads.find((w) => w.ref.name === "web");
        const ok =
          podsOwnedBy(s, "Deployment", "web").filter((p) => p.ready).length === 6 &&
          podsOwnedBy(s, "StatefulSet", "db").filter((p) => p.ready).length === 2 &&
          web?.readyReplicas === 6 &&
          web.hpa !== null;
        return ok ? s : undefined;
      },
      WAIT,
    );

    const labNodes = new Set(lab.nodes.map((n) => n.name));
    for (const pod of podsOwnedBy(snapshot, "Deployment", "web")) {
      assert.ok(labNodes.has(pod.nodeName ?? ""), `${pod.name} bound to a lab node`);
      assert.equal(pod.phase, "Running");
      assert.ok(pod.readyAt !== null && pod.readyAt >= pod.createdAt);
      assert.equal(pod.preStopSeconds, 3);
      assert.equal(pod.terminationGracePeriodSeconds, 30);
      assert.deepEqual(pod.requests, { cpuMilli: 300, memoryBytes: 128 * 2 ** 20 });
      assert.equal(pod.mirror, false);
    }
    const web = snapshot.workloads.find((w) => w.ref.kind === "Deployment" && w.ref.name === "web");
    assert.ok(web !== undefined);
    assert.equal(web.specReplicas, 6);
    assert.deepEqual(web.hpa, { min: 2, max: 10 });
    assert.ok(
      web.expectedReadySeconds !== null && web.expectedReadySeconds >= 0,
      "learned from the Ready pods",
    );
    assert.equal(snapshot.workloads.find((w) => w.ref.name === "annotated")?.expectedReadySeconds, 42);
    const db = snapshot.workloads.find((w) => w.ref.kind === "StatefulSet" && w.ref.name === "db");
    assert.equal(db?.specReplicas, 2);
    assert.equal(db.hpa, null);
  });

  it("reads PDBs with matchLabels and leaves out (and logs) those with matchExpressions", async () => {
    await lab.policy.createNamespacedPodDisruptionBudget({
      namespace: NS,
      body: pdb("web", { maxUnavailable: 1 }),
    });
    const expressions = pdb("db", { maxUnavailable: 1 });
    expressions.metadata = { name: "db-expr", namespace: NS };
    if (expressions.spec !== undefined)
      expressions.spec.selector = { matchExpressions: [{ key: "app", operator: "In", values: ["db"] }] };
    await lab.policy.createNamespacedPodDisruptionBudget({ namespace: NS, body: expressions });
    const view = await waitFor(
      "the web PDB with its status",
      () => {
        const s = cache.snapshot(systemClock.now());
        return s.pdbs.find((p) => p.name === "web" && p.disruptionsAllowed === 1);
      },
      WAIT,
    );
    assert.deepEqual(view, {
      namespace: NS,
      name: "web",
      matchLabels: { app: "web" },
      disruptionsAllowed: 1,
    });
    await waitFor(
      "the db-expr PDB to reach the cache",
      () =>
        changes.some((c) => c.resource === "poddisruptionbudgets" && c.name === "db-expr") ? true : undefined,
      WAIT,
    );
    assert.equal(
      cache.snapshot(systemClock.now()).pdbs.some((p) => p.name === "db-expr"),
      false,
    );
    assert.ok(
      log.records.some((r) => r.level === "info" && r.obj["pdb"] === "default/db-expr"),
      "the PDB left out is reported, once, by name",
    );
  });

  it("follows node changes: a new node is indexed, a cordon shows up, and each change is reported", async () => {
    const added = await lab.addNode({ nodeGroup: "spot-b", zone: "us-east-1b" });
    const view = await waitFor(
      "the new node in the index",
      () => cache.nodeByInstanceId(added.instanceId) ?? undefined,
      WAIT,
    );
    assert.equal(view.name, added.name);
    assert.ok(changes.some((c) => c.resource === "nodes" && c.type === "add" && c.name === added.name));

    await lab.core.patchNode({ name: added.name, body: { spec: { unschedulable: true } } }, mergePatch);
    await waitFor(
      "the cordon in the snapshot",
      () => (cache.nodeByName(added.name)?.unschedulable === true ? true : undefined),
      WAIT,
    );

    await lab.core.deleteNode({ name: added.name });
    await waitFor(
      "the deleted node out of the index",
      () => (cache.nodeByInstanceId(added.instanceId) === null ? true : undefined),
      WAIT,
    );
    assert.ok(changes.some((c) => c.resource === "nodes" && c.type === "delete" && c.name === added.name));
    assert.deepEqual(cache.failures(), {
      nodes: 0,
      pods: 0,
      replicasets: 0,
      deployments: 0,
      statefulsets: 0,
      poddisruptionbudgets: 0,
      horizontalpodautoscalers: 0,
    });
  });
});
