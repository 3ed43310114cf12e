import { test } from "node:test";
import assert from "node:assert/strict";
import { aNotice, NOTICE_T0 } from "../../test/fixtures/notices.ts";
import type { StoredEvacuation } from "../domain/evacuation.ts";
import type { InstanceState, Notice, ScheduledChangeKind } from "../domain/notice.ts";
import { evacuationName, foldNotice, type FoldPolicy, type NodeIdentity } from "./fold-notice.ts";

const node: NodeIdentity = {
  name: "ip-10-0-1-5.us-east-1.compute.internal",
  instanceId: "i-0aaaaaaaaaaaaaaaa",
  nodeGroup: "spot-a",
};
const policy: FoldPolicy = { rebalancePolicy: "prewarm", rebalancePolicyByNodeGroup: { "spot-b": "ignore" } };
const now = NOTICE_T0 + 2_000;

test("a spot warning for a node with no evacuation creates one in mode evacuate with the notice's deadline", () => {
  const d = foldNotice(null, aNotice(), node, policy, now);
  assert.equal(d.kind, "create");
  assert.ok(d.kind === "create");
  assert.deepEqual(d.stored.evacuation, {
    name: evacuationName(node.name, "evt-1"),
    nodeName: node.name,
    instanceId: "i-0aaaaaaaaaaaaaaaa",
    mode: "evacuate",
    noticeIds: ["evt-1"],
    noticeKind: "spot-interruption",
    deadline: NOTICE_T0 + 120_000,
    certainDeadline: NOTICE_T0 + 120_000,
    noticedAt: now,
    phase: "Pending",
    surges: [],
    evictions: [],
    timeline: { noticedAt: now },
    instanceGone: false,
    instanceState: null,
  });
});

test("the same notice again is a duplicate", () => {
  const first = foldNotice(null, aNotice(), node, policy, now);
  assert.ok(first.kind === "create");
  assert.equal(foldNotice(first.stored, aNotice(), node, policy, now + 1).kind, "duplicate");
});

test("a spot warning after a rebalance recommendation continues the pre-warm as an evacuation", () => {
  const rebalance = aNotice({ id: "rb-1", kind: "rebalance-recommendation", deadline: null });
  const first = foldNotice(null, rebalance, node, policy, now);
  assert.ok(first.kind === "create");
  assert.equal(first.stored.evacuation.mode, "prewarm");
  assert.equal(first.stored.evacuation.deadline, null);
  const second = foldNotice(first.stored, aNotice({ id: "evt-2" }), node, policy, now + 600_000);
  assert.ok(second.kind === "update");
  assert.equal(second.stored.evacuation.name, first.stored.evacuation.name);
  assert.equal(second.stored.evacuation.mode, "evacuate");
  assert.equal(second.stored.evacuation.deadline, NOTICE_T0 + 120_000);
  assert.deepEqual(second.stored.evacuation.noticeIds, ["rb-1", "evt-2"]);
  assert.match(second.reason, /mode prewarm -> evacuate/);
});

test("a rebalance recommendation never downgrades an evacuation, and the earlier deadline wins", () => {
  const first = foldNotice(null, aNotice(), node, policy, now);
  assert.ok(first.kind === "create");
  const later = foldNotice(
    first.stored,
    aNotice({ id: "rb", kind: "rebalance-recommendation", deadline: null }),
    node,
    policy,
    now,
  );
  assert.ok(later.kind === "update");
  assert.equal(later.stored.evacuation.mode, "evacuate");
  assert.equal(later.stored.evacuation.deadline, NOTICE_T0 + 120_000);
  const earlier = foldNotice(
    first.stored,
    aNotice({ id: "evt-3", deadline: NOTICE_T0 + 60_000 }),
    node,
    policy,
    now,
  );
  assert.ok(earlier.kind === "update");
  assert.equal(earlier.stored.evacuation.deadline, NOTICE_T0 + 60_000);
});

test("rebalance policy per node group: ignore creates nothing, and says why", () => {
  const d = foldNotice(
    null,
    aNotice({ kind: "rebalance-recommendation", deadline: null }),
    { ...node, nodeGroup: "spot-b" },
    policy,
    now,
  );
  assert.equal(d.kind, "ignore");
  assert.match(d.reason, /"ignore"/);
});

test("rebalance policy taint gives a taint-only evacuation", () => {
  const d = foldNotice(
    null,
    aNotice({ kind: "rebalance-recommendation", deadline: null }),
    node,
    { ...policy, rebalancePolicy: "taint" },
    now,
  );
  assert.ok(d.kind === "create");
  assert.equal(d.stored.evacuation.mode, "taint-only");
});

test("a state-change notice marks the instance gone on the running evacuation", () => {
  const first = foldNotice(null, aNotice(), node, policy, now);
  assert.ok(first.kind === "create");
  const d = foldNotice(
    first.stored,
    aNotice({ id: "sc", kind: "instance-state-change", instanceState: "shutting-down", deadline: now }),
    node,
    policy,
    now,
  );
  assert.ok(d.kind === "update");
  assert.equal(d.stored.evacuation.instanceGone, true);
  assert.equal(
    d.stored.evacuation.deadline,
    NOTICE_T0 + 120_000,
    "the warning's deadline stays the one slack is measured against",
  );
  assert.match(d.reason, /instance is going away now/);
});

