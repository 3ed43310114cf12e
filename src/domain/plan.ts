/**
 * What the planner decides and the executor carries out: plain data, one discriminated union, and a
 * human-readable `reason` on every step (it becomes the log line and the Kubernetes Event message).
 * Steps are listed in the order they must run: every cordon before any surge, every surge before any
 * retire or eviction (make before break).
 */
import type { PodRef, WorkloadRef } from "./snapshot.ts";

/** NoSchedule taint added with the cordon (and PreferNoSchedule taint for mode taint-only). */
export const EVACUATING_TAINT_KEY = "lifeboat.dev/evacuating";
/** A request to evacuate a node: a deadline (written by a person or `lifeboat evacuate`) or a notice handed over by `lifeboat agent`. */
export const EVACUATE_ANNOTATION = "lifeboat.dev/evacuate";
/** Label that takes a node out of instance-mode target groups (AWS Load Balancer Controller, kube-proxy). */
export const EXCLUDE_FROM_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers";
/**
 * Annotation lifeboat's cordon writes in the same patch as the cordon: what that cordon changed, so that
 * undoing it (an expired prewarm) restores only lifeboat's own change (src/actuators/kube/node.ts).
 */
export const CORDON_RESTORE_ANNOTATION = "lifeboat.dev/cordon-restore";
/** Pods with a lower value are removed first when a ReplicaSet scales down. */
export const POD_DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost";
/**
 * Kubernetes' non-graceful node shutdown taint: on a node that is shut down, the attach-detach controller
 * detaches its volumes at once instead of after its 6-minute wait, and pods without a toleration are deleted.
 * Only for a node whose instance is stopped or terminated.
 */
export const OUT_OF_SERVICE_TAINT = {
  key: "node.kubernetes.io/out-of-service",
  value: "nodeshutdown",
  effect: "NoExecute",
} as const;

/** Which evacuation's surge record a surge step writes, and which of the step's pods belong to it. */
export interface SurgeAttribution {
  evacuation: string;
  pods: string[];
}

/** A surge record by position: `Evacuation.surges` is append-only. */
export interface SurgeRecordRef {
  evacuation: string;
  index: number;
}

/** Machine-readable warning kinds; usable as the Kubernetes Event `reason`. */
export type WarningCode =
  /** preStop sleep shorter than the load balancer's propagation: requests will hit a closed socket. */
  | "ShortPreStop"
  /** A PDB allows no disruption now: the eviction will be refused (429) and retried. */
  | "PdbBlocksEviction"
  /** The surge takes replicas above the HPA's max: the HPA will scale it back. */
  | "SurgeAboveHpaMax"
  /** Replacements are not expected Ready before the last responsible moment: capacity will dip. */
  | "SurgeMissesDeadline"
  /** The schedulable nodes outside the evacuation lack room for the replacements: they may stay Pending. */
  | "InsufficientCapacity";

/** Why an outstanding surge is closed without scaling back (the workload's count is no longer lifeboat's to change). */
export type HandBackCause =
  /** The workload was deleted (or deleted and created again under the same name: another object). */
  | "workload-gone"
  /** Its spec.replicas is below what lifeboat added: someone scaled it to 0 or below the surge. */
  | "scaled-below-surge"
  /** Its spec.replicas is not what lifeboat last wrote (the surge ledger's record): an HPA or a person scaled it. */
  | "scaled-by-someone-else";

