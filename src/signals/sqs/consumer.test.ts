import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Message, ReceiveMessageCommandInput } from "@aws-sdk/client-sqs";
import { SQSClient } from "@aws-sdk/client-sqs";
import { FakeClock } from "../../domain/clock.ts";
import type { Notice } from "../../domain/notice.ts";
import { ForeignInstanceError } from "../errors.ts";
import type { SignalLogger } from "../logger.ts";
import type { MessagePolicy, NoticeHandler, Outcome, SqsConsumerOptions } from "./consumer.ts";
import { SqsConsumer } from "./consumer.ts";

const FIXTURES = join(import.meta.dirname, "../../../test/fixtures/events");
const sample = (name: string): string => readFileSync(join(FIXTURES, `${name}.json`), "utf8");

const SPOT = sample("spot-interruption-warning.nth");
const TWO_INSTANCE_HEALTH = (() => {
  const e = JSON.parse(sample("health-scheduled-change-ec2.nth")) as { detail: Record<string, unknown> };
  e.detail["affectedEntities"] = [
    { entityValue: "i-0aaaaaaaaaaaaaaa1" },
    { entityValue: "i-0aaaaaaaaaaaaaaa2" },
  ];
  return JSON.stringify(e);
})();

function message(body: string, id: string): Message {
  return {
    MessageId: id,
    ReceiptHandle: `rh-${id}`,
    Body: body,
    Attributes: { ApproximateReceiveCount: "1" },
  };
}

/** Lets pending promise continuations (SDK middleware, handlers) run; bounded, never timed. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  assert.fail(`never happened: ${what}`);
}

/**
 * A real SQSClient whose requests never leave the process: a middleware at the initialize step answers
 * ReceiveMessage from a scripted inbox (waiting like a long poll while it is empty) and records DeleteMessage.
 */