test("an ASG lifecycle notice carries its hook to the stored evacuation", () => {
  const hook = {
    autoScalingGroupName: "asg",
    lifecycleHookName: "drain",
    lifecycleActionToken: "tok",
    instanceId: "i-0aaaaaaaaaaaaaaaa",
  };
  const d = foldNotice(
    null,
    aNotice({ kind: "asg-lifecycle-terminate", lifecycleHook: hook }),
    node,
    policy,
    now,
  );
  assert.ok(d.kind === "create");
  assert.deepEqual(d.stored.lifecycleHook, hook);
});

test("evacuation names are valid resource names and stable per notice", () => {
  const name = evacuationName("IP_10.0.1.5", "evt-1");
  assert.match(name, /^[a-z0-9.-]+-[0-9a-f]{8}$/);
  assert.equal(name, evacuationName("IP_10.0.1.5", "evt-1"));
  assert.notEqual(name, evacuationName("IP_10.0.1.5", "evt-2"));
});

test("a notice already listed whose effect was lost (status write failed) is recorded again, not taken as a duplicate", () => {
  const first = foldNotice(null, aNotice(), node, policy, now);
  assert.ok(first.kind === "create");
  const gone = aNotice({ id: "sc-1", kind: "instance-state-change", deadline: null });
  const folded = foldNotice(first.stored, gone, node, policy, now + 1_000);
  assert.ok(folded.kind === "update");
  assert.equal(folded.stored.evacuation.instanceGone, true);
  // The spec write (notice ids) landed, the status write (instanceGone) did not; SQS delivers it again.
  const specOnly = {
    ...folded.stored,
    evacuation: { ...folded.stored.evacuation, instanceGone: false },
  };
  const again = foldNotice(specOnly, gone, node, policy, now + 5_000);
  assert.equal(again.kind, "update");
  assert.ok(again.kind === "update");
  assert.equal(again.stored.evacuation.instanceGone, true);
  assert.deepEqual(again.stored.evacuation.noticeIds, first.stored.evacuation.noticeIds.concat("sc-1"));
  // Once recorded, the same notice is a duplicate.
  assert.equal(foldNotice(again.stored, gone, node, policy, now + 9_000).kind, "duplicate");
});

test("the node's certain end is the earliest deadline of a notice that means it, whatever order they come in", () => {
  const hook = aNotice({ id: "hook", kind: "asg-lifecycle-terminate", deadline: NOTICE_T0 + 3_600_000 });
  const spot = aNotice({ id: "spot" });
  const fold = (...list: Notice[]) => {
    let stored: StoredEvacuation | null = null;
    for (const n of list) {
      const d = foldNotice(stored, n, node, policy, now);
      if (d.kind === "create" || d.kind === "update") stored = d.stored;
    }
    return stored?.evacuation;
  };
  assert.equal(fold(hook)?.certainDeadline, null, "a hook lifeboat heartbeats ends nothing for certain");
  assert.equal(fold(hook, spot)?.certainDeadline, NOTICE_T0 + 120_000);
  const spotThenHook = fold(spot, hook);
  assert.equal(spotThenHook?.certainDeadline, NOTICE_T0 + 120_000, "the hook does not undo the warning");
  assert.equal(spotThenHook?.noticeKind, "asg-lifecycle-terminate");
  const manual = aNotice({ id: "m", kind: "manual", source: "manual", deadline: NOTICE_T0 + 60_000 });
  const manualThenSpot = fold(manual, spot);
  assert.equal(manualThenSpot?.deadline, NOTICE_T0 + 60_000, "planned against the earlier manual deadline");
  assert.equal(manualThenSpot?.certainDeadline, NOTICE_T0 + 120_000, "but the node ends for certain later");
  const start = NOTICE_T0 + 86_400_000;
  const scheduled = (scheduledChange: ScheduledChangeKind) =>
    aNotice({ id: scheduledChange, kind: "scheduled-change", deadline: start, scheduledChange });
  assert.equal(fold(scheduled("retirement"))?.certainDeadline, start);
  assert.equal(fold(scheduled("reboot"))?.certainDeadline, null);
  assert.equal(fold(scheduled("maintenance"))?.certainDeadline, null);
  const reboot = fold(
    scheduled("reboot"),
    aNotice({ id: "sc", kind: "instance-state-change", deadline: now }),
  );
  assert.equal(reboot?.certainDeadline, now, "an instance leaving ends it now");
});

test("a state change records how far the instance went; a stopping delivered after stopped does not undo it", () => {
  const first = foldNotice(null, aNotice(), node, policy, now);
  assert.ok(first.kind === "create");
  const state = (id: string, instanceState: InstanceState) =>
    aNotice({ id, kind: "instance-state-change", instanceState, deadline: now });
  const stopping = foldNotice(first.stored, state("sc-1", "stopping"), node, policy, now);
  assert.ok(stopping.kind === "update");
  assert.equal(stopping.stored.evacuation.instanceState, "stopping");
  assert.equal(stopping.stored.evacuation.instanceGone, true);
  const stopped = foldNotice(stopping.stored, state("sc-2", "stopped"), node, policy, now + 30_000);
  assert.ok(stopped.kind === "update");
  assert.equal(stopped.stored.evacuation.instanceState, "stopped");
  assert.match(stopped.reason, /instance stopped/);
  const late = foldNotice(stopped.stored, state("sc-0", "stopping"), node, policy, now + 31_000);
  assert.ok(late.kind === "update");
  assert.equal(late.stored.evacuation.instanceState, "stopped");
});