export type Step =
  /** Cordon + taint lifeboat.dev/evacuating:NoSchedule + exclude-from-external-load-balancers=true, all at once. */
  | { kind: "cordon"; node: string; evacuation: string; reason: string }
  /** Taint lifeboat.dev/evacuating:PreferNoSchedule (mode taint-only). */
  | { kind: "taint-prefer-no-schedule"; node: string; evacuation: string; reason: string }
  /**
   * Scale the workload +`by` (one write with its surge-ledger entry), then append one SurgeRecord per entry of
   * `records` to that evacuation. `pods`: the doomed pods it replaces (marked by a `mark-doomed` step).
   */
  | {
      kind: "surge";
      workload: WorkloadRef;
      by: number;
      pods: string[];
      records: SurgeAttribution[];
      reason: string;
    }
  /**
   * Annotate the doomed `pods` of a surged workload with pod-deletion-cost = `deletionCost`, so that the
   * retire's scale-down removes them. Runs after the plan's surges (off the notice-to-surge path); a retire is
   * planned only once every doomed pod it is meant to remove carries the cost.
   */
  | {
      kind: "mark-doomed";
      workload: WorkloadRef;
      pods: string[];
      deletionCost: number;
      reason: string;
    }
  /**
   * Scale the workload -`by` (relative) and set retiredAt on every record in `records`. Planned only once
   * every doomed pod still present carries the deletion cost in the snapshot (see `mark-doomed`), or once
   * none of the records' doomed pods is left (the ReplicaSet then removes the unready extra pods first).
   */
  | {
      kind: "retire";
      workload: WorkloadRef;
      by: number;
      pods: string[];
      records: SurgeRecordRef[];
      /**
       * True when the replacements are Ready (Event ReplacementsReady); false when the surge is taken back for
       * another reason: its doomed pods are gone, or the evacuation winds down.
       */
      replacementsReady: boolean;
      reason: string;
    }
  /**
   * Evict through the Eviction API. A 429 from a PDB is retried on the next reconcile, unless `overridePdb`:
   * the pod's last responsible moment before the node's certain end has come (src/planner/death.ts), the
   * disruption is no longer voluntary (the node dies whatever the PDB says), and a refusal is answered with a
   * graceful delete. `atLastResponsibleMoment`: the pod goes at its LRM, replacements Ready or not.
   */
  | {
      kind: "evict";
      pod: PodRef;
      node: string;
      evacuation: string;
      atLastResponsibleMoment: boolean;
      overridePdb: boolean;
      reason: string;
    }
  /**
   * Delete with the pod's own grace period (preStop runs), not through the Eviction API: the pod's last
   * responsible moment before the node's certain end has come and `pdbs` (namespace/name) allow no disruption
   * now. Emitted with a Warning
   * Event `PdbOverridden` naming them (as Karpenter deletes pods once a NodeClaim's terminationGracePeriod
   * leaves no time for their own grace period).
   */
  | { kind: "delete"; pod: PodRef; node: string; evacuation: string; pdbs: string[]; reason: string }
  /** Delete with grace period 0: the instance is gone, nothing on it can run its preStop any more. */
  | { kind: "force-delete"; pod: PodRef; node: string; evacuation: string; reason: string }
  /**
   * Taint the node node.kubernetes.io/out-of-service=nodeshutdown:NoExecute (OUT_OF_SERVICE_TAINT): its
   * instance is stopped or terminated and a StatefulSet pod on it is to be released, whose volumes then detach
   * at once. Planned before the pod's force-delete, which waits until the node carries the taint.
   */
  | { kind: "taint-out-of-service"; node: string; evacuation: string; reason: string }
  /**
   * Close `records` without scaling: the workload is gone or was scaled below the surge by someone else, so
   * there is nothing lifeboat may take back. Sets handedBackAt (and retiredAt) on each record.
   */
  | {
      kind: "hand-back";
      workload: WorkloadRef;
      cause: HandBackCause;
      records: SurgeRecordRef[];
      reason: string;
    }
  /** Undo lifeboat's cordon (its taint removed; unschedulable and the exclude-from-LB label where it set them): an expired prewarm. */
  | { kind: "uncordon"; node: string; evacuation: string; reason: string }
  /**
   * An early node (`--early-node`): the surge of `node`'s pods finds no room, not even by preempting headroom
   * placeholders, so raise the desired capacity of the Auto Scaling group of `instanceId` by `count` now
   * instead of waiting for the autoscaler to notice the Pending pods. Once per evacuation (the actuator records
   * it on the group).
   */
  | {
      kind: "request-node";
      node: string;
      instanceId: string;
      evacuation: string;
      count: number;
      reason: string;
    }
  /** Something the operator should know; emitted as a Warning Event on `subject`. */
  | { kind: "warn"; code: WarningCode; subject: string; reason: string }
  /** Nothing to do for `subject` (a workload key, pod key or node name) before `until` (null: until the cluster changes). */
  | { kind: "wait"; until: number | null; subject: string; reason: string }
  /** The node holds nothing lifeboat must move and every surge is retired: mark the Evacuation Done. */
  | { kind: "complete"; evacuation: string; reason: string }
  /**
   * Give up (phase Failed, Warning Event EvacuationFailed, outcome "failed", ASG lifecycle action completed):
   * planned only once every surge of the evacuation is retired or handed back.
   */
  | { kind: "fail"; evacuation: string; reason: string }
  /**
   * Remove the node's `lifeboat.dev/evacuate` annotation (only while it still holds `value`): the evacuation
   * it asked for has finished, so the request is served. Left in place it would ask again once the record is
   * forgotten (a restarted controller reads it as a new request).
   */
  | { kind: "clear-request"; node: string; value: string; evacuation: string; reason: string }
  /** Delete the finished Evacuation resource: its time to live after finishing is over. */
  | { kind: "forget"; evacuation: string; reason: string };

export type StepKind = Step["kind"];

/** The step of kind `K`. */
export type StepOf<K extends StepKind> = Extract<Step, { kind: K }>;

/** A pod the planner leaves alone on purpose. */
export interface Skip {
  pod: PodRef;
  node: string;
  reason: string;
}

export interface Plan {
  steps: Step[];
  skipped: Skip[];
  /** When to plan again even if nothing in the cluster changes (the earliest wait); null: only on change. */
  nextReviewAt: number | null;
}
