/**
 * The early node's record and its capacity change (issue 20, item 7), against a fake Auto Scaling group that
 * answers the four calls the actuator makes. `meanwhile` is another writer (the autoscaler) acting between
 * lifeboat's read of the group and its write. test/integration/early-node.test.ts runs the same calls
 * against moto.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CreateOrUpdateTagsCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  SetDesiredCapacityCommand,
  type AutoScalingClient,
} from "@aws-sdk/client-auto-scaling";
import {
  EARLY_NODE_TAG,
  EARLY_NODE_TAG_PREFIX,
  EarlyNodeActuator,
  raiseTarget,
  requested,
  TAG_VALUE_MAX,
  withRequest,
  type RaiseDecision,
} from "./early-node.ts";

const GROUP = "eks-spot";
const DOOMED = "i-0aaa";

/** One Auto Scaling group holding DOOMED, with its tags and the writes made to it. */
class FakeGroup {
  desired: number;
  readonly max: number;
  readonly tags = new Map<string, string>();
  readonly desiredWrites: number[] = [];
  /** Runs once, right after lifeboat's first write to the group (its record of the request). */
  meanwhile: (() => void) | null = null;

  constructor(desired: number, max: number) {
    this.desired = desired;
    this.max = max;
  }

  get client(): AutoScalingClient {
    const send = (command: unknown): Promise<unknown> => {
      if (command instanceof DescribeAutoScalingInstancesCommand) {
        const mine = command.input.InstanceIds?.includes(DOOMED) === true;
        return Promise.resolve({
          AutoScalingInstances: mine ? [{ InstanceId: DOOMED, AutoScalingGroupName: GROUP }] : [],
        });
      }
      if (command instanceof DescribeAutoScalingGroupsCommand) {
        return Promise.resolve({
          AutoScalingGroups: [
            {
              AutoScalingGroupName: GROUP,
              MinSize: 0,
              MaxSize: this.max,
              DesiredCapacity: this.desired,
              Tags: [...this.tags].map(([Key, Value]) => ({ Key, Value, ResourceId: GROUP })),
            },
          ],
        });
      }
      if (command instanceof CreateOrUpdateTagsCommand) {
        for (const t of command.input.Tags ?? []) this.tags.set(t.Key ?? "", t.Value ?? "");
        const other = this.meanwhile;
        this.meanwhile = null;
        other?.();
        return Promise.resolve({});
      }
      if (command instanceof SetDesiredCapacityCommand) {
        this.desired = command.input.DesiredCapacity ?? this.desired;
        this.desiredWrites.push(this.desired);
        return Promise.resolve({});
      }
      return Promise.reject(new Error("not an early-node call"));
    };
    return { send } as unknown as AutoScalingClient;
  }

  /** Tags whose key is lifeboat's. */
  lifeboatTags(): string[] {
    return [...this.tags.keys()].filter((k) => k.startsWith("lifeboat.dev/"));
  }
}

