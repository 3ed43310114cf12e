/**
 * An AZ-wide reclaim plans many independent cordons and surges in one reconcile: they run concurrently,
 * group by group, so every cordon still ends before any surge starts (the plan's order), and the
 * surges' status writes follow once per evacuation, not once per surge.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setImmediate as tick } from "node:timers/promises";
import type { KubeActuator, LedgerOutcome } from "../actuators/kube-actuator.ts";
import { FakeClock } from "../domain/clock.ts";
import type { WorkloadRef } from "../domain/snapshot.ts";
import type { StoredEvacuation } from "../state/evacuation-resource.ts";
import {
  aCordonedNode,
  aDeployment,
  aNode,
  aPod,
  aSnapshot,
  anEvacuation,
  ownedBy,
  T0,
} from "../../test/fixtures/snapshot-builders.ts";
import { forEachConcurrently } from "./concurrency.ts";
import { groupsOfKind, Reconciler, SURGE_TURN_MS } from "./reconciler.ts";
import type { ClusterView } from "../actuators/ports.ts";
import { fakeActuator } from "../../test/fixtures/actuator.ts";
import { oneEvacuationStore } from "../../test/fixtures/evacuation-store.ts";
import { reconcilerDeps } from "../../test/fixtures/reconciler-deps.ts";

test("cordons run together, then surges run together, then one status write per evacuation", async () => {
  const doomed = ["a", "b", "c", "d"];
  const snapshot = aSnapshot({
    nodes: [
      ...doomed.map((n) => aNode({ name: `node-${n}` })),
      aNode({ name: "spare-1" }),
      aNode({ name: "spare-2" }),
    ],
    // Each doomed node holds one pod of each of two Deployments: web-1 and web-2 on every node.
    pods: doomed.flatMap((n) =>
      [1, 2].map((w) =>
        aPod({ name: `web-${w}-${n}`, nodeName: `node-${n}`, owner: ownedBy("Deployment", `web-${w}`) }),
      ),
    ),
    workloads: [1, 2].map((w) =>
      aDeployment({ ref: ownedBy("Deployment", `web-${w}`), specReplicas: 8, readyReplicas: 8 }),
    ),
  });
  const cluster: ClusterView = {
    snapshot: () => snapshot,
    nodeByInstanceId: () => null,
    nodeByName: () => null,
  };
  const stored = new Map<string, StoredEvacuation>(
    doomed.map((n) => [
      `evac-node-${n}`,
      {
        evacuation: anEvacuation({ nodeName: `node-${n}`, phase: "Pending" }),
        lifecycleHook: null,
        message: "",
        resourceVersion: "1",
      },
    ]),
  );
  const statusWrites: string[] = [];
  let writesInFlight = 0;
  let writesPeak = 0;
  const store = {
    list: () => Promise.resolve([...stored.values()]),
    get: (name: string) => Promise.resolve(stored.get(name) ?? null),
    updateSpec: (s: StoredEvacuation) => Promise.resolve(s),
    updateStatus: async (s: StoredEvacuation) => {
      writesInFlight++;
      writesPeak = Math.max(writesPeak, writesInFlight);
      await tick();
      writesInFlight--;
      statusWrites.push(s.evacuation.name);
      stored.set(s.evacuation.name, s);
      return s;
    },
    delete: () => Promise.resolve(),
  };
  const trace: string[] = [];
  let inFlight = 0;
  const peak = { cordon: 0, surge: 0 };
  const call = async (kind: "cordon" | "surge", what: string): Promise<void> => {
    inFlight++;
    peak[kind] = Math.max(peak[kind], inFlight);
    trace.push(`${kind} start ${what}`);
    await tick();
    await tick();
    trace.push(`${kind} end ${what}`);
    inFlight--;
  };
  const ledgers = fakeActuator();
  const actuator: KubeActuator = fakeActuator({
    overrides: {
      cordon: async (node) => {
        await call("cordon", node);
        return { kind: "done", changed: true };
      },
      changeSurgeLedger: async (workload, change): Promise<LedgerOutcome> => {
        await call("surge", workload.name);
        return ledgers.changeSurgeLedger(workload, change);
      },
    },
  });
  const reconciler = new Reconciler(reconcilerDeps({ cluster, store, actuator }));
  const result = await reconciler.reconcileOnce();
  assert.deepEqual(result.failures, []);
  assert.equal(peak.cordon, 4, "the four cordons were in flight together");
  assert.equal(peak.surge, 2, "the two surges were in flight together");
  const lastCordonEnd = trace.findLastIndex((t) => t.startsWith("cordon end"));
  const firstSurgeStart = trace.findIndex((t) => t.startsWith("surge start"));
  assert.ok(
    firstSurgeStart > lastCordonEnd,
    `every cordon ends before any surge starts: ${trace.join(", ")}`,
  );
  assert.deepEqual(
    [...statusWrites].sort(),
    doomed.map((n) => `evac-node-${n}`),
    "one status write per evacuation (not one per surge and evacuation)",
  );
  assert.equal(writesPeak, 4, "the four status writes were in flight together");
  for (const n of doomed)
    assert.equal(stored.get(`evac-node-${n}`)?.evacuation.surges.length, 2, `node-${n}: both surge records`);
});

test("groupsOfKind keeps the plan's order; forEachConcurrently bounds the work in flight and reports the first error", async () => {
  const kinds = ["cordon", "cordon", "surge", "surge", "surge", "retire"].map((kind) => ({ kind }));
  assert.deepEqual(
    groupsOfKind(kinds as never).map((g) => g.length),
    [2, 3, 1],
  );
  let inFlight = 0;
  let peak = 0;
  const seen: number[] = [];
  await assert.rejects(
    forEachConcurrently([1, 2, 3, 4, 5, 6, 7], 3, async (i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await tick();
      inFlight--;
      seen.push(i);
      if (i === 2) throw new Error("two failed");
    }),
    /two failed/,
  );
  assert.equal(peak, 3);
  assert.deepEqual([...seen].sort(), [1, 2, 3, 4, 5, 6, 7], "a failure does not stop the others");
});

test("a notice waiting to be recorded stops the reconcile after its cordons; the next one surges", async () => {
  const snapshot = aSnapshot({
    nodes: [aNode({ name: "node-a" }), aNode({ name: "spare" })],
    pods: [aPod({ name: "web-1-a", nodeName: "node-a", owner: ownedBy("Deployment", "web-1") })],
    workloads: [aDeployment({ ref: ownedBy("Deployment", "web-1"), specReplicas: 2, readyReplicas: 2 })],
  });
  const store = oneEvacuationStore(anEvacuation({ nodeName: "node-a", phase: "Pending" }));
  const calls: string[] = [];
  let waiting = true;
  const reconciler = new Reconciler(
    reconcilerDeps(
      {
        cluster: { snapshot: () => snapshot, nodeByInstanceId: () => null, nodeByName: () => null },
        store,
        actuator: fakeActuator({
          overrides: {
            cordon: (node) => {
              calls.push(`cordon ${node}`);
              return Promise.resolve({ kind: "done", changed: true });
            },
            // A fresh ledger per call: every surge the reconciler asks for writes.
            changeSurgeLedger: (workload, change) => {
              calls.push(`surge ${workload.name}`);
              return fakeActuator().changeSurgeLedger(workload, change);
            },
          },
        }),
      },
      { noticeWaiting: () => waiting },
    ),
  );
  await reconciler.reconcileOnce();
  assert.deepEqual(calls, ["cordon node-a"], "cordoned, then left the surge to the next reconcile");
  assert.ok(store.stored.evacuation.timeline.cordonedAt !== undefined, "the cordon is recorded");
  waiting = false;
  await reconciler.reconcileOnce();
  assert.ok(calls.includes("surge web-1"), `the next reconcile surges: ${calls.join(", ")}`);
});

/**
 * One cordoned doomed node holding a pod of each of `count` Deployments, its Evacuation, and a reconciler over
 * them whose notice intake says a notice waits while `waiting()` holds. Each surge takes `surgeMs` of the
 * clock (an API server's answer time).
 */
