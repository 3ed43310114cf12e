import type { WorkloadKind } from "../domain/snapshot.ts";
import type { EvacuationObserver } from "../actuators/ports.ts";
import type { Metrics } from "../observability/metrics.ts";

const WORKLOAD_KINDS = new Set<string>([
  "Deployment",
  "StatefulSet",
  "DaemonSet",
  "Job",
  "ReplicaSet",
  "Other",
]);

/** The executor's timeline observations, recorded as Prometheus metrics. */
export function makeObserver(metrics: Metrics): EvacuationObserver {
  return {
    noticeToCordon: (s) => {
      metrics.observeNoticeToCordon(s);
    },
    noticeToSurge: (s) => {
      metrics.observeNoticeToSurge(s);
    },
    noticeToReplacementsReady: (s) => {
      metrics.observeNoticeToReplacementsReady(s);
    },
    noticeToDone: (s, slack, missed) => {
      metrics.observeNoticeToDone(s);
      // The slack histogram counts a negative slack as the one missed deadline (never counted twice).
      if (slack !== null) metrics.observeDeadlineSlack(slack);
      metrics.evacuationCompleted(missed ? "missed_deadline" : "done");
    },
    evacuationFailed: () => {
      metrics.evacuationCompleted("failed");
    },
    podsMoved: (kind, method, count) => {
      const workloadKind: WorkloadKind = WORKLOAD_KINDS.has(kind) ? (kind as WorkloadKind) : "Other";
      metrics.podsMoved({ workloadKind, method }, count);
    },
    eviction: (outcome) => {
      metrics.eviction(outcome);
    },
    actuatorError: (action) => {
      metrics.actuatorError(action);
    },
  };
}
