/**
 * The executor's side of how an evacuation ends (issue 7 items 5, 6, 16): what it calls and records for a
 * PDB refusal at the last responsible moment, a give-up, a time to live that ran out. Fakes stand in for
 * the cluster, the store and the AWS call: failures no real part produces on cue.
 */
import assert from "node:assert/strict";
import { fakeActuator } from "../../test/fixtures/actuator.ts";
import { test } from "node:test";
import type { KubeActuator } from "../actuators/kube-actuator.ts";
import type { LifecycleActuatorLike } from "../actuators/aws/lifecycle.ts";
import { FakeClock } from "../domain/clock.ts";
import type { Evacuation } from "../domain/evacuation.ts";
import type { ClusterSnapshot, PodRef } from "../domain/snapshot.ts";
import type { StoredEvacuation } from "../state/evacuation-resource.ts";
import {
  aCordonedNode,
  aDeployment,
  aNode,
  aPdb,
  aPod,
  aSnapshot,
  aSurgeRecord,
  anEvacuation,
  SECOND,
  T0,
} from "../../test/fixtures/snapshot-builders.ts";
import { Reconciler } from "./reconciler.ts";
import type { EventSink } from "../actuators/ports.ts";
import { noObserver, reconcilerDeps } from "../../test/fixtures/reconciler-deps.ts";

type Emitted = Parameters<EventSink["emit"]>[0];
const HOOK = {
  autoScalingGroupName: "asg",
  lifecycleHookName: "hook",
  lifecycleActionToken: "token",
  instanceId: "i-0a0000",
};

function harness(o: {
  snapshot: ClusterSnapshot;
  evacuations: Evacuation[];
  now: number;
  evict?: KubeActuator["evict"];
  forceDelete?: KubeActuator["forceDelete"];
  lifecycle?: LifecycleActuatorLike;
}) {
  const stored = new Map<string, StoredEvacuation>(
    o.evacuations.map((e) => [
      e.name,
      { evacuation: e, lifecycleHook: HOOK, message: "", resourceVersion: "1" },
    ]),
  );
  const calls = {
    deleted: [] as PodRef[],
    forgotten: [] as string[],
    failed: 0,
    /** Each completion as the observer saw it: the slack to the deadline and whether it was missed. */
    done: [] as { slack: number | null; missed: boolean }[],
  };
  const clock = new FakeClock(o.now);
  const events: Emitted[] = [];
  const reconciler = new Reconciler(
    reconcilerDeps(
      {
        cluster: { snapshot: () => o.snapshot, nodeByInstanceId: () => null, nodeByName: () => null },
        store: {
          list: () => Promise.resolve([...stored.values()]),
          get: (name) => Promise.resolve(stored.get(name) ?? null),
          updateSpec: (s) => Promise.resolve(s),
          updateStatus: (s) => {
            stored.set(s.evacuation.name, s);
            return Promise.resolve(s);
          },
          delete: (name) => {
            calls.forgotten.push(name);
            stored.delete(name);
            return Promise.resolve();
          },
        },
        actuator: fakeActuator({
          overrides: {
            cordon: () => Promise.resolve({ kind: "done", changed: false }),
            taintPreferNoSchedule: () => Promise.resolve({ kind: "done", changed: false }),
            changeSurgeLedger: () => Promise.reject(new Error("not expected")),
            evict: o.evict ?? (() => Promise.resolve({ kind: "evicted" })),
            forceDelete: o.forceDelete ?? (() => Promise.reject(new Error("not expected"))),
            deletePod: (pod) => {
              calls.deleted.push(pod);
              return Promise.resolve({ kind: "deleted" });
            },
          },
        }),
      },
      {
        lifecycle: o.lifecycle ?? null,
        events: { emit: (e) => events.push(e) },
        observer: {
          ...noObserver,
          evacuationFailed: () => {
            calls.failed++;
          },
          noticeToDone: (_seconds, slack, missed) => {
            calls.done.push({ slack, missed });
          },
        },
        clock,
        evacuationTtlSeconds: 3600,
      },
    ),
  );
  return { reconciler, stored, calls, events, clock };
}

/** web-0 surged on node-a, its replacement not Ready; the LRM (T0 + 80 s) has come. */
function atLrm(disruptionsAllowed: number): ClusterSnapshot {
  return aSnapshot({
    nodes: [aCordonedNode(), aNode({ name: "node-b" })],
    pods: [
      aPod({ name: "web-0" }),
      aPod({ name: "web-4", nodeName: "node-b", createdAt: T0 + 2 * SECOND, ready: false }),
    ],
    workloads: [aDeployment({ specReplicas: 2, readyReplicas: 1 })],
    pdbs: [aPdb({ disruptionsAllowed })],
  });
}
const surging = anEvacuation({ phase: "Surging", surges: [aSurgeRecord()] });

