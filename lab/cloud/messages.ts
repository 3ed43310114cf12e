/**
 * EventBridge events exactly as EC2 puts them into an SQS queue (the rule's target), shaped like the published
 * samples in test/fixtures/events (EC2 User Guide; aws-node-termination-handler's sqsevent package).
 */
import { randomUUID } from "node:crypto";

export const SPOT_WARNING = "EC2 Spot Instance Interruption Warning";
export const REBALANCE_RECOMMENDATION = "EC2 Instance Rebalance Recommendation";
export const STATE_CHANGE = "EC2 Instance State-change Notification";

/** The lab's fake account (the one AWS uses in its samples). */
export const LAB_ACCOUNT = "123456789012";

export type DetailType = typeof SPOT_WARNING | typeof REBALANCE_RECOMMENDATION | typeof STATE_CHANGE;

export interface Ec2Event<D> {
  version: "0";
  id: string;
  "detail-type": DetailType;
  source: "aws.ec2";
  account: string;
  /** ISO 8601 without milliseconds, e.g. 2020-10-26T14:14:14Z. */
  time: string;
  region: string;
  resources: string[];
  detail: D;
}

export interface InstanceRef {
  instanceId: string;
  region: string;
  account?: string;
}

/** EventBridge's `time`: second precision, Z suffix. */
export function eventTime(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function envelope<D>(detailType: DetailType, ref: InstanceRef, at: Date, detail: D): Ec2Event<D> {
  const account = ref.account ?? LAB_ACCOUNT;
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": detailType,
    source: "aws.ec2",
    account,
    time: eventTime(at),
    region: ref.region,
    resources: [`arn:aws:ec2:${ref.region}:${account}:instance/${ref.instanceId}`],
    detail,
  };
}

/** The two-minute warning; `at` is when EC2 issued it (the instance goes away about 120 s later). */
export function spotInterruptionWarning(
  ref: InstanceRef,
  at: Date,
): Ec2Event<{ "instance-id": string; "instance-action": "terminate" }> {
  return envelope(SPOT_WARNING, ref, at, { "instance-id": ref.instanceId, "instance-action": "terminate" });
}

export function rebalanceRecommendation(ref: InstanceRef, at: Date): Ec2Event<{ "instance-id": string }> {
  return envelope(REBALANCE_RECOMMENDATION, ref, at, { "instance-id": ref.instanceId });
}

export type Ec2State = "pending" | "running" | "stopping" | "stopped" | "shutting-down" | "terminated";

export function stateChange(
  ref: InstanceRef,
  at: Date,
  state: Ec2State,
): Ec2Event<{ "instance-id": string; state: Ec2State }> {
  return envelope(STATE_CHANGE, ref, at, { "instance-id": ref.instanceId, state });
}
