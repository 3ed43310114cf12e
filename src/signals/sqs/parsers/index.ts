/**
 * SQS message body -> normalized notices. One module per message kind, chosen by (source, detail-type) for
 * EventBridge events; Auto Scaling hook messages sent straight to the queue, and bodies wrapped by SNS
 * (`{ Type: "Notification", Message: "<json>" }`), are recognized too.
 */
import { z } from "zod";
import type { EventBridgeEnvelope, LabelledParseResult, ParserOptions } from "./types.ts";
import { describeIssues, eventBridgeEnvelope, malformed } from "./types.ts";
import * as spot from "./spot-interruption.ts";
import * as rebalance from "./rebalance-recommendation.ts";
import * as stateChange from "./state-change.ts";
import * as scheduled from "./scheduled-change.ts";
import * as asg from "./asg-lifecycle.ts";

export type { ParseResult, LabelledParseResult, MessageLabel, ParserOptions } from "./types.ts";
export { DEFAULT_LIFECYCLE_HEARTBEAT_TIMEOUT_SECONDS } from "./types.ts";
export { SPOT_WARNING_LEAD_MS } from "./spot-interruption.ts";

type EventParser = (event: EventBridgeEnvelope, options: ParserOptions) => LabelledParseResult;

/** The EventBridge kinds we handle, keyed by `source` + detail-type. */
const PARSERS: ReadonlyMap<string, EventParser> = new Map<string, EventParser>([
  [key(spot.SOURCE, spot.DETAIL_TYPE), spot.parseSpotInterruption],
  [key(rebalance.SOURCE, rebalance.DETAIL_TYPE), rebalance.parseRebalanceRecommendation],
  [key(stateChange.SOURCE, stateChange.DETAIL_TYPE), stateChange.parseStateChange],
  [key(scheduled.SOURCE, scheduled.DETAIL_TYPE), scheduled.parseScheduledChange],
  [key(asg.SOURCE, asg.DETAIL_TYPE), asg.parseAsgLifecycleEvent],
]);

function key(source: string, detailType: string): string {
  return `${source}\u0000${detailType}`;
}

const snsEnvelope = z.object({ Type: z.literal("Notification"), Message: z.string() });

/** Parses one SQS message body. Never throws: every failure is a `malformed` or `unknown` result with a reason. */
export function parseMessageBody(body: string | undefined, options: ParserOptions = {}): LabelledParseResult {
  if (body === undefined || body.trim() === "") return malformed("malformed", "empty message body");
  const json = parseJson(body);
  if (!json.ok) return malformed("malformed", `body is not JSON: ${json.reason}`);
  let value = json.value;
  const sns = snsEnvelope.safeParse(value);
  if (sns.success) {
    const inner = parseJson(sns.data.Message);
    if (!inner.ok) return malformed("malformed", `SNS Message is not JSON: ${inner.reason}`);
    value = inner.value;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return malformed("malformed", "body is not a JSON object");
  }
  const record = value as Record<string, unknown>;
  if ("detail-type" in record || "source" in record) return parseEventBridge(record, options);
  if (
    record["Service"] === "AWS Auto Scaling" ||
    "LifecycleTransition" in record ||
    asg.isTestNotification(record)
  ) {
    return asg.parseAsgHookMessage(record, options);
  }
  return {
    kind: "unknown",
    reason: "neither an EventBridge event nor an Auto Scaling notification",
    label: "unknown",
  };
}

function parseEventBridge(record: Record<string, unknown>, options: ParserOptions): LabelledParseResult {
  const envelope = eventBridgeEnvelope.safeParse(record);
  if (!envelope.success)
    return malformed("malformed", `EventBridge envelope: ${describeIssues(envelope.error)}`);
  const event = envelope.data;
  if (event.version !== "0") {
    return {
      kind: "unknown",
      reason: `event ${event.id}: EventBridge envelope version ${event.version} is not supported`,
      label: "unknown",
    };
  }
  const parser = PARSERS.get(key(event.source, event["detail-type"]));
  if (parser === undefined) {
    return {
      kind: "unknown",
      reason: `event ${event.id}: ${event.source} "${event["detail-type"]}" is not a handled kind`,
      label: "unknown",
    };
  }
  return parser(event, options);
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}
