/**
 * The Kubernetes mechanisms lifeboat relies on, asserted against the lab's real control plane (issue 2,
 * bullet 7). Plain client calls only, so these hold independently of lifeboat's own actuators. Waits poll
 * real time with a bound; nothing asserts on durations.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ApiException,
  DiscoveryV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from "@kubernetes/client-node";
import { startLab, type Lab } from "../../lab/lab.ts";
import { deployment, pdb, service } from "../../lab/workloads.ts";
import { waitFor } from "../helpers/wait.ts";

const NS = "default";
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const TIME_SCALE = 0.2;

/** A Deployment whose pods turn Ready within a few seconds in the lab. */
function fastDeployment(
  name: string,
  replicas: number,
  extra: { nodeGroups?: string[] } = {},
): ReturnType<typeof deployment> {
  return deployment({
    name,
    replicas,
    preStopSeconds: 1,
    terminationGracePeriodSeconds: 5,
    readiness: { initialDelaySeconds: 1, periodSeconds: 1, failureThreshold: 2 },
    timings: { pullSeconds: 1, startSeconds: 0 },
    ...extra,
  });
}

const isReady = (p: V1Pod): boolean =>
  p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
const isTerminating = (p: V1Pod): boolean => p.metadata?.deletionTimestamp != null;
const nameOf = (p: V1Pod): string => p.metadata?.name ?? "";

async function podsOf(lab: Lab, app: string): Promise<V1Pod[]> {
  return (await lab.core.listNamespacedPod({ namespace: NS, labelSelector: `app=${app}` })).items;
}

/** Waits until the app has exactly `n` live pods, all Ready, and returns them. */
async function readyPods(lab: Lab, app: string, n: number): Promise<V1Pod[]> {
  return waitFor(`${n} Ready pods of ${app}`, async () => {
    const live = (await podsOf(lab, app)).filter((p) => !isTerminating(p));
    return live.length === n && live.every(isReady) ? live : undefined;
  });
}

