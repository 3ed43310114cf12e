/**
 * The executor's side of releasing a StatefulSet pod of a stopped instance (issue 19 item 3): the node is
 * tainted out of service first (OutOfServiceTainted), and the pod is force-deleted only once the node shows
 * the taint.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fakeActuator } from "../../test/fixtures/actuator.ts";
import { oneEvacuationStore } from "../../test/fixtures/evacuation-store.ts";
import { reconcilerDeps } from "../../test/fixtures/reconciler-deps.ts";
import {
  SECOND,
  T0,
  aCordonedNode,
  aPod,
  aSnapshot,
  anEvacuation,
  ownedBy,
} from "../../test/fixtures/snapshot-builders.ts";
import type { EventSink } from "../actuators/ports.ts";
import { FakeClock } from "../domain/clock.ts";
import { EVACUATING_TAINT_KEY, OUT_OF_SERVICE_TAINT } from "../domain/plan.ts";
import type { ClusterSnapshot, PodRef } from "../domain/snapshot.ts";
import { Reconciler } from "./reconciler.ts";

test("a StatefulSet pod of a terminated instance: the node is tainted out of service, then the pod is released", async () => {
  const db = aPod({ name: "db-0", owner: ownedBy("StatefulSet", "db") });
  let snapshot: ClusterSnapshot = aSnapshot({ nodes: [aCordonedNode()], pods: [db] });
  const calls = { tainted: [] as string[], forceDeleted: [] as PodRef[] };
  const events: Parameters<EventSink["emit"]>[0][] = [];
  const store = oneEvacuationStore(
    anEvacuation({ instanceGone: true, instanceState: "terminated", phase: "Retiring" }),
  );
  const reconciler = new Reconciler(
    reconcilerDeps(
      {
        cluster: { snapshot: () => snapshot, nodeByInstanceId: () => null, nodeByName: () => null },
        store,
        actuator: fakeActuator({
          overrides: {
            taintOutOfService: (node) => {
              calls.tainted.push(node);
              return Promise.resolve({ kind: "done", changed: true });
            },
            forceDelete: (pod) => {
              calls.forceDeleted.push(pod);
              return Promise.resolve({ kind: "deleted" });
            },
          },
        }),
      },
      { clock: new FakeClock(T0 + 125 * SECOND), events: { emit: (e) => events.push(e) } },
    ),
  );

  const first = await reconciler.reconcileOnce();
  assert.deepEqual(first.failures, []);
  assert.deepEqual(calls, { tainted: ["node-a"], forceDeleted: [] });
  assert.deepEqual(
    events.map((e) => `${e.type} ${e.reason} ${e.object.kind}/${e.object.name}`),
    ["Warning OutOfServiceTainted Node/node-a"],
  );

  snapshot = aSnapshot({
    nodes: [
      aCordonedNode({
        taints: [{ key: EVACUATING_TAINT_KEY, effect: "NoSchedule" }, { ...OUT_OF_SERVICE_TAINT }],
      }),
    ],
    pods: [db],
  });
  await reconciler.reconcileOnce();
  assert.deepEqual(calls, { tainted: ["node-a"], forceDeleted: [{ namespace: "shop", name: "db-0" }] });
  assert.deepEqual(
    store.stored.evacuation.evictions.map((x) => `${x.pod.name} ${x.outcome}`),
    ["db-0 force-deleted"],
  );
});
