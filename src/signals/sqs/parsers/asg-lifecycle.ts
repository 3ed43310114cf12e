import { z } from "zod";
import type { LifecycleHookRef } from "../../../domain/notice.ts";
import type { EventBridgeEnvelope, LabelledParseResult, ParserOptions } from "./types.ts";
import {
  DEFAULT_LIFECYCLE_HEARTBEAT_TIMEOUT_SECONDS,
  describeIssues,
  eventTime,
  ignored,
  instanceId,
  malformed,
  notices,
  parseTimestamp,
} from "./types.ts";

export const SOURCE = "aws.autoscaling";
export const DETAIL_TYPE = "EC2 Instance-terminate Lifecycle Action";
export const TEST_NOTIFICATION = "autoscaling:TEST_NOTIFICATION";
export const TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING";

const hookFields = z.object({
  LifecycleActionToken: z.string().min(1),
  AutoScalingGroupName: z.string().min(1),
  LifecycleHookName: z.string().min(1),
  EC2InstanceId: instanceId,
  LifecycleTransition: z.literal(TERMINATING),
});

/** A test notification, in the EventBridge detail or as a hook's own message (`Event` field). */
export function isTestNotification(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return v["Event"] === TEST_NOTIFICATION || v["LifecycleTransition"] === TEST_NOTIFICATION;
}

/**
 * `EC2 Instance-terminate Lifecycle Action` from EventBridge -> one `asg-lifecycle-terminate` notice carrying the
 * hook to heartbeat and complete. Deadline: event time + the hook's heartbeat timeout (option, default 3600 s),
 * the moment Auto Scaling applies the hook's default result unless heartbeats extend it.
 */
export function parseAsgLifecycleEvent(
  event: EventBridgeEnvelope,
  options: ParserOptions,
): LabelledParseResult {
  const label = "asg-lifecycle-terminate";
  if (isTestNotification(event.detail))
    return ignored("asg-test-notification", `event ${event.id}: Auto Scaling test notification`);
  const parsed = hookFields.safeParse(event.detail);
  if (!parsed.success) return malformed(label, `event ${event.id}: detail: ${describeIssues(parsed.error)}`);
  const time = eventTime(event, label);
  if (typeof time !== "number") return time;
  return hookNotice(parsed.data, time, options);
}

const hookMessage = hookFields.extend({
  LifecycleTransition: z.string(),
  Time: z.string(),
  Service: z.string().optional(),
});

/**
 * A lifecycle hook's own notification (the hook's target is the queue, no EventBridge envelope):
 * `{ Service: "AWS Auto Scaling", LifecycleTransition, LifecycleActionToken, EC2InstanceId, Time, ... }`, and the
 * `autoscaling:TEST_NOTIFICATION` sent when the hook is created, which is ignored.
 */
export function parseAsgHookMessage(
  body: Record<string, unknown>,
  options: ParserOptions,
): LabelledParseResult {
  const label = "asg-lifecycle-terminate";
  if (isTestNotification(body)) return ignored("asg-test-notification", "Auto Scaling test notification");
  if (body["LifecycleTransition"] === "autoscaling:EC2_INSTANCE_LAUNCHING") {
    return {
      kind: "unknown",
      reason: "launch lifecycle actions are not handled",
      label: "asg-launch-lifecycle",
    };
  }
  const parsed = hookMessage.safeParse(body);
  if (!parsed.success) return malformed(label, `lifecycle hook message: ${describeIssues(parsed.error)}`);
  if (parsed.data.LifecycleTransition !== TERMINATING) {
    return {
      kind: "unknown",
      reason: `lifecycle transition ${parsed.data.LifecycleTransition} is not handled`,
      label: "unknown",
    };
  }
  const time = parseTimestamp(parsed.data.Time);
  if (time === null)
    return malformed(
      label,
      `lifecycle hook message: Time ${JSON.stringify(parsed.data.Time)} is not a timestamp`,
    );
  return hookNotice(parsed.data, time, options);
}

type HookIdentity = Omit<z.infer<typeof hookFields>, "LifecycleTransition">;

function hookNotice(fields: HookIdentity, time: number, options: ParserOptions): LabelledParseResult {
  const timeoutS = options.lifecycleHeartbeatTimeoutSeconds ?? DEFAULT_LIFECYCLE_HEARTBEAT_TIMEOUT_SECONDS;
  const hook: LifecycleHookRef = {
    autoScalingGroupName: fields.AutoScalingGroupName,
    lifecycleHookName: fields.LifecycleHookName,
    lifecycleActionToken: fields.LifecycleActionToken,
    instanceId: fields.EC2InstanceId,
  };
  return notices("asg-lifecycle-terminate", [
    {
      // The token identifies the lifecycle action whichever way it arrived (EventBridge or the hook's own target).
      id: `asg-lifecycle/${fields.LifecycleActionToken}`,
      kind: "asg-lifecycle-terminate",
      source: "sqs",
      target: { kind: "instance", instanceId: fields.EC2InstanceId },
      issuedAt: time,
      deadline: time + timeoutS * 1000,
      lifecycleHook: hook,
      summary: `Auto Scaling group ${hook.autoScalingGroupName} is terminating ${hook.instanceId} (hook ${hook.lifecycleHookName})`,
    },
  ]);
}
