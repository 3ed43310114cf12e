/**
 * The shipped CloudFormation stack in moto: CreateStack deploys it; every event kind lifeboat reads, published with
 * EventBridge PutEvents, travels the template's rules into the queue (and events the rules leave out do not); and,
 * with the controller consuming the queue, each kind becomes an Evacuation of the right node.
 * What moto does not do (queue policies) is checked in test/deploy/cloudformation.test.ts.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { ListRulesCommand, ListTargetsByRuleCommand } from "@aws-sdk/client-eventbridge";
import { eventBridgeClient, putEvent, type PublishableEvent } from "../../lab/aws/eventbridge.ts";
import { startMoto, type Moto } from "../../lab/aws/moto.ts";
import { deployInterruptionStack, type InterruptionStack } from "../../lab/aws/stack.ts";
import { asgTerminateLifecycleAction, healthScheduledChange } from "../../lab/cloud/aws-events.ts";
import { rebalanceRecommendation, spotInterruptionWarning, stateChange } from "../../lab/cloud/messages.ts";
import { parseMessageBody } from "../../src/signals/sqs/parsers/index.ts";
import { startController, type ControllerProcess } from "../helpers/controller-process.ts";
import {
  EVACUATED_MARKS,
  evacuationMarks,
  REGION,
  startControllerLab,
  type ControllerLab,
} from "../helpers/lab-env.ts";
import { waitFor } from "../helpers/wait.ts";

const WAIT = { timeoutMs: 30_000, intervalMs: 100 };

/** One event of each kind lifeboat reads, for the instance `i`. */
function eventsFor(instances: readonly string[]): { label: string; event: PublishableEvent }[] {
  const at = new Date();
  const ref = (n: number) => ({ instanceId: instances[n % instances.length] ?? "", region: REGION });
  return [
    { label: "spot-interruption", event: spotInterruptionWarning(ref(0), at) },
    { label: "rebalance-recommendation", event: rebalanceRecommendation(ref(1), at) },
    { label: "instance-state-change", event: stateChange(ref(2), at, "terminated") },
    { label: "scheduled-change", event: healthScheduledChange(ref(3), at, new Date(at.getTime() + 600_000)) },
    {
      label: "asg-lifecycle-terminate",
      event: asgTerminateLifecycleAction(ref(4), at, {
        autoScalingGroupName: "eks-spot-web",
        lifecycleHookName: "lifeboat-terminate",
      }),
    },
  ];
}

async function drain(sqs: SQSClient, queueUrl: string, expected: number): Promise<string[]> {
  const bodies: string[] = [];
  await waitFor(
    `${expected} messages in the queue`,
    async () => {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const m of out.Messages ?? []) bodies.push(m.Body ?? "");
      return bodies.length >= expected ? true : undefined;
    },
    WAIT,
  );
  return bodies;
}

