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
import type { Notice } from "../domain/notice.ts";
import { Metrics } from "../observability/metrics.ts";
import type { StoredEvacuation } from "../state/evacuation-resource.ts";
import { aNotice, NOTICE_T0 } from "../../test/fixtures/notices.ts";
import { aNode } from "../../test/fixtures/snapshot-builders.ts";
import { NoticeIntake, type FirstCordon } from "./intake.ts";
import type { EventSink } from "../actuators/ports.ts";
import { Serial } from "./serial.ts";
import type { ClusterView } from "../actuators/ports.ts";
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
  extra: Partial<ConstructorParameters<typeof NoticeIntake>[0]> = {},
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
      ...extra,
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
  assert.ok(
    unreadable.log.records.some((r) => r.level === "warn" && r.obj["hook"] === "drain"),
    "the unreadable hook is reported",
  );
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
  assert.ok(
    log.records.some((r) => r.level === "warn" && r.obj["node"] === "node-a"),
    "reported as a warning about the gone node",
  );
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

/** Nodes node-a, node-b, ... by name and by instance id (i-0aaaaaaaaaaaaaaaa for node-a). */
function nodesCluster(nodes: NodeView[]): ClusterView {
  return {
    snapshot: () => {
      throw new Error("unused");
    },
    nodeByInstanceId: (id) => nodes.find((n) => n.instanceId === id) ?? null,
    nodeByName: (name) => nodes.find((n) => n.name === name) ?? null,
  };
}

/** A FirstCordon that records the nodes it cordoned (and when, on `clock`). */
function recordingCordon(clock: FakeClock): FirstCordon & { cordoned: { node: string; at: number }[] } {
  const cordoned: { node: string; at: number }[] = [];
  return {
    cordoned,
    isCordoned: (node) => node.unschedulable,
    cordon: (node) => {
      cordoned.push({ node, at: clock.now() });
      return Promise.resolve({ kind: "done", changed: true });
    },
    describe: "cordon, taint lifeboat.dev/evacuating:NoSchedule",
  };
}

const instanceOf = (letter: string): string => `i-0${letter.repeat(16)}`;
const warnedNode = (letter: string, overrides: Partial<NodeView> = {}): NodeView =>
  aNode({ name: `node-${letter}`, instanceId: instanceOf(letter), ...overrides });

test("a warned node is cordoned at receipt, while a reconcile holds the turn; its record says Cordoned, measured once", async () => {
  const clock = new FakeClock(NOTICE_T0 + 2_000);
  const serial = new Serial();
  const first = recordingCordon(clock);
  const emitted: Parameters<EventSink["emit"]>[0][] = [];
  const {
    intake: i,
    store,
    metrics,
  } = intake(clock, serial, null, nodesCluster([warnedNode("a")]), {
    firstCordon: first,
    events: { emit: (e) => emitted.push(e) },
  });
  let release!: () => void;
  const reconcile = serial.run(() => new Promise<void>((r) => (release = r)));
  const handled = i.handle(aNotice());
  for (let n = 0; n < 50 && first.cordoned.length === 0; n++) await new Promise((r) => setImmediate(r));
  assert.deepEqual(first.cordoned, [{ node: "node-a", at: NOTICE_T0 + 2_000 }], "cordoned before its turn");
  assert.equal(store.items.length, 0, "not recorded yet: the reconcile holds the turn");
  await clock.advance(3_000);
  release();
  await Promise.all([reconcile, handled]);
  const e = store.items[0]?.evacuation;
  assert.equal(e?.phase, "Cordoned");
  assert.equal(e?.timeline.cordonedAt, NOTICE_T0 + 2_000, "the time of the cordon, not of the record");
  assert.match(await metrics.registry.metrics(), /lifeboat_notice_to_cordon_seconds_count 1/);
  assert.ok(emitted.some((x) => x.reason === "Cordoned" && x.object.name === "node-a"));
});

