/**
 * What the reconciler tells operators: the Events and metrics docs/metrics.md promises, emitted once, on the
 * right object, and not again when a step is retried. Fakes stand in for the cluster, actuators and store.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { KubeActuator } from "../actuators/kube-actuator.ts";
import { fakeActuator } from "../../test/fixtures/actuator.ts";
import type { LifecycleActuatorLike } from "../actuators/aws/lifecycle.ts";
import { FakeClock } from "../domain/clock.ts";
import type { Evacuation } from "../domain/evacuation.ts";
import type { ClusterSnapshot } from "../domain/snapshot.ts";
import type { StoredEvacuation } from "../state/evacuation-resource.ts";
import {
  aCordonedNode,
  aDeployment,
  aNode,
  aPod,
  aSnapshot,
  aSurgeRecord,
  anEvacuation,
  SECOND,
  T0,
} from "../../test/fixtures/snapshot-builders.ts";
import { Reconciler } from "./reconciler.ts";
import type { EventSink, EvacuationObserver } from "../actuators/ports.ts";
import { POD_DELETION_COST_ANNOTATION } from "../domain/plan.ts";
import { reconcilerDeps } from "../../test/fixtures/reconciler-deps.ts";

type Emitted = Parameters<EventSink["emit"]>[0];

class MemoryStore {
  stored: StoredEvacuation;
  constructor(evacuation: Evacuation, lifecycleHook: StoredEvacuation["lifecycleHook"] = null) {
    this.stored = { evacuation, lifecycleHook, message: "", resourceVersion: "1" };
  }
  list(): Promise<StoredEvacuation[]> {
    return Promise.resolve([this.stored]);
  }
  get(): Promise<StoredEvacuation | null> {
    return Promise.resolve(this.stored);
  }
  updateSpec(s: StoredEvacuation): Promise<StoredEvacuation> {
    this.stored = s;
    return Promise.resolve(s);
  }
  updateStatus(s: StoredEvacuation): Promise<StoredEvacuation> {
    this.stored = s;
    return Promise.resolve(s);
  }
  delete(): Promise<void> {
    return Promise.reject(new Error("not expected: nothing here outlives its time to live"));
  }
}

function harness(options: {
  snapshot: ClusterSnapshot;
  evacuation: Evacuation;
  now: number;
  kube?: Partial<KubeActuator>;
  lifecycle?: LifecycleActuatorLike;
  lifecycleHook?: StoredEvacuation["lifecycleHook"];
}) {
  const events: Emitted[] = [];
  const observed = { done: 0, missed: 0, errors: [] as string[], moved: [] as string[] };
  const observer: EvacuationObserver = {
    noticeToCordon: () => undefined,
    noticeToSurge: () => undefined,
    noticeToReplacementsReady: () => undefined,
    noticeToDone: (_s, _slack, missed) => {
      observed.done++;
      if (missed) observed.missed++;
    },
    evacuationFailed: () => undefined,
    podsMoved: (kind, method, count) => observed.moved.push(`${kind} ${method} ${count}`),
    eviction: () => undefined,
    actuatorError: (action) => observed.errors.push(action),
  };
  const store = new MemoryStore(options.evacuation, options.lifecycleHook ?? null);
  const clock = new FakeClock(options.now);
  const reconciler = new Reconciler(
    reconcilerDeps(
      {
        cluster: { snapshot: () => options.snapshot, nodeByInstanceId: () => null, nodeByName: () => null },
        store,
        actuator: fakeActuator({ overrides: options.kube ?? {} }),
      },
      { lifecycle: options.lifecycle ?? null, events: { emit: (e) => events.push(e) }, observer, clock },
    ),
  );
  const reasons = (): string[] => events.map((e) => `${e.reason} on ${e.object.kind}/${e.object.name}`);
  return { reconciler, events, observed, store, clock, reasons };
}

test("a failed call emits ActionFailed on the object and counts actuator_errors with the step's action", async () => {
  const h = harness({
    snapshot: aSnapshot({ nodes: [aNode()], pods: [aPod()], workloads: [aDeployment()] }),
    evacuation: anEvacuation({ phase: "Pending" }),
    now: T0 + 1 * SECOND,
    kube: { cordon: () => Promise.reject(new Error("connection refused")) },
  });
  const result = await h.reconciler.reconcileOnce();
  assert.equal(result.failures.length, 1);
  assert.deepEqual(h.observed.errors, ["cordon"]);
  const failed = h.events.filter((e) => e.reason === "ActionFailed");
  assert.equal(failed.length, 1);
  assert.deepEqual(failed[0]?.object, { kind: "Node", name: "node-a" });
  assert.equal(failed[0]?.type, "Warning");
  assert.match(failed[0]?.message ?? "", /connection refused/);
});

test("a failed ASG CompleteLifecycleAction is retried without counting the completion (or a missed deadline) again", async () => {
  let calls = 0;
  const lifecycle: LifecycleActuatorLike = {
    heartbeat: () => Promise.resolve({ kind: "done" }),
    complete: () => {
      calls++;
      return calls === 1 ? Promise.reject(new Error("throttled")) : Promise.resolve({ kind: "done" });
    },
  };
  const h = harness({
    // The node is empty: the evacuation completes, 10 s after its deadline.
    snapshot: aSnapshot({ nodes: [aCordonedNode()], pods: [], workloads: [] }),
    evacuation: anEvacuation(),
    now: T0 + 130 * SECOND,
    lifecycle,
    lifecycleHook: {
      autoScalingGroupName: "asg",
      lifecycleHookName: "hook",
      lifecycleActionToken: "token",
      instanceId: "i-0a0000",
    },
  });
  await h.reconciler.reconcileOnce();
  assert.equal(h.store.stored.evacuation.phase, "Cordoned", "not done while the hook is not completed");
  assert.deepEqual(h.observed.errors, ["lifecycle_complete"]);
  assert.equal(h.observed.done, 0);
  await h.reconciler.reconcileOnce();
  assert.equal(h.store.stored.evacuation.phase, "Done");
  assert.equal(calls, 2);
  assert.deepEqual({ done: h.observed.done, missed: h.observed.missed }, { done: 1, missed: 1 });
  assert.equal(h.events.filter((e) => e.reason === "DeadlineMissed").length, 1);
});

test("retiring a surge tells the Evacuation its replacements are Ready", async () => {
  const h = harness({
    snapshot: aSnapshot({
      nodes: [aCordonedNode(), aNode({ name: "node-b" })],
      pods: [
        // Marked after the surge (the scale-down waits until the cost is seen).
        aPod({ name: "web-0", annotations: { [POD_DELETION_COST_ANNOTATION]: "-100000" } }),
        aPod({ name: "web-9", nodeName: "node-b", createdAt: T0 + 2 * SECOND }),
      ],
      workloads: [aDeployment({ specReplicas: 2, readyReplicas: 2 })],
    }),
    evacuation: anEvacuation({ phase: "Surging", surges: [aSurgeRecord()] }),
    now: T0 + 40 * SECOND,
  });
  await h.reconciler.reconcileOnce();
  assert.ok(h.reasons().includes("Retired on Deployment/web"), h.reasons().join(", "));
  assert.ok(h.reasons().includes("ReplacementsReady on Evacuation/evac-node-a"), h.reasons().join(", "));
});

test("a prewarm's surge emits Prewarmed on the Evacuation", async () => {
  const h = harness({
    snapshot: aSnapshot({
      nodes: [aCordonedNode(), aNode({ name: "node-b" })],
      pods: [aPod({ name: "web-0" }), aPod({ name: "web-1", nodeName: "node-b" })],
      workloads: [aDeployment({ specReplicas: 2, readyReplicas: 2 })],
    }),
    evacuation: anEvacuation({ mode: "prewarm", deadline: null, noticeKind: "rebalance-recommendation" }),
    now: T0 + 1 * SECOND,
  });
  await h.reconciler.reconcileOnce();
  assert.ok(h.reasons().includes("SurgeCreated on Deployment/web"), h.reasons().join(", "));
  assert.ok(h.reasons().includes("Prewarmed on Evacuation/evac-node-a"), h.reasons().join(", "));
});

test("an eviction at the last responsible moment emits LastResponsibleMoment once per evacuation", async () => {
  const h = harness({
    // Surged, replacement not Ready, and the deadline 40 s away: past the LRM for a 25 s preStop.
    snapshot: aSnapshot({
      nodes: [aCordonedNode(), aNode({ name: "node-b" })],
      pods: [
        aPod({ name: "web-0" }),
        aPod({ name: "web-9", nodeName: "node-b", ready: false, createdAt: T0 + 2 * SECOND }),
      ],
      workloads: [aDeployment({ specReplicas: 2, readyReplicas: 1 })],
    }),
    evacuation: anEvacuation({ phase: "Surging", surges: [aSurgeRecord()] }),
    now: T0 + 80 * SECOND,
    kube: { evict: () => Promise.resolve({ kind: "blocked-by-pdb", message: "PDB" }) },
  });
  await h.reconciler.reconcileOnce();
  await h.reconciler.reconcileOnce();
  const lrm = h.events.filter((e) => e.reason === "LastResponsibleMoment");
  assert.equal(lrm.length, 1);
  assert.deepEqual(lrm[0]?.object, { kind: "Evacuation", name: "evac-node-a" });
});

test("an evicted pod is counted under its owner's kind, not as Other", async () => {
  const h = harness({
    snapshot: aSnapshot({
      nodes: [aCordonedNode()],
      pods: [aPod({ name: "db-0", owner: { kind: "StatefulSet", namespace: "shop", name: "db" } })],
      workloads: [],
    }),
    evacuation: anEvacuation(),
    now: T0 + 1 * SECOND,
  });
  await h.reconciler.reconcileOnce();
  assert.deepEqual(h.observed.moved, ["StatefulSet evict 1"]);
});