describe("the CloudFormation stack in moto", () => {
  let moto: Moto;
  let stack: InterruptionStack;

  before(async () => {
    moto = await startMoto({ region: REGION });
    stack = await deployInterruptionStack(moto, { clusterName: "prod-eu" });
  });
  after(async () => {
    await moto.stop();
  });

  it("deploys: an SSE queue with 300 s retention redriving to its dead-letter queue, five rules targeting it", async () => {
    const sqs = moto.sqsClient();
    const attributes = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: stack.queueUrl, AttributeNames: ["All"] }))
    ).Attributes;
    assert.equal(attributes?.["MessageRetentionPeriod"], "300");
    assert.equal(attributes?.["SqsManagedSseEnabled"], "true");
    assert.equal(attributes?.["QueueArn"], stack.queueArn);
    assert.deepEqual(JSON.parse(attributes?.["RedrivePolicy"] ?? "{}"), {
      deadLetterTargetArn: stack.deadLetterQueueArn,
      maxReceiveCount: 3,
    });
    assert.match(stack.queueUrl, /\/lifeboat-prod-eu$/);
    const events = eventBridgeClient(moto);
    const rules = (await events.send(new ListRulesCommand({}))).Rules ?? [];
    assert.equal(rules.length, 5);
    for (const rule of rules) {
      const targets = (await events.send(new ListTargetsByRuleCommand({ Rule: rule.Name }))).Targets ?? [];
      assert.deepEqual(
        targets.map((t) => t.Arn),
        [stack.queueArn],
        `${rule.Name ?? ""} targets the queue`,
      );
    }
  });

  it("with a customer managed key: the queues use it, and the stack adds the kms:Decrypt policy", async () => {
    const key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const withKey = await deployInterruptionStack(moto, {
      clusterName: "kms",
      parameters: { KmsMasterKeyId: key },
    });
    const attributes = (
      await moto
        .sqsClient()
        .send(new GetQueueAttributesCommand({ QueueUrl: withKey.queueUrl, AttributeNames: ["All"] }))
    ).Attributes;
    assert.equal(attributes?.["KmsMasterKeyId"], key);
    assert.match(withKey.outputs["ControllerKmsPolicyArn"] ?? "", /policy\/lifeboat-controller-kms-kms$/);
    assert.equal(stack.outputs["ControllerKmsPolicyArn"], undefined, "no KMS policy without a customer key");
  });

  it("each kind lifeboat reads, published with PutEvents, reaches the queue through the rules", async () => {
    const events = eventBridgeClient(moto);
    const sent = eventsFor(["i-0aaaaaaaaaaaaaaa1"]);
    for (const { event } of sent) await putEvent(events, event);
    const bodies = await drain(moto.sqsClient(), stack.queueUrl, sent.length);
    const labels = bodies.map((b) => parseMessageBody(b).label).sort();
    assert.deepEqual(labels, sent.map((s) => s.label).sort());
    for (const body of bodies) {
      const parsed = parseMessageBody(body);
      assert.equal(parsed.kind, "notices", body);
      const notice = parsed.kind === "notices" ? parsed.notices[0] : undefined;
      assert.deepEqual(notice?.target, { kind: "instance", instanceId: "i-0aaaaaaaaaaaaaaa1" });
    }
  });

  it("events the rules leave out never reach the queue", async () => {
    const events = eventBridgeClient(moto);
    const ref = { instanceId: "i-0bbbbbbbbbbbbbbb2", region: REGION };
    const at = new Date();
    const pending = stateChange(ref, at, "running");
    const rds = healthScheduledChange(ref, at, new Date(at.getTime() + 600_000));
    (rds.detail as { service: string }).service = "RDS";
    const launch = {
      ...asgTerminateLifecycleAction(ref, at, { autoScalingGroupName: "g", lifecycleHookName: "h" }),
      "detail-type": "EC2 Instance-launch Lifecycle Action",
    };
    for (const e of [pending, rds, launch]) await putEvent(events, e);
    // A marker that does match, sent last: once it is in, the three before it would be too.
    await putEvent(events, spotInterruptionWarning(ref, at));
    const bodies = await drain(moto.sqsClient(), stack.queueUrl, 1);
    assert.deepEqual(
      bodies.map((b) => (JSON.parse(b) as { "detail-type": string })["detail-type"]),
      ["EC2 Spot Instance Interruption Warning"],
    );
    const after = await moto
      .sqsClient()
      .send(new ReceiveMessageCommand({ QueueUrl: stack.queueUrl, WaitTimeSeconds: 1 }));
    assert.equal(after.Messages?.length ?? 0, 0);
  });
});

describe("PutEvents through the stack to Evacuations", { timeout: 300_000 }, () => {
  let env: ControllerLab;
  let controller: ControllerProcess;

  before(async () => {
    env = await startControllerLab({
      nodeGroups: [{ name: "eb", zone: "us-east-1a", count: 5 }],
      queue: "stack",
    });
    controller = await startController(env.handlerContext("controller.log"));
  });
  after(async () => {
    await controller.stop();
    await env[Symbol.asyncDispose]();
  });

  it("each event kind becomes an Evacuation of its instance's node", async () => {
    const nodes = env.lab.nodes.filter((n) => n.nodeGroup === "eb");
    assert.equal(nodes.length, 5);
    const sent = eventsFor(nodes.map((n) => n.instanceId));
    const events = eventBridgeClient(env.moto);
    for (const { event } of sent) await putEvent(events, event);
    const kinds = await waitFor(
      "an Evacuation for every node",
      async () => {
        const byNode = new Map((await env.evacuations()).map((e) => [e.spec.nodeName, e.spec.noticeKind]));
        return nodes.every((n) => byNode.has(n.name)) ? nodes.map((n) => byNode.get(n.name)) : undefined;
      },
      { ...WAIT, alive: controller.assertRunning },
    );
    assert.deepEqual(
      kinds,
      sent.map((s) => s.label),
    );
    await waitFor(
      "the spot-warned node cordoned, tainted and out of the load balancers",
      async () => {
        const node = await env.lab.core.readNode({ name: nodes[0]?.name ?? "" });
        return isDeepStrictEqual(evacuationMarks(node), EVACUATED_MARKS) ? true : undefined;
      },
      { ...WAIT, alive: controller.assertRunning },
    );
    await waitFor(
      "every message deleted after it was handled",
      async () => {
        const d = await env.queueDepth();
        return d.visible === 0 && d.inFlight === 0 ? true : undefined;
      },
      { ...WAIT, alive: controller.assertRunning },
    );
  });
});