function surgesWhileNoticeWaits(opts: { count: number; surgeMs: number; waiting: () => boolean }): {
  reconciler: Reconciler;
  surged: () => string[];
  marked: Set<string>;
  recorded: () => number;
} {
  const names = Array.from({ length: opts.count }, (_, i) => `web-${i}`);
  const snapshot = aSnapshot({
    nodes: [aCordonedNode({ name: "node-a" }), aNode({ name: "spare" })],
    pods: names.map((n) => aPod({ name: `${n}-a`, nodeName: "node-a", owner: ownedBy("Deployment", n) })),
    workloads: names.map((n) =>
      aDeployment({ ref: ownedBy("Deployment", n), specReplicas: 2, readyReplicas: 2 }),
    ),
  });
  const store = oneEvacuationStore(anEvacuation({ nodeName: "node-a" }));
  const scales: { workload: WorkloadRef; by: number }[] = [];
  const marked = new Set<string>();
  const clock = new FakeClock(T0 + 1_000);
  const actuator = fakeActuator({
    scales,
    overrides: {
      setDeletionCost: (pod) => {
        marked.add(pod.name);
        return Promise.resolve({ kind: "patched" });
      },
    },
  });
  const reconciler = new Reconciler(
    reconcilerDeps(
      {
        cluster: { snapshot: () => snapshot, nodeByInstanceId: () => null, nodeByName: () => null },
        store,
        actuator: {
          ...actuator,
          changeSurgeLedger: async (workload, change) => {
            await clock.advance(opts.surgeMs);
            return actuator.changeSurgeLedger(workload, change);
          },
        },
      },
      { clock, noticeWaiting: opts.waiting },
    ),
  );
  return {
    reconciler,
    surged: () => scales.filter((x) => x.by > 0).map((x) => x.workload.name),
    marked,
    recorded: () => store.stored.evacuation.surges.length,
  };
}

