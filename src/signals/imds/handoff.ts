/**
 * How `lifeboat agent` hands an IMDS notice to the controller: it writes the node annotation `lifeboat.dev/evacuate`
 * on its own node with a JSON value (the agent's "handoff"), which the controller already watches (src/signals/manual).
 *
 *   lifeboat.dev/evacuate: {"v":1,"source":"imds","id":"imds-spot/3f2a...","kind":"spot-interruption",
 *                           "instanceId":"i-0123...","issuedAt":"2026-11-24T12:00:00.000Z",
 *                           "deadline":"2026-11-24T12:02:00.000Z","summary":"spot interruption notice (IMDS): ..."}
 *
 * - `id` is the IMDS notice's id (a hash of the payload, or the scheduled event's id): writing the same notice again
 *   changes nothing, and the controller folds it into the node's Evacuation once (duplicates collapse by notice id).
 * - `deadline` is absolute (RFC 3339) or null (rebalance recommendation); `issuedAt` is when the notice was issued
 *   (or first seen by the agent).
 * - One annotation holds one notice, so the agent replaces it only with a more urgent one (`decideHandoff`): a
 *   deadline beats none, an earlier deadline beats a later one. A plain value written by a person ("2m", an RFC 3339
 *   time) is replaced only by a notice that carries a deadline.
 * Pure: no I/O.
 */
import { z } from "zod";
import type { Notice, NoticeKind } from "../../domain/notice.ts";
import { errorMessage } from "../../domain/error-message.ts";

export const HANDOFF_VERSION = 1;

/** The notice kinds the agent hands over. */
export const HANDOFF_KINDS = [
  "spot-interruption",
  "rebalance-recommendation",
  "scheduled-change",
  "asg-lifecycle-terminate",
] as const satisfies readonly NoticeKind[];

const rfc3339 = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "not an RFC 3339 time");

const handoffSchema = z.object({
  v: z.literal(HANDOFF_VERSION),
  source: z.literal("imds"),
  id: z.string().min(1).max(256),
  kind: z.enum(HANDOFF_KINDS),
  instanceId: z.string().max(64).optional(),
  issuedAt: rfc3339,
  deadline: rfc3339.nullable(),
  /** What a scheduled change brings at its start (absent from older agents: then it ends nothing for certain). */
  scheduledChange: z.enum(["retirement", "reboot", "maintenance"]).optional(),
  summary: z.string().max(1024).optional(),
});

export type Handoff = z.infer<typeof handoffSchema>;

/** A `lifeboat.dev/evacuate` value that starts like JSON but is not a valid handoff. */
export class InvalidHandoffError extends Error {
  override readonly name = "InvalidHandoffError";
  constructor(detail: string) {
    super(`invalid agent handoff in lifeboat.dev/evacuate: ${detail}`);
  }
}

/** Whether an annotation value is a handoff (JSON) rather than a deadline written by a person. */
export function isHandoffValue(value: string): boolean {
  return value.trimStart().startsWith("{");
}

/** The annotation value for an IMDS notice. */
export function encodeHandoff(notice: Notice): string {
  const instanceId = notice.target.kind === "instance" ? notice.target.instanceId : undefined;
  const handoff: Handoff = {
    v: HANDOFF_VERSION,
    source: "imds",
    id: notice.id,
    kind: toHandoffKind(notice.kind),
    ...(instanceId === undefined ? {} : { instanceId }),
    issuedAt: new Date(notice.issuedAt).toISOString(),
    deadline: notice.deadline === null ? null : new Date(notice.deadline).toISOString(),
    ...(notice.scheduledChange === undefined ? {} : { scheduledChange: notice.scheduledChange }),
    summary: notice.summary,
  };
  return JSON.stringify(handoff);
}

function toHandoffKind(kind: NoticeKind): Handoff["kind"] {
  const found = HANDOFF_KINDS.find((k) => k === kind);
  if (found === undefined)
    throw new InvalidHandoffError(`notice kind ${kind} is not handed over by the agent`);
  return found;
}

/** Parses a handoff value. Throws InvalidHandoffError with a message fit for a log line or an Event. */
export function decodeHandoff(value: string): Handoff {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch (err) {
    throw new InvalidHandoffError(`not JSON (${errorMessage(err)})`);
  }
  const parsed = handoffSchema.safeParse(json);
  if (!parsed.success) {
    throw new InvalidHandoffError(
      parsed.error.issues.map((i) => `${i.path.join(".") || "value"}: ${i.message}`).join("; "),
    );
  }
  return parsed.data;
}

/** The controller's notice for a node annotated with a handoff. */
export function handoffNotice(nodeName: string, handoff: Handoff): Notice {
  return {
    id: handoff.id,
    kind: handoff.kind,
    source: "imds",
    target: { kind: "node", nodeName },
    issuedAt: Date.parse(handoff.issuedAt),
    deadline: handoff.deadline === null ? null : Date.parse(handoff.deadline),
    ...(handoff.scheduledChange === undefined ? {} : { scheduledChange: handoff.scheduledChange }),
    summary: `${handoff.summary ?? `${handoff.kind} (IMDS)`} [handed over by lifeboat agent on node ${nodeName}]`,
  };
}

export type HandoffDecision =
  { kind: "write"; value: string; reason: string } | { kind: "keep"; reason: string };

/**
 * Whether the agent writes `notice` over the annotation's current value (undefined: no annotation).
 * More urgent wins: a deadline beats none, an earlier deadline beats a later one; the same id is already there.
 */
export function decideHandoff(current: string | undefined, notice: Notice): HandoffDecision {
  const value = encodeHandoff(notice);
  const write = (reason: string): HandoffDecision => ({ kind: "write", value, reason });
  if (current === undefined || current.trim() === "") return write("the node has no evacuation annotation");
  if (!isHandoffValue(current)) {
    return notice.deadline === null
      ? {
          kind: "keep",
          reason: `the node is annotated by hand (${current.trim()}); a notice without deadline adds nothing`,
        }
      : write(
          `replaces the hand-written annotation (${current.trim()}): this notice carries the cloud's deadline`,
        );
  }
  let held: Handoff;
  try {
    held = decodeHandoff(current);
  } catch {
    return write("the current annotation is not a valid handoff");
  }
  if (held.id === notice.id) return { kind: "keep", reason: `notice ${notice.id} is already handed over` };
  const heldDeadline = held.deadline === null ? null : Date.parse(held.deadline);
  if (notice.deadline === null) {
    return heldDeadline === null
      ? write(`a newer notice without deadline replaces ${held.id}`)
      : { kind: "keep", reason: `${held.id} with a deadline is already handed over` };
  }
  if (heldDeadline !== null && heldDeadline <= notice.deadline) {
    return { kind: "keep", reason: `${held.id} has an earlier or equal deadline (${held.deadline ?? ""})` };
  }
  return write(
    heldDeadline === null
      ? `a deadline replaces ${held.id}, which had none`
      : `an earlier deadline replaces ${held.id}`,
  );
}
