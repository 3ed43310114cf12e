import { z } from "zod";
import type { EventBridgeEnvelope, LabelledParseResult } from "./types.ts";
import { describeIssues, eventTime, instanceId, malformed, notices } from "./types.ts";

export const SOURCE = "aws.ec2";
export const DETAIL_TYPE = "EC2 Spot Instance Interruption Warning";

/** EC2 reclaims a spot instance about two minutes after this warning (EC2 User Guide, spot interruption notices). */
export const SPOT_WARNING_LEAD_MS = 120_000;

const detail = z.object({
  "instance-id": instanceId,
  "instance-action": z.enum(["terminate", "stop", "hibernate"]),
});

/**
 * `EC2 Spot Instance Interruption Warning` -> one `spot-interruption` notice. Deadline: event time + 2 minutes for
 * terminate and stop; event time itself for hibernate, which "begins immediately" with no two-minute warning.
 */
export function parseSpotInterruption(event: EventBridgeEnvelope): LabelledParseResult {
  const label = "spot-interruption";
  const parsed = detail.safeParse(event.detail);
  if (!parsed.success) return malformed(label, `event ${event.id}: detail: ${describeIssues(parsed.error)}`);
  const time = eventTime(event, label);
  if (typeof time !== "number") return time;
  const id = parsed.data["instance-id"];
  const action = parsed.data["instance-action"];
  const deadline = action === "hibernate" ? time : time + SPOT_WARNING_LEAD_MS;
  return notices(label, [
    {
      id: event.id,
      kind: "spot-interruption",
      source: "sqs",
      target: { kind: "instance", instanceId: id },
      issuedAt: time,
      deadline,
      summary: `spot interruption warning: ${id} will ${action} at ${new Date(deadline).toISOString()}`,
    },
  ]);
}
