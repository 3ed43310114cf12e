import { z } from "zod";
import { scheduledChangeKind, type Notice } from "../../../domain/notice.ts";
import type { EventBridgeEnvelope, LabelledParseResult } from "./types.ts";
import {
  describeIssues,
  eventTime,
  ignored,
  instanceId,
  malformed,
  notices,
  parseTimestamp,
} from "./types.ts";

export const SOURCE = "aws.health";
export const DETAIL_TYPE = "AWS Health Event";

const detail = z.object({
  service: z.string(),
  eventTypeCategory: z.string(),
  eventTypeCode: z.string().optional(),
  eventArn: z.string().optional(),
  statusCode: z.string().optional(),
  startTime: z.string().optional(),
  endTime: z.string().optional(),
  affectedEntities: z.array(z.object({ entityValue: z.string() })).optional(),
});

/**
 * `AWS Health Event` for service EC2 and category `scheduledChange` (retirement, maintenance, reboot) -> one
 * `scheduled-change` notice per affected instance. The deadline is the `startTime` of the affected window (RFC 1123
 * or RFC 3339); a Health event without one gets `deadline: null`. Other services and categories, events whose
 * status is `closed`, and events naming no instance (dedicated hosts) are ignored with a reason.
 *
 * `scheduledChange` says what the start time brings (scheduledChangeKind of the `eventTypeCode`): only a retirement
 * or stop ends the node for certain (src/planner/death.ts).
 *
 * Notice ids are `<event id>/<instance id>` so that the notices of one event stay distinct for deduplication.
 */
export function parseScheduledChange(event: EventBridgeEnvelope): LabelledParseResult {
  const label = "scheduled-change";
  const parsed = detail.safeParse(event.detail);
  if (!parsed.success) return malformed(label, `event ${event.id}: detail: ${describeIssues(parsed.error)}`);
  const d = parsed.data;
  if (d.service !== "EC2")
    return ignored(label, `event ${event.id}: Health event for service ${d.service}, not EC2`);
  if (d.eventTypeCategory !== "scheduledChange") {
    return ignored(
      label,
      `event ${event.id}: Health event category ${d.eventTypeCategory}, not scheduledChange`,
    );
  }
  if (d.statusCode === "closed")
    return ignored(label, `event ${event.id}: Health event ${d.eventTypeCode ?? ""} is closed`);
  const time = eventTime(event, label);
  if (typeof time !== "number") return time;
  let deadline: number | null = null;
  if (d.startTime !== undefined) {
    deadline = parseTimestamp(d.startTime);
    if (deadline === null)
      return malformed(
        label,
        `event ${event.id}: startTime ${JSON.stringify(d.startTime)} is not a timestamp`,
      );
  }
  const instances = [...new Set((d.affectedEntities ?? []).map((e) => e.entityValue))].filter(
    (v) => instanceId.safeParse(v).success,
  );
  if (instances.length === 0) return ignored(label, `event ${event.id}: Health event names no EC2 instance`);
  const code = d.eventTypeCode ?? "scheduled change";
  const when = deadline === null ? "with no start time" : `starting ${new Date(deadline).toISOString()}`;
  const list: Notice[] = instances.map((id) => ({
    id: `${event.id}/${id}`,
    kind: "scheduled-change",
    source: "sqs",
    target: { kind: "instance", instanceId: id },
    issuedAt: time,
    deadline,
    scheduledChange: scheduledChangeKind(d.eventTypeCode),
    summary: `AWS Health ${code}: ${id} ${when}`,
  }));
  return notices(label, list);
}
