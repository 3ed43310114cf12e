/**
 * What the executor and the intake need from the outside world besides the actuators (whose interfaces live
 * beside them: ./kube-actuator.ts, ./aws/), as narrow interfaces: the cluster read, Kubernetes Events,
 * metrics, the logger. The controller wiring plugs in the informer cache, the Event recorder (or its dry-run
 * decorator, ./dry-run.ts) and the metrics. They live here, below the executor, because the dry-run
 * decorators wrap the Event sink as they wrap the actuators: the executor imports the actuators, never the
 * other way round.
 */
import type { WarningCode } from "../domain/plan.ts";
import type { ClusterSnapshot, NodeView } from "../domain/snapshot.ts";
import type { EventReason } from "../observability/events.ts";
import type { ActuatorAction } from "../observability/metrics.ts";

export interface ClusterView {
  snapshot(now: number): ClusterSnapshot;
  nodeByInstanceId(instanceId: string): NodeView | null;
  nodeByName(name: string): NodeView | null;
  /**
   * A node that ran EC2 instance `instanceId` and was deleted recently (remembered for a while after its
   * delete), with when it was deleted; null when none is remembered. Optional: views without the memory.
   */
  deletedNodeByInstanceId?(instanceId: string): { node: NodeView; deletedAt: number } | null;
}

/** An Event about an object: a node, a pod (namespace/name) or an Evacuation. */
export interface EventSink {
  emit(event: {
    object: {
      kind: "Node" | "Pod" | "Evacuation" | "Deployment" | "StatefulSet" | "ReplicaSet";
      name: string;
      namespace?: string;
    };
    type: "Normal" | "Warning";
    /** A reason of the catalog (observability/events.ts, documented in docs/metrics.md), or a planner warning code. */
    reason: EventReason | WarningCode;
    message: string;
  }): void;
}

/** The timeline observations the executor reports; the metrics module implements it. */
export interface EvacuationObserver {
  noticeToCordon(seconds: number): void;
  noticeToSurge(seconds: number): void;
  noticeToReplacementsReady(seconds: number): void;
  noticeToDone(seconds: number, slackSeconds: number | null, missedDeadline: boolean): void;
  /** The evacuation gave up (phase Failed) `seconds` after its notice. */
  evacuationFailed(seconds: number): void;
  podsMoved(workloadKind: string, method: "surge" | "evict" | "delete" | "force_delete", count: number): void;
  eviction(outcome: "ok" | "pdb_blocked" | "not_found" | "error"): void;
  actuatorError(action: ActuatorAction): void;
}

export interface ExecutorLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}