class FakeSqs {
  readonly client = new SQSClient({
    region: "us-east-1",
    endpoint: "http://127.0.0.1:9",
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
  readonly receives: ReceiveMessageCommandInput[] = [];
  readonly deleted: string[] = [];
  /** ChangeMessageVisibility calls: receipt handle and the new timeout. */
  readonly extended: { receiptHandle: string; seconds: number }[] = [];
  readonly #inbox: (Message[] | Error)[] = [];
  #wake: (() => void) | undefined;

  constructor(signal: AbortSignal) {
    this.client.middlewareStack.add(
      (_next, context) => async (args) => {
        const input = args.input as Record<string, unknown>;
        if (context.commandName === "DeleteMessageCommand") {
          this.deleted.push(String(input["ReceiptHandle"]));
          return { output: { $metadata: {} }, response: {} };
        }
        if (context.commandName === "ChangeMessageVisibilityCommand") {
          this.extended.push({
            receiptHandle: String(input["ReceiptHandle"]),
            seconds: Number(input["VisibilityTimeout"]),
          });
          return { output: { $metadata: {} }, response: {} };
        }
        this.receives.push(input as unknown as ReceiveMessageCommandInput);
        while (this.#inbox.length === 0) {
          if (signal.aborted) throw new Error("aborted");
          await new Promise<void>((resolve) => {
            this.#wake = resolve;
            signal.addEventListener(
              "abort",
              () => {
                resolve();
              },
              { once: true },
            );
          });
        }
        const next = this.#inbox.shift();
        if (next instanceof Error) throw next;
        return { output: { Messages: next, $metadata: {} }, response: {} };
      },
      { step: "initialize", name: "fakeSqs" },
    );
  }

  push(item: Message[] | Error): void {
    this.#inbox.push(item);
    this.#wake?.();
  }
}

interface Recorded {
  outcome: Outcome;
  action: string;
  reason: string;
}

function harness(options: SqsConsumerOptions = {}, handler: NoticeHandler = () => Promise.resolve()) {
  const ac = new AbortController();
  const sqs = new FakeSqs(ac.signal);
  const clock = new FakeClock();
  const outcomes: Recorded[] = [];
  /** What was logged, by level and fields (the wording is the consumer's own). */
  const logs: { level: string; fields: Record<string, unknown> }[] = [];
  const rec = (level: string) => (fields: Record<string, unknown>) => void logs.push({ level, fields });
  const logger: SignalLogger = {
    info: rec("info"),
    warn: rec("warn"),
    error: rec("error"),
    debug: rec("debug"),
  };
  const seen: Notice[] = [];
  const consumer = new SqsConsumer(
    sqs.client,
    "http://queue",
    {
      ...options,
      hooks: {
        onOutcome: (_k, outcome, d) => outcomes.push({ outcome, action: d.action, reason: d.reason }),
      },
    },
    clock,
    logger,
  );
  const running = consumer.run(async (n) => {
    seen.push(n);
    await handler(n);
  }, ac.signal);
  return { sqs, clock, outcomes, logs, seen, running, stop: async () => (ac.abort(), running) };
}

test("a good message is handed to the handler and deleted only after the handler resolves", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const h = harness({}, () => gate);
  h.sqs.push([message(SPOT, "m1")]);
  await until(() => h.seen.length === 1, "handler called");
  assert.equal(h.seen[0]?.target.kind === "instance" && h.seen[0].target.instanceId, "i-0b662ef9931388ba0");
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(h.sqs.deleted, [], "deleted before the evacuation was recorded");
  release();
  await until(() => h.sqs.deleted.length === 1, "deleted");
  assert.deepEqual(h.sqs.deleted, ["rh-m1"]);
  assert.deepEqual(
    h.outcomes.map((o) => [o.outcome, o.action]),
    [["handled", "deleted"]],
  );
  await h.stop();
});

test("receive asks for long polling (20 s), at most 10 messages, and the receive count", async () => {
  const h = harness();
  await until(() => h.sqs.receives.length === 1, "first receive");
  const r = h.sqs.receives[0];
  assert.equal(r?.WaitTimeSeconds, 20);
  assert.equal(r?.MaxNumberOfMessages, 10);
  assert.ok(r?.MessageSystemAttributeNames?.includes("ApproximateReceiveCount"));
  await h.stop();
});

test("every receive asks for a short visibility timeout: 15 s by default, the flag's value when set", async () => {
  const h = harness();
  await until(() => h.sqs.receives.length === 1, "first receive");
  assert.equal(h.sqs.receives[0]?.VisibilityTimeout, 15);
  await h.stop();
  const set = harness({ visibilityTimeoutSeconds: 8 });
  await until(() => set.sqs.receives.length === 1, "first receive");
  assert.equal(set.sqs.receives[0]?.VisibilityTimeout, 8);
  await set.stop();
});

test("a message still being handled is kept hidden: its visibility is extended every half timeout until it is done", async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const h = harness({ visibilityTimeoutSeconds: 10 }, () => held);
  h.sqs.push([message(SPOT, "m1")]);
  await until(() => h.seen.length === 1, "handler running");
  await h.clock.advance(4_999);
  assert.deepEqual(h.sqs.extended, [], "nothing before half the timeout");
  await h.clock.advance(1);
  await until(() => h.sqs.extended.length === 1, "first extension at 5 s");
  assert.deepEqual(h.sqs.extended[0], { receiptHandle: "rh-m1", seconds: 10 });
  await h.clock.advance(5_000);
  await until(() => h.sqs.extended.length === 2, "second extension at 10 s");
  assert.deepEqual(h.sqs.deleted, [], "not deleted while the handler runs");
  release();
  await until(() => h.sqs.deleted.length === 1, "deleted once handled");
  await h.clock.advance(20_000);
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  assert.equal(h.sqs.extended.length, 2, "no extension after the message was settled");
  await h.stop();
});

test("no receive while the handler is not ready (no prefetch behind a busy intake)", async () => {
  let readyNow!: () => void;
  let ready = new Promise<void>((r) => (readyNow = r));
  const h = harness({ ready: () => ready });
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  assert.equal(h.sqs.receives.length, 0, "received while the intake was busy");
  readyNow();
  await until(() => h.sqs.receives.length === 1, "receive once ready");
  ready = new Promise<void>((r) => (readyNow = r));
  h.sqs.push([message(SPOT, "m1")]);
  await until(() => h.outcomes.length === 1, "handled");
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  assert.equal(h.sqs.receives.length, 1, "received again while the intake was busy");
  readyNow();
  await until(() => h.sqs.receives.length === 2, "next receive once ready again");
  await h.stop();
});

test("stopping while waiting for the handler to be ready ends the loop", async () => {
  const h = harness({ ready: () => new Promise<void>(() => undefined) });
  await h.stop();
  assert.equal(h.sqs.receives.length, 0);
});

