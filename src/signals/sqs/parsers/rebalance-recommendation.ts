import { z } from "zod";
import type { EventBridgeEnvelope, LabelledParseResult } from "./types.ts";
import { describeIssues, eventTime, instanceId, malformed, notices } from "./types.ts";

export const SOURCE = "aws.ec2";
export const DETAIL_TYPE = "EC2 Instance Rebalance Recommendation";

const detail = z.object({ "instance-id": instanceId });

/** `EC2 Instance Rebalance Recommendation` -> one `rebalance-recommendation` notice, with no deadline (risk only). */
export function parseRebalanceRecommendation(event: EventBridgeEnvelope): LabelledParseResult {
  const label = "rebalance-recommendation";
  const parsed = detail.safeParse(event.detail);
  if (!parsed.success) return malformed(label, `event ${event.id}: detail: ${describeIssues(parsed.error)}`);
  const time = eventTime(event, label);
  if (typeof time !== "number") return time;
  const id = parsed.data["instance-id"];
  return notices(label, [
    {
      id: event.id,
      kind: "rebalance-recommendation",
      source: "sqs",
      target: { kind: "instance", instanceId: id },
      issuedAt: time,
      deadline: null,
      summary: `rebalance recommendation: ${id} is at elevated risk of interruption`,
    },
  ]);
}
