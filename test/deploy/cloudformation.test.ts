/**
 * deploy/cloudformation/lifeboat.yaml: cfn-lint (pinned, lab/setup/install-cfn-lint.sh) finds nothing, errors,
 * warnings and informational checks included; the rules ask for exactly the event kinds lifeboat parses; the queue
 * policy lets EventBridge send for these rules only and refuses plain HTTP (moto neither deploys nor enforces queue
 * policies, so this is checked here).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cacheDir, readVersions } from "../../lab/controlplane/binaries.ts";
import * as asg from "../../src/signals/sqs/parsers/asg-lifecycle.ts";
import * as rebalance from "../../src/signals/sqs/parsers/rebalance-recommendation.ts";
import * as scheduled from "../../src/signals/sqs/parsers/scheduled-change.ts";
import * as spot from "../../src/signals/sqs/parsers/spot-interruption.ts";
import * as stateChange from "../../src/signals/sqs/parsers/state-change.ts";
import { readTemplate, TEMPLATE_FILE, type CfnResource } from "../helpers/cfn.ts";

const CFN_LINT = join(cacheDir(), `cfn-lint-${readVersions().CFN_LINT_VERSION}`, "bin", "cfn-lint");

function cfnLint(path: string): { status: number | null; output: string } {
  assert.ok(existsSync(CFN_LINT), `cfn-lint not found at ${CFN_LINT}: run lab/setup/install-cfn-lint.sh`);
  const run = spawnSync(CFN_LINT, ["--include-checks", "I", "--", path], { encoding: "utf8" });
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

test("cfn-lint passes on the template, informational checks included", () => {
  assert.deepEqual(cfnLint(TEMPLATE_FILE), { status: 0, output: "" });
});

test("cfn-lint does run: a retention above the SQS maximum fails", () => {
  const dir = mkdtempSync(join(tmpdir(), "lifeboat-cfn-"));
  try {
    const broken = join(dir, "broken.yaml");
    const text = readFileSync(TEMPLATE_FILE, "utf8").replace(
      "MessageRetentionPeriod: 1209600",
      "MessageRetentionPeriod: 1209601",
    );
    assert.notEqual(text, readFileSync(TEMPLATE_FILE, "utf8"));
    writeFileSync(broken, text);
    const result = cfnLint(broken);
    assert.notEqual(result.status, 0);
    assert.match(result.output, /1209601/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const resources = (type: string): [string, CfnResource][] =>
  Object.entries(readTemplate().Resources).filter(([, r]) => r.Type === type);

test("one rule per kind lifeboat parses, each targeting the interruption queue", () => {
  const rules = resources("AWS::Events::Rule");
  const kinds = rules.map(([, r]) => {
    const pattern = r.Properties["EventPattern"] as { source: string[]; "detail-type": string[] };
    assert.deepEqual(r.Properties["Targets"], [
      { Id: "lifeboat-interruption-queue", Arn: { "Fn::GetAtt": ["InterruptionQueue", "Arn"] } },
    ]);
    assert.equal(r.Properties["State"], "ENABLED");
    return `${pattern.source.join()} / ${pattern["detail-type"].join()}`;
  });
  const parsed = [spot, rebalance, stateChange, scheduled, asg].map((p) => `${p.SOURCE} / ${p.DETAIL_TYPE}`);
  assert.deepEqual(kinds.sort(), parsed.sort());
});

test("the state-change rule asks only for the states that take an instance away", () => {
  const [, rule] = resources("AWS::Events::Rule").find(([name]) => name === "InstanceStateChangeRule") ?? [];
  const pattern = rule?.Properties["EventPattern"] as { detail: { state: string[] } };
  assert.deepEqual(new Set(pattern.detail.state), stateChange.LEAVING_STATES);
});

test("queue: SSE, 300 s retention, redrive to a dead-letter queue that keeps messages 14 days", () => {
  const { Resources } = readTemplate();
  const queue = Resources["InterruptionQueue"]?.Properties ?? {};
  assert.deepEqual(queue["MessageRetentionPeriod"], { Ref: "MessageRetentionSeconds" });
  assert.equal(readTemplate().Parameters["MessageRetentionSeconds"]?.["Default"], 300);
  assert.deepEqual(queue["SqsManagedSseEnabled"], {
    "Fn::If": ["UseCustomerKey", { Ref: "AWS::NoValue" }, true],
  });
  assert.deepEqual(queue["RedrivePolicy"], {
    deadLetterTargetArn: { "Fn::GetAtt": ["DeadLetterQueue", "Arn"] },
    maxReceiveCount: { Ref: "MaxReceiveCount" },
  });
  assert.equal(Resources["DeadLetterQueue"]?.Properties["MessageRetentionPeriod"], 1209600);
});

test("queue policy: EventBridge may send for this stack's rules only; no access without TLS to either queue", () => {
  const rules = resources("AWS::Events::Rule").map(([name]) => ({ "Fn::GetAtt": [name, "Arn"] }));
  const policies = Object.fromEntries(
    resources("AWS::SQS::QueuePolicy").map(([, r]) => {
      const queues = r.Properties["Queues"] as { Ref: string }[];
      const doc = r.Properties["PolicyDocument"] as { Statement: Record<string, unknown>[] };
      return [queues.map((q) => q.Ref).join(), doc.Statement];
    }),
  );
  const denyHttp = (queue: string) => ({
    Sid: "DenyWithoutTLS",
    Effect: "Deny",
    Principal: "*",
    Action: "sqs:*",
    Resource: { "Fn::GetAtt": [queue, "Arn"] },
    Condition: { Bool: { "aws:SecureTransport": "false" } },
  });
  assert.deepEqual(policies["InterruptionQueue"], [
    {
      Sid: "EventBridgeSendsThisStacksRules",
      Effect: "Allow",
      Principal: { Service: "events.amazonaws.com" },
      Action: "sqs:SendMessage",
      Resource: { "Fn::GetAtt": ["InterruptionQueue", "Arn"] },
      Condition: { ArnEquals: { "aws:SourceArn": rules } },
    },
    denyHttp("InterruptionQueue"),
  ]);
  assert.deepEqual(policies["DeadLetterQueue"], [denyHttp("DeadLetterQueue")]);
});

test("outputs: queue URL and ARN, dead-letter queue, controller policy", () => {
  assert.deepEqual(Object.keys(readTemplate().Outputs).sort(), [
    "ControllerKmsPolicyArn",
    "ControllerPolicyArn",
    "DeadLetterQueueArn",
    "DeadLetterQueueUrl",
    "QueueArn",
    "QueueName",
    "QueueUrl",
  ]);
});