test("a handler that throws leaves the message, and the loop goes on to the next one", async () => {
  let calls = 0;
  const h = harness({}, () => {
    calls++;
    return calls === 1 ? Promise.reject(new Error("apiserver unavailable")) : Promise.resolve();
  });
  h.sqs.push([message(SPOT, "bad")]);
  h.sqs.push([message(sample("rebalance-recommendation.nth"), "good")]);
  await until(() => h.outcomes.length === 2, "two outcomes");
  assert.deepEqual(h.sqs.deleted, ["rh-good"]);
  assert.equal(h.outcomes[0]?.outcome, "failed");
  assert.match(h.outcomes[0]?.reason ?? "", /apiserver unavailable/);
  assert.ok(
    h.logs.some(
      (l) => l.level === "error" && l.fields["messageId"] === "bad" && l.fields["action"] === "kept",
    ),
    "the failure logged as an error, with the message kept",
  );
  await h.stop();
});

const POLICY_CASES: {
  name: string;
  body: string;
  option: keyof SqsConsumerOptions;
  defaultAction: string;
  outcome: Outcome;
}[] = [
  {
    name: "malformed",
    body: "Test Invalid Message",
    option: "malformed",
    defaultAction: "kept",
    outcome: "malformed",
  },
  {
    name: "unknown detail-type",
    body: JSON.stringify({
      ...(JSON.parse(SPOT) as object),
      "detail-type": "EC2 Instance-launch Lifecycle Action",
    }),
    option: "unknown",
    defaultAction: "deleted",
    outcome: "unknown",
  },
];

for (const c of POLICY_CASES) {
  for (const policy of [undefined, "keep", "delete"] as (MessagePolicy | undefined)[]) {
    test(`${c.name} message with policy ${policy ?? "(default)"}`, async () => {
      const h = harness(policy === undefined ? {} : { [c.option]: policy });
      h.sqs.push([message(c.body, "x")]);
      await until(() => h.outcomes.length === 1, "outcome");
      const expected = policy === undefined ? c.defaultAction : policy === "keep" ? "kept" : "deleted";
      assert.equal(h.outcomes[0]?.outcome, c.outcome);
      assert.equal(h.outcomes[0]?.action, expected);
      assert.deepEqual(h.sqs.deleted, expected === "deleted" ? ["rh-x"] : []);
      assert.equal(h.seen.length, 0);
      assert.ok(
        h.logs.some((l) => l.level === "warn"),
        "logged as a warning",
      );
      await h.stop();
    });
  }
}

test("foreign instance: deleted by default, kept with policy keep", async () => {
  for (const [policy, action] of [
    [undefined, "deleted"],
    ["keep", "kept"],
  ] as const) {
    const h = harness(policy === undefined ? {} : { foreign: policy }, (n) =>
      Promise.reject(new ForeignInstanceError(n)),
    );
    h.sqs.push([message(SPOT, "f")]);
    await until(() => h.outcomes.length === 1, "outcome");
    assert.equal(h.outcomes[0]?.outcome, "foreign");
    assert.equal(h.outcomes[0]?.action, action);
    assert.match(h.outcomes[0]?.reason ?? "", /instance i-0b662ef9931388ba0: no node/);
    await h.stop();
  }
});

test("a Health event with one ours and one foreign instance: handled and deleted; with one failing: kept", async () => {
  const ours = "i-0aaaaaaaaaaaaaaa1";
  const target = (n: Notice): string => (n.target.kind === "instance" ? n.target.instanceId : "");
  const mixed = harness({}, (n) =>
    target(n) === ours ? Promise.resolve() : Promise.reject(new ForeignInstanceError(n)),
  );
  mixed.sqs.push([message(TWO_INSTANCE_HEALTH, "h")]);
  await until(() => mixed.outcomes.length === 1, "outcome");
  assert.deepEqual([mixed.outcomes[0]?.outcome, mixed.outcomes[0]?.action], ["handled", "deleted"]);
  await mixed.stop();

  const failing = harness({}, (n) =>
    target(n) === ours ? Promise.resolve() : Promise.reject(new Error("conflict")),
  );
  failing.sqs.push([message(TWO_INSTANCE_HEALTH, "h")]);
  await until(() => failing.outcomes.length === 1, "outcome");
  assert.deepEqual([failing.outcomes[0]?.outcome, failing.outcomes[0]?.action], ["failed", "kept"]);
  assert.equal(failing.seen.length, 2, "both notices were attempted");
  await failing.stop();
});