test("a waiting notice does not stop surges within their turn (its node is cordoned at receipt); the marks after them stop after their first 16", async () => {
  let waiting = true;
  const run = surgesWhileNoticeWaits({ count: 20, surgeMs: 0, waiting: () => waiting });
  await run.reconciler.reconcileOnce();
  assert.equal(new Set(run.surged()).size, 20, "every surge, although a notice waits");
  assert.equal(run.recorded(), 20, "and their records written");
  assert.equal(run.marked.size, 16, "the first 16 marks, then the waiting notice's turn");
  waiting = false;
  await run.reconciler.reconcileOnce();
  assert.equal(run.marked.size, 20, "the next reconcile marks the rest");
  assert.equal(run.surged().length, 20, "and surges nothing again");
});

test(`a waiting notice stops a group of surges once it has had its turn (${SURGE_TURN_MS} ms); the next reconcile surges the rest, none twice`, async () => {
  let waiting = true;
  // 40 surges of 200 ms each, 16 at a time: the turn is over while the first 16 are still running.
  const run = surgesWhileNoticeWaits({ count: 40, surgeMs: 200, waiting: () => waiting });
  await run.reconciler.reconcileOnce();
  assert.equal(run.surged().length, 16, "the first 16 surges, then the waiting notice's turn");
  assert.equal(run.recorded(), 16, "their records written before the notice is recorded");
  assert.equal(run.marked.size, 0, "no marks: the plan stopped at the surges");
  waiting = false;
  await run.reconciler.reconcileOnce();
  assert.equal(new Set(run.surged()).size, 40, "the next reconcile surges the other 24");
  assert.equal(run.surged().length, 40, "and none twice");
});

test("evictions at the last responsible moment run together, and a waiting notice does not hold them back", async () => {
  // Twenty StatefulSet pods on a doomed node past its LRM: twenty evictions in one group.
  const pods = Array.from({ length: 20 }, (_, i) =>
    aPod({ name: `db-${i}`, owner: ownedBy("StatefulSet", "db"), labels: { app: "db" } }),
  );
  const snapshot = aSnapshot({ nodes: [aCordonedNode(), aNode({ name: "node-b" })], pods });
  const store = oneEvacuationStore(anEvacuation());
  let inFlight = 0;
  let peak = 0;
  const evicted: string[] = [];
  const reconciler = new Reconciler(
    reconcilerDeps(
      {
        cluster: { snapshot: () => snapshot, nodeByInstanceId: () => null, nodeByName: () => null },
        store,
        actuator: fakeActuator({
          overrides: {
            evict: async (pod) => {
              inFlight++;
              peak = Math.max(peak, inFlight);
              await tick();
              await tick();
              inFlight--;
              evicted.push(pod.name);
              return { kind: "evicted" };
            },
          },
        }),
      },
      { clock: new FakeClock(T0 + 100_000), noticeWaiting: () => true },
    ),
  );
  const result = await reconciler.reconcileOnce();
  assert.deepEqual(result.failures, []);
  assert.equal(evicted.length, 20, "every eviction ran although a notice was waiting");
  assert.equal(peak, 16, "sixteen at a time");
  assert.equal(store.stored.evacuation.evictions.length, 20, "each recorded in the status");
});
