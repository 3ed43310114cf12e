/**
 * deploy/iam/controller-policy.json allows exactly the AWS calls the controller can make: every `new XxxCommand(`
 * of an @aws-sdk client in src/ (tests excluded), mapped to its IAM action, is allowed, and nothing else is. The
 * CloudFormation template's ControllerPolicy grants the same actions, and the KMS addition only kms:Decrypt
 * through SQS.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { readTemplate } from "../helpers/cfn.ts";

const ROOT = join(import.meta.dirname, "..", "..");

/** The IAM service prefix of each AWS SDK v3 client package the code may use. */
const IAM_PREFIX: Readonly<Record<string, string>> = {
  "@aws-sdk/client-sqs": "sqs",
  "@aws-sdk/client-auto-scaling": "autoscaling",
  "@aws-sdk/client-kms": "kms",
  "@aws-sdk/client-ec2": "ec2",
  "@aws-sdk/client-eventbridge": "events",
  "@aws-sdk/client-cloudformation": "cloudformation",
};

interface SdkCall {
  file: string;
  action: string;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

/** Names imported from each @aws-sdk package in one file (`import { A, type B, C as D } from "@aws-sdk/x"`). */
function sdkImports(text: string): Map<string, string> {
  const byName = new Map<string, string>();
  for (const m of text.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*"(@aws-sdk\/[^"]+)"/g)) {
    for (const spec of (m[1] ?? "").split(",")) {
      const parts = spec
        .trim()
        .replace(/^type\s+/, "")
        .split(/\s+as\s+/);
      const local = (parts[1] ?? parts[0] ?? "").trim();
      if (local !== "") byName.set(local, m[2] ?? "");
    }
  }
  return byName;
}

