/**
 * What the executor tells about a step: one `announce()` writes its metric, log line and Kubernetes Events
 * together, and one constructor per Event reason fixes the kind of object the Event is written on and its
 * type (as Karpenter's events.go does), so that a step names what happened and the rest follows.
 */
import type { EvacuationObserver, EventSink, ExecutorLogger } from "../actuators/ports.ts";
import type { WarningCode } from "../domain/plan.ts";
import { podKey, type PodRef, type WorkloadRef } from "../domain/snapshot.ts";

/** One Kubernetes Event as the executor records it. */
export type StepEvent = Parameters<EventSink["emit"]>[0];
/** The object an Event is written on. */
export type EventObject = StepEvent["object"];

export interface Announcement {
  /** Counted first (the observer's timeline and pod metrics); omitted when the step counts nothing. */
  metric?: (observer: EvacuationObserver) => void;
  /** The log line. */
  level: "debug" | "info" | "warn" | "error";
  fields: object;
  message: string;
  /** Recorded last, in this order; none when the step only logs. */
  events?: readonly StepEvent[];
}

/** The ports an announcement is written to. */
export interface Announcer {
  log: ExecutorLogger;
  events: EventSink;
  observer: EvacuationObserver;
}

/** The metric, the log line and the Events of one step (or one failure), in that order. */
export function announce(to: Announcer, what: Announcement): void {
  what.metric?.(to.observer);
  to.log[what.level](what.fields, what.message);
  for (const event of what.events ?? []) to.events.emit(event);
}

export function nodeObject(name: string): EventObject {
  return { kind: "Node", name };
}

export function podObject(pod: PodRef): EventObject {
  return { kind: "Pod", ...pod };
}

export function evacuationObject(name: string): EventObject {
  return { kind: "Evacuation", name };
}

export function workloadObject(ref: { kind: string; namespace: string; name: string }): EventObject {
  const kind = ref.kind === "StatefulSet" || ref.kind === "ReplicaSet" ? ref.kind : "Deployment";
  return { kind, name: ref.name, namespace: ref.namespace };
}

/** Warning subjects are a node name, a pod key (ns/name) or a workload key (Kind/ns/name). */
export function subjectObject(subject: string): EventObject {
  const parts = subject.split("/");
  if (parts.length === 3)
    return {
      kind: parts[0] === "StatefulSet" || parts[0] === "ReplicaSet" ? parts[0] : "Deployment",
      namespace: parts[1] ?? "",
      name: parts[2] ?? "",
    };
  if (parts.length === 2) return { kind: "Pod", namespace: parts[0] ?? "", name: parts[1] ?? "" };
  return { kind: "Node", name: subject };
}

/*
 * One constructor per Event the executor records (the reasons are documented in observability/events.ts and
 * docs/metrics.md). `message` is the step's reason unless the constructor says otherwise.
 */

export const cordoned = (node: string, message: string): StepEvent => ({
  object: nodeObject(node),
  type: "Normal",
  reason: "Cordoned",
  message,
});

export const outOfServiceTainted = (node: string, message: string): StepEvent => ({
  object: nodeObject(node),
  type: "Warning",
  reason: "OutOfServiceTainted",
  message,
});

export const taintedPreferNoSchedule = (node: string, message: string): StepEvent => ({
  object: nodeObject(node),
  type: "Normal",
  reason: "TaintedPreferNoSchedule",
  message,
});

export const uncordoned = (node: string, message: string): StepEvent => ({
  object: nodeObject(node),
  type: "Normal",
  reason: "Uncordoned",
  message,
});

export const requestCleared = (node: string, message: string): StepEvent => ({
  object: nodeObject(node),
  type: "Normal",
  reason: "RequestCleared",
  message,
});

export const earlyNodeRequested = (node: string, message: string): StepEvent => ({
  object: nodeObject(node),
  type: "Normal",
  reason: "EarlyNodeRequested",
  message,
});

export const surgeCreated = (workload: WorkloadRef, message: string): StepEvent => ({
  object: workloadObject(workload),
  type: "Normal",
  reason: "SurgeCreated",
  message,
});

