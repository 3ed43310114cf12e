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

class MemoryStore {
  readonly items: StoredEvacuation[] = [];
  list(): Promise<StoredEvacuation[]> {
    return Promise.resolve([...this.items]);
  }
  create(s: StoredEvacuation): Promise<StoredEvacuation> {
    this.items.push(s);
    return Promise.resolve(s);
  }
  updateSpec(s: StoredEvacuation): Promise<StoredEvacuation> {
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
): { intake: NoticeIntake; store: MemoryStore; log: RecordingLogger; metrics: Metrics } {
  const node: NodeView = aNode({ name: "node-a" });
  const store = new MemoryStore();
  const log = new RecordingLogger();
  const metrics = new Metrics();
  return {
    intake: new NoticeIntake({
      cluster: {
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
