/**
 * The notice intake's times (issue 7 item 13): a notice is stamped when it is received, not when a running
 * reconcile lets it through; its event age is logged and measured; an ASG lifecycle action's deadline is
 * the event time plus the hook's heartbeat timeout.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RecordingLogger } from "../cluster/logger.ts";
import { FakeClock } from "../domain/clock.ts";
import type { NodeView } from "../domain/snapshot.ts";
import { Metrics } from "../observability/metrics.ts";
import type { StoredEvacuation } from "../state/evacuation-resource.ts";
import { aNotice, NOTICE_T0 } from "../../test/fixtures/notices.ts";
import { aNode } from "../../test/fixtures/snapshot-builders.ts";
import { NoticeIntake } from "./intake.ts";
import { Serial } from "./serial.ts";
import type { ClusterView } from "../executor/ports.ts";
import { ForeignInstanceError } from "../signals/errors.ts";
import { anEvacuation } from "../../test/fixtures/snapshot-builders.ts";

class MemoryStore {
  readonly items: StoredEvacuation[] = [];
  list(): Promise<StoredEvacuation[]> {
    return Promise.resolve([...this.items]);
  }
  create(s: StoredEvacuation): Promise<StoredEvacuation> {
    this.items.push(s);
    return Promise.resolve(s);
  }
  readonly specUpdates: StoredEvacuation[] = [];
  updateSpec(s: StoredEvacuation): Promise<StoredEvacuation> {
    this.specUpdates.push(s);
    return Promise.resolve(s);
  }
  updateStatus(s: StoredEvacuation): Promise<StoredEvacuation> {
    return Promise.resolve(s);
  }
}

function intake(
  clock: FakeClock,
  serial: Serial,
  hookTimeouts: ConstructorParameters<typeof NoticeIntake>[0]["hookTimeouts"] = null,
  cluster?: ClusterView,
): { intake: NoticeIntake; store: MemoryStore; log: RecordingLogger; metrics: Metrics } {
  const node: NodeView = aNode({ name: "node-a" });
  const store = new MemoryStore();
  const log = new RecordingLogger();
  const metrics = new Metrics();
  return {
    intake: new NoticeIntake({
      cluster: cluster ?? {
        snapshot: () => {
          throw new Error("unused");
        },
        nodeByInstanceId: () => node,
        nodeByName: () => node,
      },
      store,
      policy: { rebalancePolicy: "prewarm", rebalancePolicyByNodeGroup: {} },
      clock,
      log,
      metrics,
      events: { emit: () => undefined },
      onRecorded: () => undefined,
      serial,
      hookTimeouts,
    }),
    store,
    log,
    metrics,
  };
}

test("a notice is stamped when received, not after a running reconcile lets it through", async () => {
  const clock = new FakeClock(NOTICE_T0 + 3_000);
  const serial = new Serial();
  const { intake: i, store, log, metrics } = intake(clock, serial);
  // A reconcile holds the serial for 4 s.
  const reconcile = serial.run(() => clock.sleep(4_000));
  const handled = i.handle(aNotice({ sentAt: NOTICE_T0 + 1_000 }));
  while (clock.pending === 0) await Promise.resolve();
  await clock.advance(4_000);
  await reconcile;
  await handled;
  assert.equal(store.items[0]?.evacuation.noticedAt, NOTICE_T0 + 3_000, "noticedAt is the receipt time");
  const accepted = log.records.find((r) => r.obj["evacuation"] !== undefined);
  assert.equal(accepted?.obj["eventAgeSeconds"], 3, "event age at receipt");
  assert.equal(accepted?.obj["queueSeconds"], 2, "time in the queue (SentTimestamp)");
  assert.match(
    await metrics.registry.metrics(),
    /lifeboat_notice_event_age_seconds_sum\{kind="spot-interruption"\} 3/,
  );
});

test("an SQS-stamped receipt time wins over the intake's own", async () => {
  const clock = new FakeClock(NOTICE_T0 + 9_000);
  const { intake: i, store } = intake(clock, new Serial());
  await i.handle(aNotice({ receivedAt: NOTICE_T0 + 2_000 }));
  assert.equal(store.items[0]?.evacuation.noticedAt, NOTICE_T0 + 2_000);
});

test("an ASG lifecycle action's deadline is the event time plus the hook's heartbeat timeout", async () => {
  const hook = {
    autoScalingGroupName: "asg",
    lifecycleHookName: "drain",
    lifecycleActionToken: "t",
    instanceId: "i-0aaaaaaaaaaaaaaaa",
  };
  const asg = aNotice({
    id: "asg-1",
    kind: "asg-lifecycle-terminate",
    lifecycleHook: hook,
    deadline: NOTICE_T0 + 3_600_000,
  });
  const clock = new FakeClock(NOTICE_T0 + 1_000);
  const read = intake(clock, new Serial(), {
    heartbeatTimeoutSeconds: (h) =>
      Promise.resolve(
        h.lifecycleHookName === "drain"
          ? { kind: "found", seconds: 300 }
          : { kind: "unknown", reason: "no such hook" },
      ),
  });
  await read.intake.handle(asg);
  assert.equal(read.store.items[0]?.evacuation.deadline, NOTICE_T0 + 300_000);

  const unreadable = intake(clock, new Serial(), {
    heartbeatTimeoutSeconds: () => Promise.resolve({ kind: "unknown", reason: "AccessDenied" }),
  });
  await unreadable.intake.handle(asg);
  assert.equal(
    unreadable.store.items[0]?.evacuation.deadline,
    NOTICE_T0 + 3_600_000,
    "the parser's default stays",
  );
  assert.ok(unreadable.log.messages("warn").some((m) => m.includes("autoscaling:DescribeLifecycleHooks")));
});

/** A cluster with no live node; `deleted` answers deletedNodeByInstanceId. */
function emptyCluster(deleted: ClusterView["deletedNodeByInstanceId"] = () => null): ClusterView {
  return {
    snapshot: () => {
      throw new Error("unused");
    },
    nodeByInstanceId: () => null,
    nodeByName: () => null,
    deletedNodeByInstanceId: deleted,
  };
}

