/**
 * The reconciler's bookkeeping under failure injection no real part can do on cue: a status write that
 * conflicts right after a surge. Fakes stand in for the cluster, the actuator and the store.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { KubeActuator } from "../actuators/kube-actuator.ts";
import { fakeActuator } from "../../test/fixtures/actuator.ts";
import { oneEvacuationStore } from "../../test/fixtures/evacuation-store.ts";
import type { LedgerEntry } from "../domain/surge-ledger.ts";
import { FakeClock } from "../domain/clock.ts";
import type { WorkloadRef } from "../domain/snapshot.ts";
import type { StoredEvacuation } from "../state/evacuation-resource.ts";
import { EvacuationStoreError } from "../state/evacuation-store.ts";
import {
  aCordonedNode,
  aDeployment,
  aNode,
  aPod,
  aSnapshot,
  anEvacuation,
  T0,
} from "../../test/fixtures/snapshot-builders.ts";
import { Reconciler } from "./reconciler.ts";
import { POD_DELETION_COST_ANNOTATION } from "../domain/plan.ts";
import type { ClusterView } from "../actuators/ports.ts";
import { noObserver, reconcilerDeps } from "../../test/fixtures/reconciler-deps.ts";

/** A store holding one evacuation whose first status write conflicts (someone wrote it since it was read). */
class ConflictingOnceStore {
  stored: StoredEvacuation;
  writes = 0;
  #conflicted = false;
  constructor(initial: StoredEvacuation) {
    this.stored = initial;
  }
  list(): Promise<StoredEvacuation[]> {
    return Promise.resolve([this.stored]);
  }
  get(): Promise<StoredEvacuation | null> {
    // The other writer's version: same record, newer resourceVersion.
    return Promise.resolve({ ...this.stored, resourceVersion: "2" });
  }
  updateSpec(s: StoredEvacuation): Promise<StoredEvacuation> {
    this.stored = s;
    return Promise.resolve(s);
  }
  delete(): Promise<void> {
    return Promise.reject(new Error("not expected: nothing here has finished"));
  }
  updateStatus(s: StoredEvacuation): Promise<StoredEvacuation> {
    this.writes++;
    if (!this.#conflicted) {
      this.#conflicted = true;
      return Promise.reject(new EvacuationStoreError("update evacuation status: conflict", 409));
    }
    this.stored = { ...s, resourceVersion: String(Number(s.resourceVersion ?? "0") + 1) };
    return Promise.resolve(this.stored);
  }
}

test("a status write that conflicts after a surge keeps the surge record, so the next reconcile does not surge again", async () => {
  const snapshot = aSnapshot({
    nodes: [aCordonedNode(), aNode({ name: "node-b" })],
    pods: [aPod({ name: "web-0" }), aPod({ name: "web-1", nodeName: "node-b" })],
    workloads: [aDeployment({ specReplicas: 2, readyReplicas: 2 })],
  });
  const cluster: ClusterView = {
    snapshot: () => snapshot,
    nodeByInstanceId: () => null,
    nodeByName: () => null,
  };
  const store = new ConflictingOnceStore({
    evacuation: anEvacuation(),
    lifecycleHook: null,
    message: "",
    resourceVersion: "1",
  });
  const scales: { workload: WorkloadRef; by: number }[] = [];
  const reconciler = new Reconciler(
    reconcilerDeps(
      { cluster, store, actuator: fakeActuator({ scales }) },
      { clock: new FakeClock(T0 + 2_000) },
    ),
  );

  const first = await reconciler.reconcileOnce();
  assert.deepEqual(first.failures, [], "the surge is not reported as a failed step");
  assert.deepEqual(
    scales.map((s) => s.by),
    [1],
  );
  assert.equal(store.stored.evacuation.surges.length, 1, "the surge record survived the conflict");
  assert.deepEqual(store.stored.evacuation.surges[0]?.pods, ["web-0"]);
  assert.equal(store.stored.evacuation.phase, "Surging");

  await reconciler.reconcileOnce();
  assert.deepEqual(
    scales.map((s) => s.by),
    [1],
    "no second surge",
  );
});

