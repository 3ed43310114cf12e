/**
 * The intake's pure pieces: what a notice's record looks like once its node was cordoned at receipt, how old a
 * notice was, the Events that say an evacuation started, and the error for a notice about an unknown node.
 */
import type { Evacuation } from "../domain/evacuation.ts";
import type { Notice } from "../domain/notice.ts";
import type { EventSink } from "../actuators/ports.ts";
import type { FoldDecision } from "../planner/fold-notice.ts";
import type { StoredEvacuation } from "../state/evacuation-resource.ts";

/** Modes whose evacuation cordons its node (the planner's "moving" evacuations). */
export function cordons(mode: Evacuation["mode"]): boolean {
  return mode === "evacuate" || mode === "prewarm";
}

/** The notice names a node that is not (or no longer) in the cluster. */
export class UnknownNodeError extends Error {
  readonly notice: Notice;
  constructor(notice: Notice, message: string) {
    super(message);
    this.name = "UnknownNodeError";
    this.notice = notice;
  }
}

/**
 * The record of a node cordoned at receipt: phase Cordoned and the time in its timeline (kept when the
 * evacuation was cordoned before), so the reconcile plans no second cordon.
 */
export function withCordon(decision: FoldDecision, cordonedAt: number | null): FoldDecision {
  if (cordonedAt === null || (decision.kind !== "create" && decision.kind !== "update")) return decision;
  const e = decision.stored.evacuation;
  if (!cordons(e.mode)) return decision;
  return {
    ...decision,
    stored: {
      ...decision.stored,
      evacuation: {
        ...e,
        phase: e.phase === "Pending" ? "Cordoned" : e.phase,
        timeline: { ...e.timeline, cordonedAt: e.timeline.cordonedAt ?? cordonedAt },
      },
    },
  };
}

/**
 * How old the notice was at receipt (receipt minus the event's own time) and how long it sat in SQS
 * (receipt minus SentTimestamp), seconds: log fields. A negative age means the local clock is behind the
 * event's source; the deadline still comes from the event time (docs/design.md, "Times and clocks").
 */
export function noticeTimes(
  notice: Notice,
  receivedAt: number,
): { eventAgeSeconds: number; queueSeconds?: number } {
  const round = (ms: number): number => Math.round(ms / 10) / 100;
  return {
    eventAgeSeconds: round(receivedAt - notice.issuedAt),
    ...(notice.sentAt === undefined ? {} : { queueSeconds: round(receivedAt - notice.sentAt) }),
  };
}

export function emitStarted(events: EventSink, stored: StoredEvacuation, reason: string): void {
  const e = stored.evacuation;
  events.emit({
    object: { kind: "Evacuation", name: e.name },
    type: "Normal",
    reason: "EvacuationStarted",
    message: reason,
  });
  events.emit({
    object: { kind: "Node", name: e.nodeName },
    type: "Warning",
    reason: "EvacuationStarted",
    message: reason,
  });
}
