import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeClock } from "../domain/clock.ts";
import type { HeadroomActuatorLike } from "../actuators/kube/headroom.ts";
import type { PlaceholderSet } from "../domain/headroom.ts";
import { NotLeaderError } from "../leader/fence.ts";
import { createLogger } from "../observability/logger.ts";
import { aNode, aPod, aSnapshot } from "../../test/fixtures/snapshot-builders.ts";
import { HeadroomKeeper } from "./headroom-keeper.ts";

class RecordingActuator implements HeadroomActuatorLike {
  readonly calls: string[] = [];
  existing: string[] = [];
  ensurePriorityClass() {
    this.calls.push("priority-class");
    return Promise.resolve("created" as const);
  }
  apply(set: PlaceholderSet) {
    this.calls.push(`apply ${set.name} x${set.replicas}`);
    return Promise.resolve("created" as const);
  }
  list() {
    return Promise.resolve(this.existing);
  }
  remove(name: string) {
    this.calls.push(`remove ${name}`);
    return Promise.resolve();
  }
}

/** Two full nodes of group spot (one pod each), and a node group that runs nothing lifeboat surges. */
const snapshot = aSnapshot({
  nodes: [
    aNode({ name: "n1", labels: { "eks.amazonaws.com/nodegroup": "spot" } }),
    aNode({ name: "n2", labels: { "eks.amazonaws.com/nodegroup": "spot" } }),
  ],
  pods: [aPod({ name: "web-0", nodeName: "n1" }), aPod({ name: "web-1", nodeName: "n2" })],
});

function keeper(actuator: RecordingActuator, extra: { dryRun?: boolean; held?: boolean } = {}) {
  return new HeadroomKeeper({
    snapshot: () => snapshot,
    actuator,
    settings: { nodes: 1, scope: "node-group", cpuMilli: null, memoryBytes: null },
    intervalSeconds: 15,
    clock: new FakeClock(0),
    log: createLogger({ level: "silent" }),
    fence: {
      assertHeld: (action) => {
        if (extra.held === false) throw new NotLeaderError(action);
      },
    },
    dryRun: extra.dryRun ?? false,
  });
}

describe("HeadroomKeeper", () => {
  test("creates the PriorityClass once, applies the planned set, removes sets no longer planned", async () => {
    const actuator = new RecordingActuator();
    actuator.existing = ["lifeboat-headroom-ng-spot", "lifeboat-headroom-ng-gone"];
    const k = keeper(actuator);
    await k.once();
    await k.once();
    assert.deepEqual(actuator.calls, [
      "priority-class",
      "apply lifeboat-headroom-ng-spot x1",
      "remove lifeboat-headroom-ng-gone",
      "apply lifeboat-headroom-ng-spot x1",
      "remove lifeboat-headroom-ng-gone",
    ]);
  });

  test("a dry run writes nothing", async () => {
    const actuator = new RecordingActuator();
    actuator.existing = ["lifeboat-headroom-ng-gone"];
    const plan = await keeper(actuator, { dryRun: true }).once();
    assert.equal(plan.sets.length, 1);
    assert.deepEqual(actuator.calls, []);
  });

  test("a replica that lost its lease writes nothing", async () => {
    const actuator = new RecordingActuator();
    await assert.rejects(keeper(actuator, { held: false }).once(), NotLeaderError);
    assert.deepEqual(actuator.calls, []);
  });
});