/** A store whose status writes fail with a server error (not a conflict) while `failing` is set. */
class FailingStatusStore {
  stored: StoredEvacuation;
  failing = true;
  constructor(initial: StoredEvacuation) {
    this.stored = initial;
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
    if (this.failing) return Promise.reject(new EvacuationStoreError("update evacuation status: 500", 500));
    this.stored = s;
    return Promise.resolve(s);
  }
  delete(): Promise<void> {
    return Promise.reject(new Error("not expected: nothing here outlives its time to live"));
  }
}

function reconcilerWith(
  cluster: ClusterView,
  store: FailingStatusStore,
  actuator: KubeActuator,
  clock: FakeClock,
): Reconciler {
  return new Reconciler(reconcilerDeps({ cluster, store, actuator }, { clock }));
}

test("a status write that fails (500) after a surge: the next reconcile surges nothing, from a fresh or a stale view", async () => {
  const ledgers = new Map<string, LedgerEntry[]>();
  const scales: { workload: WorkloadRef; by: number }[] = [];
  let informerSeesLedger = false;
  const cluster: ClusterView = {
    snapshot: () =>
      aSnapshot({
        nodes: [aCordonedNode(), aNode({ name: "node-b" })],
        pods: [aPod({ name: "web-0" }), aPod({ name: "web-1", nodeName: "node-b" })],
        workloads: [
          aDeployment({
            specReplicas: 2,
            readyReplicas: 2,
            surgeLedger: informerSeesLedger ? (ledgers.get("Deployment/shop/web") ?? []) : [],
          }),
        ],
      }),
    nodeByInstanceId: () => null,
    nodeByName: () => null,
  };
  const store = new FailingStatusStore({
    evacuation: anEvacuation(),
    lifecycleHook: null,
    message: "",
    resourceVersion: "1",
  });
  const clock = new FakeClock(T0 + 2_000);
  const reconciler = reconcilerWith(cluster, store, fakeActuator({ scales, ledgers }), clock);

  const first = await reconciler.reconcileOnce().catch(() => null);
  assert.equal(first, null, "the final status write fails the reconcile");
  assert.deepEqual(
    scales.map((s) => s.by),
    [1],
  );
  assert.equal(store.stored.evacuation.surges.length, 0, "the status lost the surge record");

  // The informer has not seen the write yet: the planner surges again, the ledger makes it a no-op.
  await clock.advance(1_000);
  await reconciler.reconcileOnce().catch(() => null);
  assert.deepEqual(
    scales.map((s) => s.by),
    [1],
    "no second surge from a stale view",
  );

  // The informer has seen it: the record is recovered before planning and written once the API answers.
  informerSeesLedger = true;
  store.failing = false;
  await clock.advance(1_000);
  await reconciler.reconcileOnce();
  assert.deepEqual(
    scales.map((s) => s.by),
    [1],
    "no second surge",
  );
  assert.deepEqual(
    store.stored.evacuation.surges.map((s) => [s.id, s.pods, s.by, s.retiredAt]),
    [["evac-node-a/web-0", ["web-0"], 1, null]],
  );
  assert.equal(store.stored.evacuation.phase, "Surging");
});

