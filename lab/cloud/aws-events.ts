/**
 * The two event kinds lifeboat reads that do not come from EC2 itself, shaped like the published samples in
 * test/fixtures/events: AWS Health's scheduled change for EC2 and Auto Scaling's terminate lifecycle action.
 * (EC2's own events are in ./messages.ts.)
 */
import { randomUUID } from "node:crypto";
import { LAB_ACCOUNT, eventTime, type InstanceRef } from "./messages.ts";

export const HEALTH_EVENT = "AWS Health Event";
export const ASG_TERMINATE_LIFECYCLE_ACTION = "EC2 Instance-terminate Lifecycle Action";

export interface AwsEvent<D> {
  version: "0";
  id: string;
  "detail-type": string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: D;
}

/** RFC 1123, as AWS Health writes startTime ("Sat, 05 Jun 2016 15:10:09 GMT"). */
const rfc1123 = (d: Date): string => d.toUTCString();

/** An AWS Health scheduled change (e.g. instance retirement) for one instance, starting at `start`. */
export function healthScheduledChange(
  ref: InstanceRef,
  at: Date,
  start: Date,
  eventTypeCode = "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED",
): AwsEvent<Record<string, unknown>> {
  const account = ref.account ?? LAB_ACCOUNT;
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": HEALTH_EVENT,
    source: "aws.health",
    account,
    time: eventTime(at),
    region: ref.region,
    resources: [ref.instanceId],
    detail: {
      eventArn: `arn:aws:health:${ref.region}::event/EC2/${eventTypeCode}/${randomUUID()}`,
      service: "EC2",
      eventTypeCode,
      eventTypeCategory: "scheduledChange",
      startTime: rfc1123(start),
      eventDescription: [
        { language: "en_US", latestDescription: "The instance is scheduled for retirement." },
      ],
      affectedEntities: [{ entityValue: ref.instanceId }],
    },
  };
}

export interface HookRef {
  autoScalingGroupName: string;
  lifecycleHookName: string;
}

/** Auto Scaling's terminate lifecycle action for one instance of a group with a terminate hook. */
export function asgTerminateLifecycleAction(
  ref: InstanceRef,
  at: Date,
  hook: HookRef,
): AwsEvent<Record<string, string>> {
  const account = ref.account ?? LAB_ACCOUNT;
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": ASG_TERMINATE_LIFECYCLE_ACTION,
    source: "aws.autoscaling",
    account,
    time: eventTime(at),
    region: ref.region,
    resources: [
      `arn:aws:autoscaling:${ref.region}:${account}:autoScalingGroup:${randomUUID()}:autoScalingGroupName/${hook.autoScalingGroupName}`,
    ],
    detail: {
      LifecycleActionToken: randomUUID(),
      AutoScalingGroupName: hook.autoScalingGroupName,
      LifecycleHookName: hook.lifecycleHookName,
      EC2InstanceId: ref.instanceId,
      LifecycleTransition: "autoscaling:EC2_INSTANCE_TERMINATING",
    },
  };
}