async function settledWithin(p: Promise<unknown>, turns = 200): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < turns && !settled; i++) await new Promise((r) => setImmediate(r));
  return settled;
}

test("a notice about no node of ours is dropped at once, without waiting for a running reconcile", async () => {
  const clock = new FakeClock(NOTICE_T0);
  const serial = new Serial();
  const { intake: i, store, metrics } = intake(clock, serial, null, emptyCluster());
  let release!: () => void;
  const reconcile = serial.run(() => new Promise<void>((r) => (release = r)));
  const handled = i.handle(aNotice({ target: { kind: "instance", instanceId: "i-0ffffffffffffffff" } }));
  assert.equal(await settledWithin(handled), true, "waited for the reconcile");
  await assert.rejects(handled, ForeignInstanceError);
  assert.equal(store.items.length, 0);
  assert.match(await metrics.registry.metrics(), /lifeboat_notices_total\{[^}]*outcome="foreign"[^}]*\} 1/);
  release();
  await reconcile;
});

test("a warning for a node deleted a moment ago is late, not foreign: no evacuation, counted, resolved", async () => {
  const clock = new FakeClock(NOTICE_T0 + 150_000);
  const gone = aNode({ name: "node-a", instanceId: "i-0aaaaaaaaaaaaaaaa" });
  const {
    intake: i,
    store,
    log,
    metrics,
  } = intake(
    clock,
    new Serial(),
    null,
    emptyCluster((id) => (id === gone.instanceId ? { node: gone, deletedAt: NOTICE_T0 + 120_000 } : null)),
  );
  await i.handle(aNotice());
  assert.equal(store.items.length, 0, "no Evacuation for a node that no longer exists");
  assert.match(await metrics.registry.metrics(), /lifeboat_notices_total\{[^}]*outcome="late"[^}]*\} 1/);
  assert.ok(log.messages("warn").some((m) => m.includes("node-a") && m.includes("30 s ago")));
});

test("a notice for an instance whose node is gone but whose Evacuation is active is folded into it", async () => {
  const clock = new FakeClock(NOTICE_T0 + 60_000);
  const { intake: i, store } = intake(clock, new Serial(), null, emptyCluster());
  const evacuation = anEvacuation({ nodeName: "node-a", instanceId: "i-0aaaaaaaaaaaaaaaa" });
  store.items.push({ evacuation, lifecycleHook: null, message: "", resourceVersion: "1" });
  await i.handle(
    aNotice({
      id: "state-1",
      kind: "instance-state-change",
      deadline: null,
      instanceState: "terminated",
    }),
  );
  const updated = store.specUpdates[0]?.evacuation;
  assert.ok(updated?.noticeIds.includes("state-1"), "the notice was folded into the node's evacuation");
  assert.equal(updated?.instanceGone, true, "its instance is marked gone");
});

test("idle waits for every notice in the intake, including one waiting behind a running reconcile", async () => {
  const clock = new FakeClock(NOTICE_T0);
  const serial = new Serial();
  const { intake: i, store } = intake(clock, serial);
  await i.idle();
  let release!: () => void;
  const reconcile = serial.run(() => new Promise<void>((r) => (release = r)));
  const handled = i.handle(aNotice());
  const idle = i.idle();
  assert.equal(await settledWithin(idle), false, "idle while a notice waits for its turn");
  release();
  await Promise.all([reconcile, handled, idle]);
  assert.equal(store.items.length, 1);
});

test("a replay for a reclaimed node whose evacuation is done is a duplicate, settled without waiting for a reconcile", async () => {
  const clock = new FakeClock(NOTICE_T0 + 300_000);
  const serial = new Serial();
  const { intake: i, store, metrics } = intake(clock, serial, null, emptyCluster());
  const done = anEvacuation({ instanceId: "i-0aaaaaaaaaaaaaaaa", noticeIds: ["evt-1"], phase: "Done" });
  store.items.push({ evacuation: done, lifecycleHook: null, message: "", resourceVersion: "1" });
  let release!: () => void;
  const reconcile = serial.run(() => new Promise<void>((r) => (release = r)));
  const replay = i.handle(aNotice({ id: "evt-1" }));
  assert.equal(await settledWithin(replay), true, "waited for the reconcile");
  await replay;
  assert.equal(store.items.length, 1, "nothing created");
  assert.deepEqual(store.specUpdates, [], "nothing written");
  assert.match(await metrics.registry.metrics(), /lifeboat_notices_total\{[^}]*outcome="duplicate"[^}]*\} 1/);
  release();
  await reconcile;
});