test("a node the intake cordoned at receipt, not yet cordoned in the snapshot, is not measured or reported twice", async () => {
  const snapshot = aSnapshot({ nodes: [aNode(), aNode({ name: "node-b" })] });
  const cluster: ClusterView = {
    snapshot: () => snapshot,
    nodeByInstanceId: () => null,
    nodeByName: () => null,
  };
  const cordonedAt = T0 + 500;
  const store = oneEvacuationStore(
    anEvacuation({ phase: "Cordoned", timeline: { noticedAt: T0, cordonedAt } }),
  );
  const measured: number[] = [];
  const emitted: string[] = [];
  let cordons = 0;
  const reconciler = new Reconciler(
    reconcilerDeps(
      {
        cluster,
        store,
        actuator: fakeActuator({
          overrides: {
            cordon: () => {
              cordons++;
              return Promise.resolve({ kind: "done", changed: false });
            },
          },
        }),
      },
      {
        events: { emit: (e) => emitted.push(e.reason) },
        observer: { ...noObserver, noticeToCordon: (s) => measured.push(s) },
        clock: new FakeClock(T0 + 2_000),
      },
    ),
  );
  await reconciler.reconcileOnce();
  assert.equal(cordons, 1, "the planner still asks (its snapshot shows no cordon): the write finds it done");
  assert.deepEqual(measured, [], "notice-to-cordon was measured at receipt");
  assert.ok(!emitted.includes("Cordoned"), "and reported then");
  assert.equal(store.stored.evacuation.timeline.cordonedAt, cordonedAt, "the time of the first cordon stays");
});

test("the surge is one write (deletion costs follow it, after every surge); no scale-down until the snapshot shows the cost", async () => {
  const calls: string[] = [];
  let failMarks = false;
  const actuator = fakeActuator({
    overrides: {
      setDeletionCost: (pod) => {
        calls.push(`mark ${pod.name}`);
        return failMarks
          ? Promise.reject(new Error("etcdserver: request timed out"))
          : Promise.resolve({ kind: "patched" });
      },
    },
  });
  const ledgerWrite = actuator.changeSurgeLedger.bind(actuator);
  actuator.changeSurgeLedger = (workload, change) => {
    calls.push(change.kind);
    return ledgerWrite(workload, change);
  };
  let snapshot = aSnapshot({
    nodes: [aCordonedNode(), aNode({ name: "node-b" })],
    pods: [aPod({ name: "web-0" }), aPod({ name: "web-1", nodeName: "node-b" })],
    workloads: [aDeployment({ specReplicas: 2, readyReplicas: 2 })],
  });
  const store = oneEvacuationStore(anEvacuation());
  const clock = new FakeClock(T0 + 2_000);
  const reconciler = new Reconciler(
    reconcilerDeps(
      {
        cluster: { snapshot: () => snapshot, nodeByInstanceId: () => null, nodeByName: () => null },
        store,
        actuator,
      },
      { clock },
    ),
  );
  await reconciler.reconcileOnce();
  assert.deepEqual(calls, ["surge", "mark web-0"], "scale first, then the mark");

  // The replacement is Ready, but the mark failed and the snapshot shows no cost: marked again, no scale-down.
  calls.length = 0;
  failMarks = true;
  const replacementReady = [
    aPod({ name: "web-1", nodeName: "node-b" }),
    aPod({ name: "web-2", nodeName: "node-b", createdAt: T0 + 3_000 }),
  ];
  snapshot = aSnapshot({
    nodes: [aCordonedNode(), aNode({ name: "node-b" })],
    pods: [aPod({ name: "web-0" }), ...replacementReady],
    workloads: [aDeployment({ specReplicas: 3, readyReplicas: 3 })],
  });
  await clock.advance(20_000);
  const failed = await reconciler.reconcileOnce();
  assert.deepEqual(calls, ["mark web-0"], "no scale-down while the doomed pod lacks the cost");
  assert.equal(failed.failures[0]?.step.kind, "mark-doomed");
  assert.equal(store.stored.evacuation.surges[0]?.retiredAt, null);

  // The mark written (and not yet seen) is written again; the scale-down waits for the snapshot to show it.
  calls.length = 0;
  failMarks = false;
  await reconciler.reconcileOnce();
  assert.deepEqual(calls, ["mark web-0"]);
  snapshot = {
    ...snapshot,
    pods: [
      aPod({ name: "web-0", annotations: { [POD_DELETION_COST_ANNOTATION]: "-100000" } }),
      ...replacementReady,
    ],
  };
  calls.length = 0;
  await reconciler.reconcileOnce();
  assert.deepEqual(calls, ["retire"], "the ReplicaSet's informer has the cost too by now");
});