test("no cordon at receipt for a notice that does not cordon: ignored or taint-only rebalance, duplicate, a node already cordoned", async () => {
  const clock = new FakeClock(NOTICE_T0);
  const rebalance = aNotice({ id: "rbr-1", kind: "rebalance-recommendation", deadline: null });
  for (const policy of ["ignore", "taint"] as const) {
    const first = recordingCordon(clock);
    const { intake: i } = intake(clock, new Serial(), null, nodesCluster([warnedNode("a")]), {
      firstCordon: first,
      policy: { rebalancePolicy: policy, rebalancePolicyByNodeGroup: {} },
    });
    await i.handle(rebalance);
    assert.deepEqual(first.cordoned, [], `rebalance policy ${policy}`);
  }
  // The same warning again after its evacuation finished (the node still there): a duplicate, no cordon.
  const first = recordingCordon(clock);
  const { intake: i, store } = intake(clock, new Serial(), null, nodesCluster([warnedNode("a")]), {
    firstCordon: first,
  });
  const done = anEvacuation({ instanceId: instanceOf("a"), noticeIds: ["evt-1"], phase: "Done" });
  store.items.push({ evacuation: done, lifecycleHook: null, message: "", resourceVersion: "1" });
  await i.handle(aNotice({ id: "evt-1" }));
  assert.deepEqual(first.cordoned, [], "duplicate of a finished evacuation");
  // A node that already carries the cordon is not written again.
  const again = recordingCordon(clock);
  const cordonedCluster = nodesCluster([warnedNode("b", { unschedulable: true })]);
  const { intake: j, store: s2 } = intake(clock, new Serial(), null, cordonedCluster, { firstCordon: again });
  await j.handle(aNotice({ id: "evt-2", target: { kind: "instance", instanceId: instanceOf("b") } }));
  assert.deepEqual(again.cordoned, []);
  assert.equal(s2.items[0]?.evacuation.phase, "Pending", "the reconcile records the cordon it finds");
});

test("a failed cordon at receipt is logged and left to the reconcile: the notice is still recorded", async () => {
  const clock = new FakeClock(NOTICE_T0);
  const failing: FirstCordon = {
    isCordoned: () => false,
    cordon: () => Promise.reject(new Error("etcdserver: request timed out")),
    describe: "cordon",
  };
  const {
    intake: i,
    store,
    log,
  } = intake(clock, new Serial(), null, nodesCluster([warnedNode("a")]), {
    firstCordon: failing,
  });
  await i.handle(aNotice());
  assert.equal(store.items[0]?.evacuation.phase, "Pending");
  assert.equal(store.items[0]?.evacuation.timeline.cordonedAt, undefined);
  assert.ok(
    log.records.some(
      (r) =>
        r.level === "warn" && r.obj["node"] === "node-a" && r.obj["err"] === "etcdserver: request timed out",
    ),
    "the failed cordon is reported with its error",
  );
});

test("notices waiting for a turn are recorded together in it, before a reconcile queued after the first of them", async () => {
  const clock = new FakeClock(NOTICE_T0);
  const serial = new Serial();
  const nodes = ["a", "b", "c"].map((l) => warnedNode(l));
  const { intake: i, store } = intake(clock, serial, null, nodesCluster(nodes));
  let release!: () => void;
  const running = serial.run(() => new Promise<void>((r) => (release = r)));
  const notice = (l: string): Notice =>
    aNotice({ id: `evt-${l}`, target: { kind: "instance", instanceId: instanceOf(l) } });
  const handled = [i.handle(notice("a"))];
  for (let n = 0; n < 20; n++) await new Promise((r) => setImmediate(r));
  // The next reconcile asks for its turn after the first notice and before the other two.
  let seenByNext = -1;
  const next = serial.run(() => {
    seenByNext = store.items.length;
    return Promise.resolve();
  });
  handled.push(i.handle(notice("b")), i.handle(notice("c")));
  for (let n = 0; n < 20; n++) await new Promise((r) => setImmediate(r));
  release();
  await Promise.all([running, next, ...handled]);
  assert.equal(seenByNext, 3, "the next reconcile plans all three evacuations");
});

test("accepting waits for notices in their first act (the cordon at receipt), not for those waiting for their turn", async () => {
  const clock = new FakeClock(NOTICE_T0);
  const serial = new Serial();
  let finishCordon!: () => void;
  const slowCordon: FirstCordon = {
    isCordoned: () => false,
    cordon: () =>
      new Promise((r) => {
        finishCordon = () => {
          r({ kind: "done", changed: true });
        };
      }),
    describe: "cordon",
  };
  const { intake: i, store } = intake(clock, serial, null, nodesCluster([warnedNode("a")]), {
    firstCordon: slowCordon,
  });
  let release!: () => void;
  const reconcile = serial.run(() => new Promise<void>((r) => (release = r)));
  const handled = i.handle(aNotice());
  const accepting = i.accepting();
  assert.equal(await settledWithin(accepting), false, "the node is still being cordoned");
  finishCordon();
  assert.equal(await settledWithin(i.accepting()), true, "past its first act: the next receive may go");
  assert.equal(await settledWithin(i.idle()), false, "but it is not recorded: it waits for the reconcile");
  release();
  await Promise.all([reconcile, handled]);
  assert.equal(store.items.length, 1);
});
