import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeClock } from "../domain/clock.ts";
import { NotLeaderError } from "../leader/fence.ts";
import { createLogger } from "../observability/logger.ts";
import { SECOND, T0, aNode, anEvacuation } from "../../test/fixtures/snapshot-builders.ts";
import { SteeringKeeper } from "./steering-keeper.ts";

const nodes = ["a1", "a2", "a3"].map((name) =>
  aNode({ name, zone: "us-east-1a", labels: { "node.kubernetes.io/instance-type": "m5.xlarge" } }),
);
const evacuations = [
  anEvacuation({ name: "e1", nodeName: "a1", noticedAt: T0 }),
  anEvacuation({ name: "e2", nodeName: "a2", noticedAt: T0 + SECOND }),
];

function keeper(calls: string[], extra: { dryRun?: boolean; held?: boolean } = {}) {
  return new SteeringKeeper({
    nodes: () => nodes,
    evacuations: () => Promise.resolve(evacuations),
    actuator: {
      taint: (node, until) => {
        calls.push(`taint ${node} ${until}`);
        return Promise.resolve();
      },
      untaint: (node) => {
        calls.push(`untaint ${node}`);
        return Promise.resolve();
      },
    },
    settings: { threshold: 2, windowSeconds: 300, taintSeconds: 1800 },
    intervalSeconds: 5,
    clock: new FakeClock(T0 + 2 * SECOND),
    log: createLogger({ level: "silent" }),
    fence: {
      assertHeld: (action) => {
        if (extra.held === false) throw new NotLeaderError(action);
      },
    },
    dryRun: extra.dryRun ?? false,
  });
}

describe("SteeringKeeper", () => {
  test("taints the pool's other node until 30 min after the latest notice", async () => {
    const calls: string[] = [];
    await keeper(calls).once();
    assert.deepEqual(calls, [`taint a3 ${Math.ceil((T0 + SECOND + 1800 * SECOND) / 1000)}`]);
  });

  test("a dry run and a replica without the lease change nothing", async () => {
    const calls: string[] = [];
    const steps = await keeper(calls, { dryRun: true }).once();
    assert.equal(steps.length, 1);
    await assert.rejects(keeper(calls, { held: false }).once(), NotLeaderError);
    assert.deepEqual(calls, []);
  });
});
