import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Notice } from "../../../domain/notice.ts";
import type { LabelledParseResult } from "./index.ts";
import { parseMessageBody, SPOT_WARNING_LEAD_MS } from "./index.ts";

const FIXTURES = join(import.meta.dirname, "../../../../test/fixtures/events");

/** The raw text of a stored real sample. */
function sample(name: string): string {
  return readFileSync(join(FIXTURES, `${name}.json`), "utf8");
}

type Json = Record<string, unknown>;

/** A real sample as an object, with top-level fields and `detail` fields replaced. */
function variant(name: string, top: Json = {}, detail: Json = {}): string {
  const event = JSON.parse(sample(name)) as Json;
  return JSON.stringify({ ...event, ...top, detail: { ...(event["detail"] as Json), ...detail } });
}

/** The body as SNS delivers it to a subscribed queue. */
function snsWrapped(body: string): string {
  return JSON.stringify({
    Type: "Notification",
    MessageId: "m-1",
    TopicArn: "arn:aws:sns:us-east-1:123456789012:t",
    Message: body,
  });
}

function expectNotices(result: LabelledParseResult): Notice[] {
  assert.equal(
    result.kind,
    "notices",
    `expected notices, got ${result.kind}: ${"reason" in result ? result.reason : ""}`,
  );
  return result.kind === "notices" ? result.notices : [];
}

function expectRejected(
  result: LabelledParseResult,
  kind: "ignored" | "malformed" | "unknown",
  reasonPart: RegExp,
): void {
  assert.equal(result.kind, kind, JSON.stringify(result));
  assert.match("reason" in result ? result.reason : "", reasonPart);
}

// --- spot interruption warning ---

test("spot warning (NTH sample): notice with deadline event time + 2 min", () => {
  const [n, ...rest] = expectNotices(parseMessageBody(sample("spot-interruption-warning.nth")));
  assert.equal(rest.length, 0);
  assert.deepEqual(n, {
    id: "1e5527d7-bb36-4607-3370-4164db56a40e",
    kind: "spot-interruption",
    source: "sqs",
    target: { kind: "instance", instanceId: "i-0b662ef9931388ba0" },
    issuedAt: 0,
    deadline: SPOT_WARNING_LEAD_MS,
    summary: "spot interruption warning: i-0b662ef9931388ba0 will terminate at 1970-01-01T00:02:00.000Z",
  });
});

test("spot warning wrapped by SNS parses the same", () => {
  const direct = parseMessageBody(sample("spot-interruption-warning.nth"));
  assert.deepEqual(parseMessageBody(snsWrapped(sample("spot-interruption-warning.nth"))), direct);
});

test("spot warning with instance-action hibernate: deadline is the event time", () => {
  const body = variant(
    "spot-interruption-warning.nth",
    { time: "2026-11-24T12:00:00Z" },
    { "instance-action": "hibernate" },
  );
  const [n] = expectNotices(parseMessageBody(body));
  assert.equal(n?.deadline, Date.parse("2026-11-24T12:00:00Z"));
});

test("the EC2 docs' template (placeholder time, action 'action') is malformed, naming the field", () => {
  expectRejected(
    parseMessageBody(sample("spot-interruption-warning.ec2-docs-template")),
    "malformed",
    /instance-action/,
  );
  const fixedAction = variant(
    "spot-interruption-warning.ec2-docs-template",
    {},
    { "instance-action": "terminate" },
  );
  expectRejected(
    parseMessageBody(fixedAction),
    "malformed",
    /time "yyyy-mm-ddThh:mm:ssZ" is not an RFC 3339/,
  );
});

test("spot warning without instance-id or with a bad one is malformed", () => {
  const missing = JSON.parse(sample("spot-interruption-warning.nth")) as Json;
  missing["detail"] = { "instance-action": "terminate" };
  expectRejected(parseMessageBody(JSON.stringify(missing)), "malformed", /instance-id/);
  expectRejected(
    parseMessageBody(variant("spot-interruption-warning.nth", {}, { "instance-id": "node-1" })),
    "malformed",
    /EC2 instance id/,
  );
});

// --- rebalance recommendation ---

test("rebalance recommendation (NTH sample): notice without deadline", () => {
  const [n] = expectNotices(parseMessageBody(sample("rebalance-recommendation.nth")));
  assert.equal(n?.kind, "rebalance-recommendation");
  assert.equal(n?.deadline, null);
  assert.equal(n?.issuedAt, Date.parse("2020-10-26T14:14:14Z"));
  assert.deepEqual(n?.target, { kind: "instance", instanceId: "i-0b662ef9931388ba0" });
});

test("rebalance recommendation with detail not an object is malformed", () => {
  const event = JSON.parse(sample("rebalance-recommendation.nth")) as Json;
  event["detail"] = "i-0b662ef9931388ba0";
  expectRejected(parseMessageBody(JSON.stringify(event)), "malformed", /detail/);
});

