import { z } from "zod";
import type { Notice } from "../../../domain/notice.ts";

/**
 * What one SQS message body turned into. Every variant but `notices` carries a human-readable reason that the
 * consumer logs and counts.
 * - `notices`: one or more normalized notices (an AWS Health event may name several instances).
 * - `ignored`: a message we understand and deliberately do nothing with (a `pending` state change, the Auto
 *   Scaling test notification, a Health event for another service). Always deleted.
 * - `malformed`: a message of a kind we know whose shape is wrong (bad JSON, missing field, unparseable time).
 *   Deleted or kept for the dead-letter queue by policy.
 * - `unknown`: well-formed but of a kind we do not handle (another detail-type or source). Deleted or kept by policy.
 */
export type ParseResult =
  | { kind: "notices"; notices: Notice[] }
  | { kind: "ignored"; reason: string }
  | { kind: "malformed"; reason: string }
  | { kind: "unknown"; reason: string };

/** A parse result plus what the message was, for logs and metrics (`spot-interruption`, `asg-test-notification`...). */
export type LabelledParseResult = ParseResult & { label: MessageLabel };

/** What kind of message it was, as far as the parser could tell. */
export type MessageLabel =
  Notice["kind"] | "asg-test-notification" | "asg-launch-lifecycle" | "unknown" | "malformed";

export interface ParserOptions {
  /**
   * The heartbeat timeout of the Auto Scaling lifecycle hooks, in seconds. The hook's notification does not carry
   * it. Default 3600 (the API's default; valid range 30..7200). The deadline of an `asg-lifecycle-terminate` notice
   * is the notice time plus this; the executor extends it with heartbeats.
   */
  lifecycleHeartbeatTimeoutSeconds?: number;
}

export const DEFAULT_LIFECYCLE_HEARTBEAT_TIMEOUT_SECONDS = 3600;

/** The EventBridge envelope every AWS service event shares. `detail` is validated by the kind's own parser. */
export const eventBridgeEnvelope = z.object({
  version: z.string(),
  id: z.string().min(1),
  "detail-type": z.string(),
  source: z.string(),
  account: z.string().optional(),
  time: z.string(),
  region: z.string().optional(),
  resources: z.array(z.string()).optional(),
  detail: z.unknown(),
});
export type EventBridgeEnvelope = z.infer<typeof eventBridgeEnvelope>;

/** Parses a timestamp (RFC 3339, or RFC 1123 as AWS Health writes `startTime`); null when it is not one. */
export function parseTimestamp(value: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(value) && !isRfc1123(value))
    return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

function isRfc1123(value: string): boolean {
  return /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(value);
}

/** An EC2 instance id: `i-` and 8 or 17 hex digits. */
export const instanceId = z
  .string()
  .regex(/^i-[0-9a-f]{8}([0-9a-f]{9})?$/, "not an EC2 instance id (i-<8 or 17 hex>)");

/** Turns a zod failure into one line naming the fields. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length > 0 ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
}

export function malformed(label: MessageLabel, reason: string): LabelledParseResult {
  return { kind: "malformed", reason, label };
}

export function ignored(label: MessageLabel, reason: string): LabelledParseResult {
  return { kind: "ignored", reason, label };
}

export function notices(label: MessageLabel, list: Notice[]): LabelledParseResult {
  return { kind: "notices", notices: list, label };
}

/** Parses the envelope's `time`, or returns the malformed result to hand back. */
export function eventTime(event: EventBridgeEnvelope, label: MessageLabel): number | LabelledParseResult {
  const ms = parseTimestamp(event.time);
  return (
    ms ??
    malformed(label, `event ${event.id}: time ${JSON.stringify(event.time)} is not an RFC 3339 timestamp`)
  );
}