describe("Kubernetes mechanics on the lab's control plane", { timeout: 300_000 }, () => {
  let lab: Lab;

  before(async () => {
    lab = await startLab({
      timeScale: TIME_SCALE,
      nodeGroups: [
        { name: "spot-a", zone: "us-east-1a", count: 3 },
        { name: "spot-dying", zone: "us-east-1b", count: 1 },
      ],
    });
  });

  after(async () => {
    await lab[Symbol.asyncDispose]();
  });

  it("places a 6-replica Deployment on the simulated nodes with the real scheduler, and its pods become Ready", async () => {
    await lab.apps.createNamespacedDeployment({
      namespace: NS,
      body: fastDeployment("web", 6, { nodeGroups: ["spot-a"] }),
    });
    const pods = await readyPods(lab, "web", 6);
    const groupA = new Set(lab.nodesOf("spot-a").map((n) => n.name));
    for (const p of pods) {
      assert.ok(groupA.has(p.spec?.nodeName ?? ""), `${nameOf(p)} on ${String(p.spec?.nodeName)}`);
      assert.equal(p.status?.phase, "Running");
      assert.ok(p.status?.podIP !== undefined, `${nameOf(p)} has a pod IP`);
    }
    assert.ok(new Set(pods.map((p) => p.spec?.nodeName)).size >= 2, "the scheduler spreads the replicas");
  });

  it("cordon + Eviction API: the evicted pod's replacement lands on another node", async () => {
    const pods = await readyPods(lab, "web", 6);
    const victim = pods[0];
    assert.ok(victim !== undefined);
    const node = victim.spec?.nodeName ?? "";
    await lab.core.patchNode({ name: node, body: { spec: { unschedulable: true } } }, mergePatch);
    const before = new Set(pods.map(nameOf));
    await lab.core.createNamespacedPodEviction({
      name: nameOf(victim),
      namespace: NS,
      body: { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: nameOf(victim), namespace: NS } },
    });
    const replacement = await waitFor("a Ready replacement", async () =>
      (await podsOf(lab, "web")).find((p) => !before.has(nameOf(p)) && isReady(p)),
    );
    assert.notEqual(replacement.spec?.nodeName, node);
    await waitFor("the evicted pod to be gone", async () =>
      (await podsOf(lab, "web")).some((p) => nameOf(p) === nameOf(victim)) ? undefined : true,
    );
    await lab.core.patchNode({ name: node, body: { spec: { unschedulable: null } } }, mergePatch);
  });

  it("a PodDisruptionBudget that allows 0 disruptions makes the Eviction API answer 429", async () => {
    await lab.apps.createNamespacedDeployment({
      namespace: NS,
      body: fastDeployment("guarded", 2, { nodeGroups: ["spot-a"] }),
    });
    await lab.policy.createNamespacedPodDisruptionBudget({
      namespace: NS,
      body: pdb("guarded", { minAvailable: 2 }),
    });
    const [pod] = await readyPods(lab, "guarded", 2);
    assert.ok(pod !== undefined);
    await waitFor("the PDB status", async () => {
      const b = await lab.policy.readNamespacedPodDisruptionBudget({ name: "guarded", namespace: NS });
      return b.status?.currentHealthy === 2 && b.status.disruptionsAllowed === 0 ? b : undefined;
    });
    const refused = await lab.core
      .createNamespacedPodEviction({
        name: nameOf(pod),
        namespace: NS,
        body: { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: nameOf(pod), namespace: NS } },
      })
      .then(
        () => null,
        (err: unknown) => err,
      );
    assert.ok(refused instanceof ApiException, "the eviction is refused");
    assert.equal(refused.code, 429);
    assert.match(String(refused.body), /disruption budget/i);
    const still = await lab.core.readNamespacedPod({ name: nameOf(pod), namespace: NS });
    assert.ok(!isTerminating(still), "the pod is untouched");
  });

  it("scaling 7 -> 6 removes exactly the pod with the lowest pod-deletion-cost", async () => {
    await lab.apps.createNamespacedDeployment({
      namespace: NS,
      body: fastDeployment("costly", 7, { nodeGroups: ["spot-a"] }),
    });
    const pods = await readyPods(lab, "costly", 7);
    // The oldest pod: without the annotation the ReplicaSet would remove one of the newest.
    const chosen = [...pods].sort(
      (a, b) => Number(a.metadata?.creationTimestamp) - Number(b.metadata?.creationTimestamp),
    )[0];
    assert.ok(chosen !== undefined);
    await lab.core.patchNamespacedPod(
      {
        name: nameOf(chosen),
        namespace: NS,
        body: { metadata: { annotations: { "controller.kubernetes.io/pod-deletion-cost": "-100" } } },
      },
      mergePatch,
    );
    await lab.apps.patchNamespacedDeploymentScale(
      { name: "costly", namespace: NS, body: { spec: { replicas: 6 } } },
      mergePatch,
    );
    const removed = await waitFor("one pod to be removed", async () => {
      const now = await podsOf(lab, "costly");
      const gone = pods.filter((p) => !now.some((q) => nameOf(q) === nameOf(p) && !isTerminating(q)));
      return gone.length >= 1 ? gone : undefined;
    });
    assert.deepEqual(removed.map(nameOf), [nameOf(chosen)]);
    const live = (await podsOf(lab, "costly")).filter((p) => !isTerminating(p));
    assert.equal(live.length, 6);
    assert.ok(!live.some((p) => nameOf(p) === nameOf(chosen)));
  });

  it("a node whose heartbeats stop goes Unknown after the grace period and its pods get Ready=False", async (t) => {
    const [dying] = lab.nodesOf("spot-dying");
    assert.ok(dying !== undefined);
    await lab.apps.createNamespacedDeployment({
      namespace: NS,
      body: fastDeployment("doomed", 2, { nodeGroups: ["spot-dying"] }),
    });
    await lab.core.createNamespacedService({ namespace: NS, body: service("doomed") });
    const pods = await readyPods(lab, "doomed", 2);
    const slices = async (): Promise<
      { pod: string; ready?: boolean; serving?: boolean; terminating?: boolean }[]
    > =>
      (
        await lab.kubeConfig
          .makeApiClient(DiscoveryV1Api)
          .listNamespacedEndpointSlice({ namespace: NS, labelSelector: "kubernetes.io/service-name=doomed" })
      ).items.flatMap((s) =>
        (s.endpoints ?? []).map((e) => ({
          pod: e.targetRef?.name ?? "",
          ...(e.conditions?.ready === undefined ? {} : { ready: e.conditions.ready }),
          ...(e.conditions?.serving === undefined ? {} : { serving: e.conditions.serving }),
          ...(e.conditions?.terminating === undefined ? {} : { terminating: e.conditions.terminating }),
        })),
      );
    await waitFor("both endpoints ready", async () =>
      (await slices()).filter((e) => e.ready === true).length === 2 ? true : undefined,
    );

    await lab.killNode(dying.name);
    const node = await lab.waitForNode(
      dying.name,
      (n) => n.status?.conditions?.find((c) => c.type === "Ready")?.status === "Unknown",
      60_000,
    );
    t.diagnostic(
      `node Ready condition: ${JSON.stringify(node.status?.conditions?.find((c) => c.type === "Ready")?.reason)}`,
    );
    await waitFor("the node's pods to get Ready=False", async () => {
      const now = await Promise.all(
        pods.map((p) => lab.core.readNamespacedPod({ name: nameOf(p), namespace: NS })),
      );
      return now.every((p) => p.status?.conditions?.find((c) => c.type === "Ready")?.status === "False")
        ? now
        : undefined;
    });
    // What the EndpointSlice controller publishes for pods of an Unknown node (recorded for timings.md).
    const endpoints = await waitFor("the EndpointSlice to follow", async () => {
      const e = await slices();
      return e.length === 2 && e.every((x) => x.ready === false) ? e : undefined;
    });
    t.diagnostic(`EndpointSlice endpoints after the node went Unknown: ${JSON.stringify(endpoints)}`);
    assert.deepEqual(
      endpoints.map((e) => ({ ready: e.ready, terminating: e.terminating ?? false })),
      [
        { ready: false, terminating: false },
        { ready: false, terminating: false },
      ],
    );
  });
});