// --- state change ---

test("state change to pending (NTH sample) is ignored with the state in the reason", () => {
  const result = parseMessageBody(sample("state-change-pending.nth"));
  expectRejected(result, "ignored", /i-abcd1111 entered state pending/);
  assert.equal(result.label, "instance-state-change");
});

for (const state of ["stopping", "stopped", "shutting-down", "terminated"] as const) {
  test(`state change to ${state}: notice with instanceState and deadline = event time`, () => {
    const [n] = expectNotices(parseMessageBody(variant("state-change-pending.nth", {}, { state })));
    assert.equal(n?.kind, "instance-state-change");
    assert.equal(n?.instanceState, state);
    assert.equal(n?.deadline, Date.parse("2015-11-11T21:29:54Z"));
  });
}

test("state change to running is ignored; to an unheard-of state is malformed", () => {
  expectRejected(
    parseMessageBody(variant("state-change-pending.nth", {}, { state: "running" })),
    "ignored",
    /running/,
  );
  expectRejected(
    parseMessageBody(variant("state-change-pending.nth", {}, { state: "exploded" })),
    "malformed",
    /state/,
  );
});

// --- AWS Health scheduled change ---

test("Health scheduled change for EC2 (NTH sample): deadline is the RFC 1123 startTime", () => {
  const [n, ...rest] = expectNotices(parseMessageBody(sample("health-scheduled-change-ec2.nth")));
  assert.equal(rest.length, 0);
  assert.equal(n?.kind, "scheduled-change");
  assert.equal(n?.id, "7fb65329-1628-4cf3-a740-95fg457h1402/i-12345678");
  assert.equal(n?.deadline, Date.parse("2016-06-05T15:10:09Z"));
  assert.equal(n?.issuedAt, Date.parse("2016-06-05T06:27:57Z"));
  assert.match(n?.summary ?? "", /AWS_EC2_DEDICATED_HOST_NETWORK_MAINTENANCE_SCHEDULED/);
  assert.equal(n?.scheduledChange, "maintenance", "network maintenance ends nothing");
});

test("Health scheduled change: retirement and stop end the instance, reboots bring it back", () => {
  const h = "health-scheduled-change-ec2.nth";
  const kindOf = (eventTypeCode: string) =>
    expectNotices(parseMessageBody(variant(h, {}, { eventTypeCode })))[0]?.scheduledChange;
  assert.equal(kindOf("AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED"), "retirement");
  assert.equal(kindOf("AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED"), "retirement");
  assert.equal(kindOf("AWS_EC2_INSTANCE_STOP_SCHEDULED"), "retirement");
  assert.equal(kindOf("AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED"), "reboot");
  assert.equal(kindOf("AWS_EC2_SYSTEM_REBOOT_MAINTENANCE_SCHEDULED"), "reboot");
  assert.equal(kindOf("AWS_EC2_SYSTEM_MAINTENANCE_EVENT"), "maintenance");
});

test("Health event naming two instances (and a duplicate) gives one notice per instance with distinct ids", () => {
  const body = variant(
    "health-scheduled-change-ec2.nth",
    {},
    {
      affectedEntities: [
        { entityValue: "i-0aaaaaaaaaaaaaaa1" },
        { entityValue: "i-0aaaaaaaaaaaaaaa2" },
        { entityValue: "i-0aaaaaaaaaaaaaaa1" },
      ],
    },
  );
  const list = expectNotices(parseMessageBody(body));
  assert.deepEqual(
    list.map((n) => n.target),
    [
      { kind: "instance", instanceId: "i-0aaaaaaaaaaaaaaa1" },
      { kind: "instance", instanceId: "i-0aaaaaaaaaaaaaaa2" },
    ],
  );
  assert.notEqual(list[0]?.id, list[1]?.id);
});

test("Health events that are not EC2 scheduled changes for an instance are ignored with the reason", () => {
  const h = "health-scheduled-change-ec2.nth";
  expectRejected(parseMessageBody(variant(h, {}, { service: "ECS" })), "ignored", /service ECS/);
  expectRejected(
    parseMessageBody(variant(h, {}, { eventTypeCategory: "issue" })),
    "ignored",
    /category issue/,
  );
  expectRejected(parseMessageBody(variant(h, {}, { statusCode: "closed" })), "ignored", /closed/);
  expectRejected(
    parseMessageBody(variant(h, {}, { affectedEntities: [{ entityValue: "h-0123456789abcdef0" }] })),
    "ignored",
    /no EC2 instance/,
  );
});

test("Health event with an unparseable startTime is malformed; without one the deadline is null", () => {
  const h = "health-scheduled-change-ec2.nth";
  expectRejected(parseMessageBody(variant(h, {}, { startTime: "next Tuesday" })), "malformed", /startTime/);
  const event = JSON.parse(sample(h)) as { detail: Json };
  delete event.detail["startTime"];
  const [n] = expectNotices(parseMessageBody(JSON.stringify(event)));
  assert.equal(n?.deadline, null);
});