describe("EarlyNodeActuator", () => {
  test("raises the group by the count asked for, once per evacuation, even across a restart", async () => {
    const g = new FakeGroup(3, 6);
    assert.deepEqual(await new EarlyNodeActuator(g.client).request(DOOMED, 1, "evac-a"), {
      kind: "requested",
      group: GROUP,
      from: 3,
      to: 4,
    });
    assert.deepEqual(await new EarlyNodeActuator(g.client).request(DOOMED, 1, "evac-a"), {
      kind: "already",
      group: GROUP,
    });
    assert.deepEqual(g.desiredWrites, [4]);
  });

  test("the record of requests is one tag, however many evacuations asked (a group holds 50 tags)", async () => {
    const g = new FakeGroup(0, 1000);
    for (let i = 0; i < 100; i++)
      await new EarlyNodeActuator(g.client).request(DOOMED, 1, `ip-10-0-${i}-1.ec2.internal-${i}`);
    assert.equal(g.desired, 100, "every evacuation asked once");
    assert.equal(g.lifeboatTags().length, 1);
    const [key] = g.lifeboatTags();
    assert.ok(
      (g.tags.get(key ?? "") ?? "").length <= 256,
      "within an Auto Scaling tag value's 256 characters",
    );
    // The newest requests are still known after a restart.
    assert.equal(
      (await new EarlyNodeActuator(g.client).request(DOOMED, 1, "ip-10-0-99-1.ec2.internal-99")).kind,
      "already",
    );
    assert.equal(g.desired, 100);
  });

  test("a target the autoscaler raised meanwhile is never lowered", async () => {
    const g = new FakeGroup(3, 10);
    g.meanwhile = () => {
      g.desired = 6;
    };
    const outcome = await new EarlyNodeActuator(g.client).request(DOOMED, 1, "evac-a");
    assert.equal(g.desired, 6);
    assert.deepEqual(g.desiredWrites, [], "the raise meanwhile already holds the node lifeboat asked for");
    assert.equal(outcome.kind, "met");
  });

  test("a raise meanwhile smaller than the request: lifeboat raises to what it asked for", async () => {
    const g = new FakeGroup(3, 10);
    g.meanwhile = () => {
      g.desired = 4;
    };
    await new EarlyNodeActuator(g.client).request(DOOMED, 2, "evac-a");
    assert.deepEqual(g.desiredWrites, [5]);
  });

  test("a target lowered meanwhile (a scale-in) gets the count on top of the lower value, not the old one back", async () => {
    const g = new FakeGroup(3, 10);
    g.meanwhile = () => {
      g.desired = 2;
    };
    assert.deepEqual(await new EarlyNodeActuator(g.client).request(DOOMED, 1, "evac-a"), {
      kind: "requested",
      group: GROUP,
      from: 2,
      to: 3,
    });
  });

  test("capped at MaxSize; a group at MaxSize is not written at all", async () => {
    const g = new FakeGroup(5, 6);
    assert.deepEqual(await new EarlyNodeActuator(g.client).request(DOOMED, 3, "evac-a"), {
      kind: "requested",
      group: GROUP,
      from: 5,
      to: 6,
    });
    const full = new FakeGroup(6, 6);
    assert.deepEqual(await new EarlyNodeActuator(full.client).request(DOOMED, 1, "evac-b"), {
      kind: "at-max",
      group: GROUP,
      max: 6,
    });
    assert.deepEqual(full.lifeboatTags(), []);
  });

  test("an instance in no group: nothing is written", async () => {
    const g = new FakeGroup(3, 6);
    assert.deepEqual(await new EarlyNodeActuator(g.client).request("i-0other", 1, "evac-a"), {
      kind: "no-group",
    });
    assert.deepEqual(g.lifeboatTags(), []);
  });
});

describe("raiseTarget", () => {
  test("count more than the lowest desired capacity seen, never below the last read, capped at MaxSize", () => {
    const cases: [seen: number, now: number, max: number, count: number, expected: RaiseDecision][] = [
      [3, 3, 10, 1, { kind: "raise", from: 3, to: 4 }],
      [3, 3, 10, 2, { kind: "raise", from: 3, to: 5 }],
      [3, 6, 10, 1, { kind: "met", desired: 6 }], // raised meanwhile past the request: not lowered
      [3, 4, 10, 1, { kind: "met", desired: 4 }], // raised meanwhile by exactly the request
      [3, 4, 10, 2, { kind: "raise", from: 4, to: 5 }], // raised meanwhile, less than the request
      [3, 2, 10, 1, { kind: "raise", from: 2, to: 3 }], // lowered meanwhile: +1 on the lower value
      [5, 5, 6, 3, { kind: "raise", from: 5, to: 6 }],
      [5, 6, 6, 1, { kind: "at-max", max: 6 }],
    ];
    for (const [seen, now, max, count, expected] of cases)
      assert.deepEqual(raiseTarget({ seen, now, max, count }), expected, `seen ${seen}, now ${now}`);
  });
});

describe("the record of requests", () => {
  test("holds the newest ids within one tag value; an old per-request tag still counts", () => {
    let record: string | undefined;
    for (let i = 0; i < 40; i++) record = withRequest(record, `evac-${i}`);
    assert.ok((record ?? "").length <= TAG_VALUE_MAX);
    const tags = [{ Key: EARLY_NODE_TAG, Value: record ?? "" }];
    assert.equal(requested(tags, "evac-39"), true);
    assert.equal(requested(tags, "evac-0"), false, "the oldest made room");
    assert.equal(withRequest(record, "evac-39"), record, "asking twice adds nothing");
    assert.equal(requested([{ Key: `${EARLY_NODE_TAG_PREFIX}evac-old`, Value: "3->4" }], "evac-old"), true);
  });
});