/** Every AWS SDK command the product can send: `new XxxCommand(` with XxxCommand imported from an @aws-sdk client. */
function sdkCalls(srcDir: string): SdkCall[] {
  const calls: SdkCall[] = [];
  for (const file of sourceFiles(srcDir)) {
    const text = readFileSync(file, "utf8");
    const imports = sdkImports(text);
    for (const m of text.matchAll(/new\s+([A-Za-z0-9_]+)\s*\(/g)) {
      const name = m[1] ?? "";
      const pkg = imports.get(name);
      if (pkg === undefined || !name.endsWith("Command")) continue;
      const prefix = IAM_PREFIX[pkg];
      assert.ok(
        prefix,
        `${relative(ROOT, file)}: ${name} comes from ${pkg}, which has no IAM prefix here: add it`,
      );
      calls.push({ file: relative(ROOT, file), action: `${prefix}:${name.slice(0, -"Command".length)}` });
    }
  }
  return calls;
}

interface Statement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

const list = (v: string | string[]): string[] => (Array.isArray(v) ? v : [v]);

function readPolicy(name: string): Statement[] {
  const doc = JSON.parse(readFileSync(join(ROOT, "deploy", "iam", name), "utf8")) as {
    Version: string;
    Statement: Statement[];
  };
  assert.equal(doc.Version, "2012-10-17");
  return doc.Statement;
}

const allowed = (statements: Statement[]): Set<string> =>
  new Set(statements.filter((s) => s.Effect === "Allow").flatMap((s) => list(s.Action)));

test("the scanner finds the controller's SQS and Auto Scaling calls where they are made", () => {
  const calls = sdkCalls(join(ROOT, "src"));
  const byAction = new Map(calls.map((c) => [c.action, c.file]));
  assert.equal(byAction.get("sqs:ReceiveMessage"), "src/signals/sqs/consumer.ts");
  assert.equal(byAction.get("autoscaling:CompleteLifecycleAction"), "src/actuators/aws/lifecycle.ts");
});

/**
 * Actions IAM authorizes only against Resource "*": the Service Authorization Reference lists no resource type
 * for them (Amazon EC2 Auto Scaling's Describe* calls).
 */
const ACTIONS_WITHOUT_RESOURCE_TYPES = new Set([
  "autoscaling:DescribeLifecycleHooks",
  "autoscaling:DescribeAutoScalingInstances",
  "autoscaling:DescribeAutoScalingGroups",
]);

/** The opt-in early node (`--early-node`) makes its calls from this file; its grants are a policy of their own. */
const EARLY_NODE_FILE = "src/actuators/aws/early-node.ts";

test("controller-policy.json allows every AWS call in src/ and nothing else", () => {
  const needed = new Set(
    sdkCalls(join(ROOT, "src"))
      .filter((c) => c.file !== EARLY_NODE_FILE)
      .map((c) => c.action),
  );
  const statements = readPolicy("controller-policy.json");
  const granted = allowed(statements);
  assert.deepEqual([...needed].filter((a) => !granted.has(a)).sort(), [], "calls the policy does not allow");
  assert.deepEqual([...granted].filter((a) => !needed.has(a)).sort(), [], "actions the code never uses");
  for (const s of statements) {
    for (const action of list(s.Action)) assert.ok(!action.includes("*"), `no wildcard action: ${action}`);
    for (const resource of list(s.Resource)) {
      if (list(s.Action).every((a) => ACTIONS_WITHOUT_RESOURCE_TYPES.has(a))) continue;
      assert.notEqual(resource, "*", `${s.Sid ?? ""}: no Resource "*"`);
    }
  }
  const sqs = statements.find((s) => list(s.Action).some((a) => a.startsWith("sqs:")));
  assert.deepEqual(list(sqs?.Resource ?? []), ["arn:aws:sqs:${AWS_REGION}:${AWS_ACCOUNT_ID}:${QUEUE_NAME}"]);
});

test("controller-policy-early-node.json allows exactly the early node's calls, raising only Auto Scaling groups", () => {
  const needed = new Set(
    sdkCalls(join(ROOT, "src"))
      .filter((c) => c.file === EARLY_NODE_FILE)
      .map((c) => c.action),
  );
  assert.ok(needed.has("autoscaling:SetDesiredCapacity"), "the scanner finds the early node's calls");
  const statements = readPolicy("controller-policy-early-node.json");
  assert.deepEqual([...allowed(statements)].sort(), [...needed].sort());
  for (const s of statements) {
    if (list(s.Action).every((a) => ACTIONS_WITHOUT_RESOURCE_TYPES.has(a))) continue;
    assert.deepEqual(list(s.Resource), [
      "arn:aws:autoscaling:${AWS_REGION}:${AWS_ACCOUNT_ID}:autoScalingGroup:*:autoScalingGroupName/*",
    ]);
  }
});

test("controller-policy-kms.json adds only kms:Decrypt on one key, and only through SQS", () => {
  const statements = readPolicy("controller-policy-kms.json");
  assert.deepEqual([...allowed(statements)], ["kms:Decrypt"]);
  assert.deepEqual(list(statements[0]?.Resource ?? []), ["${KMS_KEY_ARN}"]);
  assert.deepEqual(statements[0]?.Condition, {
    StringEquals: { "kms:ViaService": "sqs.${AWS_REGION}.amazonaws.com" },
  });
});

test("the CloudFormation stack's ControllerPolicy grants the same actions as deploy/iam", () => {
  const template = readTemplate();
  const statementsOf = (name: string): Statement[] => {
    const resource = template.Resources[name];
    assert.equal(resource?.Type, "AWS::IAM::ManagedPolicy");
    return (resource?.Properties["PolicyDocument"] as { Statement: Statement[] }).Statement;
  };
  assert.deepEqual(
    [...allowed(statementsOf("ControllerPolicy"))].sort(),
    [...allowed(readPolicy("controller-policy.json"))].sort(),
  );
  const kms = statementsOf("ControllerKmsPolicy");
  assert.deepEqual(allowed(kms), new Set(["kms:Decrypt"]));
  assert.deepEqual(kms[0]?.Condition?.["StringEquals"], {
    "kms:ViaService": { "Fn::Sub": "sqs.${AWS::Region}.${AWS::URLSuffix}" },
  });
  assert.equal(
    (template.Resources["ControllerKmsPolicy"] as unknown as { Condition?: string }).Condition,
    "UseCustomerKey",
  );
});

test("the trust policies: IRSA pins the service account and audience; Pod Identity trusts only the EKS agent", () => {
  const irsa = readPolicy("irsa-trust-policy.json");
  assert.deepEqual(list(irsa[0]?.Action ?? []), ["sts:AssumeRoleWithWebIdentity"]);
  assert.deepEqual(irsa[0]?.Condition?.["StringEquals"], {
    "${OIDC_PROVIDER}:aud": "sts.amazonaws.com",
    "${OIDC_PROVIDER}:sub": "system:serviceaccount:${NAMESPACE}:${SERVICE_ACCOUNT}",
  });
  const pod = JSON.parse(
    readFileSync(join(ROOT, "deploy", "iam", "pod-identity-trust-policy.json"), "utf8"),
  ) as {
    Statement: { Principal: unknown; Action: string[] }[];
  };
  assert.deepEqual(pod.Statement[0]?.Principal, { Service: "pods.eks.amazonaws.com" });
  assert.deepEqual(pod.Statement[0]?.Action, ["sts:AssumeRole", "sts:TagSession"]);
});