// --- Auto Scaling lifecycle ---

const DOCS_HOOK = {
  autoScalingGroupName: "my-asg",
  lifecycleHookName: "my-lifecycle-hook",
  lifecycleActionToken: "87654321-4321-4321-4321-210987654321",
  instanceId: "i-1234567890abcdef0",
};

test("terminate lifecycle action (AWS docs sample): hook ref and deadline = time + 3600 s by default", () => {
  const [n] = expectNotices(parseMessageBody(sample("asg-terminate-lifecycle-action.aws-docs")));
  assert.equal(n?.kind, "asg-lifecycle-terminate");
  assert.deepEqual(n?.lifecycleHook, DOCS_HOOK);
  assert.equal(n?.id, "asg-lifecycle/87654321-4321-4321-4321-210987654321");
  assert.equal(n?.deadline, 3_600_000);
});

test("terminate lifecycle action (NTH sample) with a 300 s heartbeat timeout option", () => {
  const [n] = expectNotices(
    parseMessageBody(sample("asg-terminate-lifecycle-action.nth"), { lifecycleHeartbeatTimeoutSeconds: 300 }),
  );
  assert.equal(n?.deadline, Date.parse("2020-07-01T22:19:58Z") + 300_000);
  assert.equal(n?.lifecycleHook?.lifecycleHookName, "cluster-termination-handler");
});

test("a hook's own notification (no EventBridge envelope) gives the same kind of notice, directly or through SNS", () => {
  const direct = parseMessageBody(sample("asg-lifecycle-hook-notification"));
  const [n] = expectNotices(direct);
  assert.deepEqual(n?.lifecycleHook, {
    autoScalingGroupName: "MarketDataECS-AutoScalingGroup-TZI0DMYKJBJG",
    lifecycleHookName: "MarketDataECS-AutoScalingGroupTerminatingLifecycleHook-65KCAZVO19BF",
    lifecycleActionToken: "602063c7-4a06-4a67-b8cf-87ccc33bdc86",
    instanceId: "i-0194708ef7e24dcc7",
  });
  assert.equal(n?.issuedAt, Date.parse("2018-05-16T20:13:40.414Z"));
  assert.deepEqual(parseMessageBody(snsWrapped(sample("asg-lifecycle-hook-notification"))), direct);
});

test("the Auto Scaling test notification is recognized and ignored, raw, via SNS and via EventBridge", () => {
  for (const body of [
    sample("asg-test-notification"),
    snsWrapped(sample("asg-test-notification")),
    variant(
      "asg-terminate-lifecycle-action.nth",
      {},
      { LifecycleTransition: "autoscaling:TEST_NOTIFICATION" },
    ),
  ]) {
    const result = parseMessageBody(body);
    expectRejected(result, "ignored", /test notification/);
    assert.equal(result.label, "asg-test-notification");
  }
});

test("lifecycle action without a token is malformed; a launch hook message is unknown", () => {
  const event = JSON.parse(sample("asg-terminate-lifecycle-action.nth")) as { detail: Json };
  delete event.detail["LifecycleActionToken"];
  expectRejected(parseMessageBody(JSON.stringify(event)), "malformed", /LifecycleActionToken/);
  const launch = JSON.parse(sample("asg-lifecycle-hook-notification")) as Json;
  launch["LifecycleTransition"] = "autoscaling:EC2_INSTANCE_LAUNCHING";
  expectRejected(parseMessageBody(JSON.stringify(launch)), "unknown", /launch/);
});

// --- envelope ---

test("broken bodies are malformed with a reason", () => {
  expectRejected(parseMessageBody(undefined), "malformed", /empty/);
  expectRejected(parseMessageBody("   "), "malformed", /empty/);
  expectRejected(parseMessageBody("Test Invalid Message"), "malformed", /not JSON/);
  expectRejected(parseMessageBody("[1,2]"), "malformed", /not a JSON object/);
  expectRejected(parseMessageBody(snsWrapped("{oops")), "malformed", /SNS Message is not JSON/);
  const noId = JSON.parse(sample("spot-interruption-warning.nth")) as Json;
  delete noId["id"];
  expectRejected(parseMessageBody(JSON.stringify(noId)), "malformed", /envelope: id/);
});

test("other detail-types, sources, envelope versions and shapes are unknown", () => {
  const s = "spot-interruption-warning.nth";
  expectRejected(
    parseMessageBody(variant(s, { "detail-type": "EC2 Instance-launch Lifecycle Action" })),
    "unknown",
    /not a handled kind/,
  );
  expectRejected(parseMessageBody(variant(s, { source: "my.app" })), "unknown", /my\.app/);
  expectRejected(parseMessageBody(variant(s, { version: "1" })), "unknown", /version 1/);
  expectRejected(parseMessageBody(JSON.stringify({ hello: "world" })), "unknown", /neither/);
});
