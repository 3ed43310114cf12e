/**
 * Manual evacuation: `lifeboat evacuate NODE --deadline 2m`, and the node annotation `lifeboat.dev/evacuate`
 * (planned maintenance, tests). Both become a `manual` notice targeting the node by name.
 */
import type { Notice } from "../../domain/notice.ts";
import { decodeHandoff, handoffNotice, isHandoffValue } from "../imds/handoff.ts";

import { EVACUATE_ANNOTATION } from "../../domain/plan.ts";

export { EVACUATE_ANNOTATION };

/** A deadline value that is not "now", a duration or an RFC 3339 time. */
export class InvalidDeadlineError extends Error {
  override readonly name = "InvalidDeadlineError";
  readonly value: string;
  constructor(value: string, detail: string) {
    super(
      `invalid evacuation deadline ${JSON.stringify(value)}: ${detail}. Use "now", a duration such as "2m", "90s" or "1h30m", or an RFC 3339 time such as "2026-11-24T12:00:00Z"`,
    );
    this.value = value;
  }
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a deadline: "now" (deadline = now), a duration from now ("90s", "2m", "1h30m", "1.5m", "500ms"), or an
 * RFC 3339 time. Returns ms since the epoch. Throws InvalidDeadlineError.
 */
export function parseDeadline(value: string, now: number): number {
  const v = value.trim();
  if (v === "") throw new InvalidDeadlineError(value, "it is empty");
  if (v.toLowerCase() === "now") return now;
  if (/^\d{4}-\d{2}-\d{2}T/.test(v)) {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(v)) {
      throw new InvalidDeadlineError(value, "an RFC 3339 time needs seconds and a zone (Z or +hh:mm)");
    }
    const ms = Date.parse(v);
    if (Number.isNaN(ms)) throw new InvalidDeadlineError(value, "not a real date");
    return ms;
  }
  if (v.startsWith("-")) throw new InvalidDeadlineError(value, "a duration cannot be negative");
  const parts = [...v.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== v) {
    throw new InvalidDeadlineError(value, "not a duration (units: h, m, s, ms) nor a time");
  }
  let total = 0;
  for (const p of parts) total += Number(p[1]) * (UNIT_MS[p[2] ?? ""] ?? NaN);
  if (!Number.isFinite(total)) throw new InvalidDeadlineError(value, "duration out of range");
  return now + Math.round(total);
}

export interface ManualNoticeInput {
  nodeName: string;
  /** Absolute deadline, ms since the epoch; null for "evacuate when you can, no deadline". */
  deadlineMs: number | null;
  now: number;
  /** Identifies this request (CLI invocation id); the notice's id. */
  requestId: string;
}

/** The notice for `lifeboat evacuate NODE`. */
export function manualNotice(input: ManualNoticeInput): Notice {
  const when =
    input.deadlineMs === null ? "no deadline" : `deadline ${new Date(input.deadlineMs).toISOString()}`;
  return {
    id: input.requestId,
    kind: "manual",
    source: "manual",
    target: { kind: "node", nodeName: input.nodeName },
    issuedAt: input.now,
    deadline: input.deadlineMs,
    summary: `manual evacuation of node ${input.nodeName} (${when})`,
  };
}

export interface AnnotationInput {
  nodeName: string;
  /** The value of `lifeboat.dev/evacuate`. */
  value: string;
  /** When the controller first saw the annotation: a relative value counts from here. */
  now: number;
}

/**
 * The notice for a node annotated `lifeboat.dev/evacuate=<value>`. Its id is derived from node and value, so reading
 * the same annotation again (resync, restart) gives the same id; the deadline of a relative value counts from
 * `now`, which the caller should take from when the annotation was first seen (the Evacuation record keeps it).
 * A JSON value is a notice handed over by `lifeboat agent` (../imds/handoff.ts): its kind, deadline and id are the
 * IMDS notice's. Throws InvalidDeadlineError or InvalidHandoffError with a message fit for a Kubernetes Event.
 */
/** The id of the notice `value` makes (it depends on node and value only), or null when it cannot be read. */
export function annotationNoticeId(nodeName: string, value: string): string | null {
  try {
    return annotationNotice({ nodeName, value, now: 0 }).id;
  } catch {
    return null;
  }
}

export function annotationNotice(input: AnnotationInput): Notice {
  if (isHandoffValue(input.value)) return handoffNotice(input.nodeName, decodeHandoff(input.value));
  const deadline = parseDeadline(input.value, input.now);
  return {
    id: `annotation/${input.nodeName}/${input.value.trim()}`,
    kind: "manual",
    source: "annotation",
    target: { kind: "node", nodeName: input.nodeName },
    issuedAt: input.now,
    deadline,
    summary: `node ${input.nodeName} annotated ${EVACUATE_ANNOTATION}=${input.value.trim()} (deadline ${new Date(deadline).toISOString()})`,
  };
}