test("the Auto Scaling test notification is ignored and deleted", async () => {
  const h = harness();
  h.sqs.push([message(sample("asg-test-notification"), "t")]);
  await until(() => h.outcomes.length === 1, "outcome");
  assert.deepEqual([h.outcomes[0]?.outcome, h.outcomes[0]?.action], ["ignored", "deleted"]);
  await h.stop();
});

test("receive errors back off on the clock (1 s, then 2 s) and the loop recovers", async () => {
  const errors: unknown[] = [];
  const ac = new AbortController();
  const sqs = new FakeSqs(ac.signal);
  const clock = new FakeClock();
  const handled: string[] = [];
  const consumer = new SqsConsumer(
    sqs.client,
    "q",
    { hooks: { onReceiveError: (e) => errors.push(e) } },
    clock,
    {
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
      debug: () => undefined,
    },
  );
  sqs.push(new Error("throttled"));
  sqs.push(new Error("throttled again"));
  sqs.push([message(SPOT, "ok")]);
  const running = consumer.run((n) => {
    handled.push(n.id);
    return Promise.resolve();
  }, ac.signal);
  await until(() => clock.pending === 1, "first back-off");
  assert.equal(errors.length, 1);
  await clock.advance(1000);
  await until(() => errors.length === 2 && clock.pending === 1, "second back-off");
  await clock.advance(1999);
  assert.equal(sqs.receives.length, 2, "retried before the doubled back-off ran out");
  await clock.advance(1);
  await until(() => handled.length === 1, "message after recovery");
  ac.abort();
  await running;
});

test("concurrency bounds the messages in flight: no receive while the bound is reached", async () => {
  const releases: (() => void)[] = [];
  const h = harness({ concurrency: 2 }, () => new Promise<void>((r) => releases.push(r)));
  await until(() => h.sqs.receives.length === 1, "first receive");
  assert.equal(h.sqs.receives[0]?.MaxNumberOfMessages, 2);
  h.sqs.push([message(SPOT, "a"), message(sample("rebalance-recommendation.nth"), "b")]);
  await until(() => h.seen.length === 2, "both handlers running");
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
  assert.equal(h.sqs.receives.length, 1, "received more while two were in flight");
  releases[0]?.();
  await until(() => h.sqs.receives.length === 2, "receive after a slot freed");
  assert.equal(h.sqs.receives[1]?.MaxNumberOfMessages, 1);
  releases[1]?.();
  await h.stop();
});

test("abort stops the loop; run resolves only after the message in flight is settled", async () => {
  let release!: () => void;
  const h = harness({}, () => new Promise<void>((r) => (release = r)));
  h.sqs.push([message(SPOT, "m")]);
  await until(() => h.seen.length === 1, "handler running");
  let stopped = false;
  const stopping = h.stop().then(() => (stopped = true));
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  assert.equal(stopped, false);
  release();
  await stopping;
  assert.deepEqual(h.sqs.deleted, ["rh-m"]);
});

test("notices are stamped at receipt and carry the message's SentTimestamp", async () => {
  const h = harness();
  const sent = h.clock.now() - 4_000;
  h.sqs.push([
    { ...message(SPOT, "m1"), Attributes: { SentTimestamp: String(sent), ApproximateReceiveCount: "1" } },
  ]);
  await until(() => h.seen.length === 1, "handler called");
  assert.equal(h.seen[0]?.receivedAt, h.clock.now());
  assert.equal(h.seen[0]?.sentAt, sent);
  await h.stop();
});

test("with deleteMessages false (dry run) a handled message is left in the queue", async () => {
  const h = harness({ deleteMessages: false });
  h.sqs.push([message(SPOT, "m1")]);
  await until(() => h.outcomes.length === 1, "handled");
  assert.deepEqual(h.sqs.deleted, []);
  assert.deepEqual(
    h.outcomes.map((o) => [o.outcome, o.action]),
    [["handled", "kept"]],
  );
  assert.ok(
    h.logs.some((l) => l.fields["dryRun"] === true && l.fields["messageId"] === "m1"),
    "the delete it would have made is logged as a dry run's",
  );
  await h.stop();
});