test("at the LRM an eviction the PDB refuses after all is answered with a graceful delete and PdbOverridden", async () => {
  const h = harness({
    snapshot: atLrm(1), // the snapshot says one disruption is allowed; the API refuses anyway
    evacuations: [surging],
    now: T0 + 80 * SECOND,
    evict: () =>
      Promise.resolve({
        kind: "blocked-by-pdb",
        message: "Cannot evict pod as it would violate the pod's disruption budget.",
      }),
  });
  await h.reconciler.reconcileOnce();
  assert.deepEqual(h.calls.deleted, [{ namespace: "shop", name: "web-0" }]);
  const overridden = h.events.filter((e) => e.reason === "PdbOverridden");
  assert.equal(overridden.length, 1);
  assert.equal(overridden[0]?.type, "Warning");
  assert.deepEqual(overridden[0]?.object, { kind: "Pod", namespace: "shop", name: "web-0" });
  assert.deepEqual(
    h.stored.get("evac-node-a")?.evacuation.evictions.map((x) => `${x.pod.name} ${x.outcome}`),
    ["web-0 deleted"],
  );
});

test("at the LRM with a PDB that allows nothing, the pod is deleted without asking the Eviction API", async () => {
  const h = harness({
    snapshot: atLrm(0),
    evacuations: [surging],
    now: T0 + 80 * SECOND,
    evict: () => Promise.reject(new Error("the Eviction API is not asked")),
  });
  const result = await h.reconciler.reconcileOnce();
  assert.deepEqual(result.failures, []);
  assert.deepEqual(h.calls.deleted, [{ namespace: "shop", name: "web-0" }]);
  assert.match(h.events.find((e) => e.reason === "PdbOverridden")?.message ?? "", /shop\/web/);
});

for (const noticeKind of ["manual", "asg-lifecycle-terminate"] as const) {
  test(`${noticeKind}: at the LRM a PDB refusal is retried, not overridden; the hook is heartbeated, not completed`, async () => {
    const calls = { heartbeats: 0, completes: 0 };
    const h = harness({
      snapshot: atLrm(1), // the snapshot says one disruption is allowed; the API refuses anyway
      evacuations: [anEvacuation({ noticeKind, phase: "Surging", surges: [aSurgeRecord()] })],
      now: T0 + 80 * SECOND,
      evict: () => Promise.resolve({ kind: "blocked-by-pdb", message: "would violate the budget" }),
      lifecycle: {
        heartbeat: () => {
          calls.heartbeats++;
          return Promise.resolve({ kind: "done" });
        },
        complete: () => {
          calls.completes++;
          return Promise.resolve({ kind: "done" });
        },
      },
    });
    const result = await h.reconciler.reconcileOnce();
    assert.deepEqual(result.failures, []);
    assert.deepEqual(h.calls.deleted, [], "the budget holds: nothing deleted over it");
    assert.deepEqual(
      h.stored.get("evac-node-a")?.evacuation.evictions.map((x) => `${x.pod.name} ${x.outcome}`),
      ["web-0 blocked-by-pdb"],
    );
    const blocked = h.events.filter((e) => e.reason === "EvictionBlocked");
    assert.equal(blocked.length, 1);
    assert.match(blocked[0]?.message ?? "", /not certain/);
    assert.equal(h.events.filter((e) => e.reason === "PdbOverridden").length, 0);
    assert.deepEqual(calls, { heartbeats: 1, completes: 0 });
  });
}

test("a give-up completes the lifecycle action first; a failed call is retried without recording Failed twice", async () => {
  let completes = 0;
  const lifecycle: LifecycleActuatorLike = {
    heartbeat: () => Promise.resolve({ kind: "done" }),
    complete: (_hook, result) => {
      completes++;
      assert.equal(result, "CONTINUE");
      return completes === 1 ? Promise.reject(new Error("throttled")) : Promise.resolve({ kind: "done" });
    },
  };
  const h = harness({
    snapshot: aSnapshot({ nodes: [aCordonedNode()], pods: [aPod({ name: "web-0", deleting: true })] }),
    evacuations: [anEvacuation({ surges: [aSurgeRecord({ retiredAt: T0 + 40 * SECOND })] })],
    now: T0 + 1020 * SECOND,
    lifecycle,
  });
  await h.reconciler.reconcileOnce();
  assert.equal(
    h.stored.get("evac-node-a")?.evacuation.phase,
    "Cordoned",
    "not Failed while the hook is open",
  );
  assert.equal(h.calls.failed, 0);
  await h.reconciler.reconcileOnce();
  const e = h.stored.get("evac-node-a")?.evacuation;
  assert.equal(e?.phase, "Failed");
  assert.equal(e?.timeline.failedAt, T0 + 1020 * SECOND);
  assert.equal(h.calls.failed, 1);
  assert.equal(completes, 2);
  assert.deepEqual(
    h.events.filter((x) => x.reason === "EvacuationFailed").map((x) => `${x.type} ${x.object.kind}`),
    ["Warning Evacuation", "Warning Node"],
  );
});

