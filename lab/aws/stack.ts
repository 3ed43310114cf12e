/**
 * The shipped CloudFormation template (deploy/cloudformation/lifeboat.yaml) deployed into moto, so the lab's queue and
 * EventBridge rules are the ones users deploy: the cloud simulator publishes with PutEvents and the rules route.
 *
 *   const stack = await deployInterruptionStack(moto, { clusterName: "lab" });
 *   stack.queueUrl  // what `lifeboat run --queue-url` reads
 *
 * What moto 5.2.5 does with the template (checked in test/integration/eventbridge-stack.test.ts):
 * - AWS::SQS::Queue (retention, SSE flag, redrive policy to the dead-letter queue), AWS::Events::Rule (pattern and
 *   SQS target) and AWS::IAM::ManagedPolicy are created; PutEvents on the default bus delivers each event to the
 *   SQS target of every rule whose pattern matches it.
 * - AWS::SQS::QueuePolicy is not implemented by moto's CloudFormation (skipped with a warning), and moto's SQS does
 *   not evaluate queue policies anyway: the policy is checked by cfn-lint and by a structural test instead.
 * - Real EventBridge refuses PutEvents with a reserved `aws.*` source; moto accepts it, which lets the lab play
 *   EC2, AWS Health and Auto Scaling.
 */
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
  type Output,
} from "@aws-sdk/client-cloudformation";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Moto } from "./moto.ts";

export const TEMPLATE_PATH = fileURLToPath(
  new URL("../../deploy/cloudformation/lifeboat.yaml", import.meta.url),
);

export interface InterruptionStack {
  stackName: string;
  queueUrl: string;
  queueArn: string;
  deadLetterQueueUrl: string;
  deadLetterQueueArn: string;
  controllerPolicyArn: string;
  /** Every output of the stack by key. */
  outputs: Readonly<Record<string, string>>;
}

export interface StackOptions {
  /** The template's ClusterName parameter. Default "lab". */
  clusterName?: string;
  /** Default `lifeboat-<clusterName>`. */
  stackName?: string;
  /** Other template parameters (e.g. MaxReceiveCount). */
  parameters?: Readonly<Record<string, string>>;
  /** How long to wait for CREATE_COMPLETE, ms. Default 30000. */
  timeoutMs?: number;
}

export class StackDeployError extends Error {
  override readonly name = "StackDeployError";
  readonly stackName: string;
  readonly status: string;
  constructor(stackName: string, status: string, reason: string) {
    super(`stack ${stackName}: ${status}${reason === "" ? "" : `: ${reason}`}`);
    this.stackName = stackName;
    this.status = status;
  }
}

export function cloudFormationClient(moto: Moto): CloudFormationClient {
  return new CloudFormationClient({
    endpoint: moto.endpoint,
    region: moto.region,
    credentials: { ...moto.credentials },
    maxAttempts: 1,
  });
}

/** Creates the stack from the shipped template and resolves with its outputs once it is CREATE_COMPLETE. */
export async function deployInterruptionStack(
  moto: Moto,
  options: StackOptions = {},
): Promise<InterruptionStack> {
  const clusterName = options.clusterName ?? "lab";
  const stackName = options.stackName ?? `lifeboat-${clusterName}`;
  const parameters = { ClusterName: clusterName, ...options.parameters };
  const cfn = cloudFormationClient(moto);
  try {
    await cfn.send(
      new CreateStackCommand({
        StackName: stackName,
        TemplateBody: readFileSync(TEMPLATE_PATH, "utf8"),
        Parameters: Object.entries(parameters).map(([ParameterKey, ParameterValue]) => ({
          ParameterKey,
          ParameterValue,
        })),
        Capabilities: ["CAPABILITY_NAMED_IAM"],
      }),
    );
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    for (;;) {
      const stack = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
      const status = stack?.StackStatus ?? "MISSING";
      if (status === "CREATE_COMPLETE") return stackOf(stackName, stack?.Outputs ?? []);
      if (!status.endsWith("_IN_PROGRESS") || Date.now() > deadline) {
        throw new StackDeployError(stackName, status, stack?.StackStatusReason ?? "");
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    cfn.destroy();
  }
}

function stackOf(stackName: string, list: readonly Output[]): InterruptionStack {
  const outputs: Record<string, string> = {};
  for (const o of list) if (o.OutputKey !== undefined) outputs[o.OutputKey] = o.OutputValue ?? "";
  const need = (key: string): string => {
    const value = outputs[key];
    if (value === undefined || value === "")
      throw new StackDeployError(stackName, "CREATE_COMPLETE", `no output ${key}`);
    return value;
  };
  return {
    stackName,
    queueUrl: need("QueueUrl"),
    queueArn: need("QueueArn"),
    deadLetterQueueUrl: need("DeadLetterQueueUrl"),
    deadLetterQueueArn: need("DeadLetterQueueArn"),
    controllerPolicyArn: need("ControllerPolicyArn"),
    outputs,
  };
}
