import { z } from "zod";
import type { InstanceState } from "../../../domain/notice.ts";
import type { EventBridgeEnvelope, LabelledParseResult } from "./types.ts";
import { describeIssues, eventTime, ignored, instanceId, malformed, notices } from "./types.ts";

export const SOURCE = "aws.ec2";
export const DETAIL_TYPE = "EC2 Instance State-change Notification";

const detail = z.object({
  "instance-id": instanceId,
  state: z.enum(["pending", "running", "stopping", "stopped", "shutting-down", "terminated"]),
});

/** The states that mean the instance is going away now. */
export const LEAVING_STATES: ReadonlySet<InstanceState> = new Set([
  "stopping",
  "stopped",
  "shutting-down",
  "terminated",
]);

/**
 * `EC2 Instance State-change Notification` -> an `instance-state-change` notice whose deadline is the event time
 * (the instance is already leaving) for stopping, stopped, shutting-down and terminated; pending and running are
 * ignored with a reason.
 */
export function parseStateChange(event: EventBridgeEnvelope): LabelledParseResult {
  const label = "instance-state-change";
  const parsed = detail.safeParse(event.detail);
  if (!parsed.success) return malformed(label, `event ${event.id}: detail: ${describeIssues(parsed.error)}`);
  const time = eventTime(event, label);
  if (typeof time !== "number") return time;
  const { state } = parsed.data;
  const id = parsed.data["instance-id"];
  if (!LEAVING_STATES.has(state)) {
    return ignored(label, `event ${event.id}: ${id} entered state ${state}, which does not take it away`);
  }
  return notices(label, [
    {
      id: event.id,
      kind: "instance-state-change",
      source: "sqs",
      target: { kind: "instance", instanceId: id },
      issuedAt: time,
      deadline: time,
      instanceState: state,
      summary: `instance state change: ${id} is ${state}`,
    },
  ]);
}