test("a finished evacuation past its time to live is deleted, and no longer reported", async () => {
  const done = anEvacuation({ phase: "Done", timeline: { noticedAt: T0, doneAt: T0 + 100 * SECOND } });
  const h = harness({
    snapshot: aSnapshot({ nodes: [aNode()] }),
    evacuations: [done],
    now: T0 + 3700 * SECOND,
  });
  const result = await h.reconciler.reconcileOnce();
  assert.deepEqual(h.calls.forgotten, ["evac-node-a"]);
  assert.deepEqual(result.evacuations, []);
});

/**
 * Late means a pod still on the node when it died (issue 19 item 5), not a surge taken back late: the slack of
 * a Done evacuation is measured from when the last pod it moved left the node.
 */
const evictedAtLrm = {
  pod: { namespace: "shop", name: "web-0" },
  at: T0 + 80 * SECOND,
  outcome: "evicted" as const,
};

test("doomed pods that left at their LRM make the evacuation Done on time, though its surge was retired after the deadline", async () => {
  const h = harness({
    snapshot: aSnapshot({ nodes: [aCordonedNode()] }),
    evacuations: [
      anEvacuation({
        phase: "Retiring",
        // The replacement became Ready only after the deadline (T0 + 120 s): the surge was taken back then.
        surges: [aSurgeRecord({ retiredAt: T0 + 130 * SECOND })],
        evictions: [evictedAtLrm],
      }),
    ],
    now: T0 + 131 * SECOND,
  });
  await h.reconciler.reconcileOnce();
  assert.equal(h.stored.get("evac-node-a")?.evacuation.phase, "Done");
  assert.deepEqual(h.calls.done, [{ slack: 40, missed: false }]);
  assert.deepEqual(
    h.events.filter((e) => e.object.kind === "Evacuation").map((e) => e.reason),
    ["EvacuationDone"],
  );
});

test("a doomed pod the retire removed after the deadline is late: DeadlineMissed", async () => {
  const h = harness({
    snapshot: aSnapshot({ nodes: [aCordonedNode()] }),
    evacuations: [
      anEvacuation({ phase: "Retiring", surges: [aSurgeRecord({ retiredAt: T0 + 130 * SECOND })] }),
    ],
    now: T0 + 131 * SECOND,
  });
  await h.reconciler.reconcileOnce();
  assert.deepEqual(h.calls.done, [{ slack: -10, missed: true }]);
  assert.deepEqual(
    h.events.filter((e) => e.object.kind === "Evacuation").map((e) => e.reason),
    ["DeadlineMissed"],
  );
});

test("a pod evicted at its LRM and force-deleted once its instance went keeps the time it left: Done on time", async () => {
  const input = {
    // web-0 still runs its preStop when the instance is reported gone after the deadline.
    snapshot: aSnapshot({ nodes: [aCordonedNode()], pods: [aPod({ name: "web-0", deleting: true })] }),
    evacuations: [
      anEvacuation({
        phase: "Retiring",
        instanceGone: true,
        surges: [aSurgeRecord({ retiredAt: T0 + 90 * SECOND })],
        evictions: [evictedAtLrm],
      }),
    ],
    now: T0 + 125 * SECOND,
    forceDelete: () => Promise.resolve({ kind: "deleted" as const }),
  };
  const h = harness(input);
  await h.reconciler.reconcileOnce();
  assert.deepEqual(h.stored.get("evac-node-a")?.evacuation.evictions, [evictedAtLrm]);

  input.snapshot = aSnapshot({ nodes: [aCordonedNode()] });
  await h.clock.advance(1 * SECOND);
  await h.reconciler.reconcileOnce();
  assert.equal(h.stored.get("evac-node-a")?.evacuation.phase, "Done");
  assert.deepEqual(h.calls.done, [{ slack: 40, missed: false }]);
});