export const retired = (workload: WorkloadRef, message: string): StepEvent => ({
  object: workloadObject(workload),
  type: "Normal",
  reason: "Retired",
  message,
});

export const surgeHandedBack = (workload: WorkloadRef, message: string): StepEvent => ({
  object: workloadObject(workload),
  type: "Warning",
  reason: "SurgeHandedBack",
  message,
});

/** On the Evacuation of a rebalance prewarm whose surge was created. */
export const prewarmed = (evacuation: string, reason: string): StepEvent => ({
  object: evacuationObject(evacuation),
  type: "Normal",
  reason: "Prewarmed",
  message: `rebalance prewarm: ${reason}; nothing is retired until an interruption warning brings a deadline`,
});

/** On each Evacuation whose surge of `workload` was retired. */
export const replacementsReady = (evacuation: string, workload: string, reason: string): StepEvent => ({
  object: evacuationObject(evacuation),
  type: "Normal",
  reason: "ReplacementsReady",
  message: `replacements of ${workload} are Ready: ${reason}`,
});

export const prewarmExpired = (evacuation: string, message: string): StepEvent => ({
  object: evacuationObject(evacuation),
  type: "Normal",
  reason: "PrewarmExpired",
  message,
});

/** On the Evacuation whose `pod` goes at its last responsible moment. */
export const lastResponsibleMoment = (evacuation: string, pod: PodRef, reason: string): StepEvent => ({
  object: evacuationObject(evacuation),
  type: "Warning",
  reason: "LastResponsibleMoment",
  message: `${podKey(pod)}: ${reason}`,
});

/** On the Evacuation, finished with every pod it moved off the node before its deadline (or with none). */
export const evacuationDone = (evacuation: string, message: string): StepEvent => ({
  object: evacuationObject(evacuation),
  type: "Normal",
  reason: "EvacuationDone",
  message,
});

/** On the Evacuation, finished with a pod that left the node only after its deadline. */
export const deadlineMissed = (evacuation: string, message: string): StepEvent => ({
  object: evacuationObject(evacuation),
  type: "Warning",
  reason: "DeadlineMissed",
  message,
});

/** On the evacuated Node, however the deadline went. */
export const nodeEvacuationDone = (node: string, message: string): StepEvent => ({
  object: nodeObject(node),
  type: "Normal",
  reason: "EvacuationDone",
  message,
});

/** On the Evacuation that gave up. */
export const evacuationFailed = (evacuation: string, message: string): StepEvent => ({
  object: evacuationObject(evacuation),
  type: "Warning",
  reason: "EvacuationFailed",
  message,
});

/** On the Node whose evacuation gave up. */
export const nodeEvacuationFailed = (node: string, message: string): StepEvent => ({
  object: nodeObject(node),
  type: "Warning",
  reason: "EvacuationFailed",
  message,
});

export const evicted = (pod: PodRef, message: string): StepEvent => ({
  object: podObject(pod),
  type: "Normal",
  reason: "Evicted",
  message,
});

export const evictionBlocked = (pod: PodRef, pdbMessage: string, reason: string): StepEvent => ({
  object: podObject(pod),
  type: "Warning",
  reason: "EvictionBlocked",
  message: `PodDisruptionBudget refused the eviction (429: ${pdbMessage}); retrying. ${reason}`,
});

export const pdbOverridden = (pod: PodRef, message: string): StepEvent => ({
  object: podObject(pod),
  type: "Warning",
  reason: "PdbOverridden",
  message,
});

export const forceDeleted = (pod: PodRef, message: string): StepEvent => ({
  object: podObject(pod),
  type: "Warning",
  reason: "ForceDeleted",
  message,
});

/** A planner warning, on its subject, with its code as the reason. */
export const warning = (subject: string, code: WarningCode, message: string): StepEvent => ({
  object: subjectObject(subject),
  type: "Warning",
  reason: code,
  message,
});

/** A call that failed and will be retried. */
export const actionFailed = (object: EventObject, message: string): StepEvent => ({
  object,
  type: "Warning",
  reason: "ActionFailed",
  message,
});
