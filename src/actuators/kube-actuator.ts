/**
 * Everything the executor does to the cluster, behind one interface, so that dry-run is one decorator
 * (./dry-run.ts) over it and tests can substitute a recorder. Expected results (already done, gone, refused
 * by a PDB) are outcomes; unexpected failures (forbidden, server errors, the API unreachable) throw a
 * KubeApiError (./kube/errors.ts), except from `evict`, whose every result is an outcome because the
 * executor records each attempt.
 */
import type { PodRef, WorkloadRef } from "../domain/snapshot.ts";
import type { LedgerChange, LedgerEntry } from "../domain/surge-ledger.ts";
import type { KubeApiError } from "./kube/errors.ts";

export interface CordonOptions {
  /** Taint key added with effect NoSchedule (lifeboat.dev/evacuating). */
  taintKey: string;
  /** Also label node.kubernetes.io/exclude-from-external-load-balancers=true. */
  excludeFromLb: boolean;
}

/** `changed: false`: the node already was in the requested state, nothing was written. */
export type NodeOutcome = { kind: "done"; changed: boolean } | { kind: "not-found" };

export type PatchOutcome = { kind: "patched" } | { kind: "not-found" };

/** A surge or retire written together with its surge-ledger entry (src/domain/surge-ledger.ts). */
export type LedgerOutcome =
  | {
      kind: "applied";
      /** Replicas added (+) or removed (-) by this write; 0 when the ledger already held the change. */
      delta: number;
      /** Replicas read and written; null when not observed (dry run). */
      replicas: { from: number; to: number } | null;
      /** True when `from + delta` was below 0 and 0 was written instead. */
      clamped: boolean;
      attempts: number;
      /** The ledger entries the change concerns, as they stand after the write. */
      touched: LedgerEntry[];
      /** Retire ids the ledger no longer knows (retired and pruned long ago): nothing was done for them. */
      unknown: string[];
    }
  | { kind: "not-found" }
  | { kind: "unsupported"; reason: string };

export type EvictOutcome =
  | { kind: "evicted" }
  /** 429 from a PodDisruptionBudget: retry later. */
  | { kind: "blocked-by-pdb"; message: string }
  /** 429 from API throttling (not a PDB): retry after `retryAfterSeconds`. */
  | { kind: "throttled"; retryAfterSeconds: number | null; message: string }
  /** 404: the pod is already gone. */
  | { kind: "not-found" }
  /** 409: the pod changed (e.g. a UID precondition); it is being replaced or deleted already. */
  | { kind: "conflict"; message: string }
  | { kind: "error"; error: KubeApiError };

export type DeleteOutcome = { kind: "deleted" } | { kind: "not-found" };

export interface KubeActuator {
  /**
   * spec.unschedulable=true + taint `taintKey`:NoSchedule (other taints kept) + exclude-from-LB label, and the
   * record of what of these it changed (annotation lifeboat.dev/cordon-restore), one write.
   */
  cordon(node: string, options: CordonOptions): Promise<NodeOutcome>;
  /** Adds taint `taintKey`:PreferNoSchedule (mode taint-only). */
  taintPreferNoSchedule(node: string, taintKey: string): Promise<NodeOutcome>;
  /**
   * Adds node.kubernetes.io/out-of-service=nodeshutdown:NoExecute (other taints kept): the node's instance is
   * stopped or terminated (Kubernetes' non-graceful node shutdown: its volumes detach at once).
   */
  taintOutOfService(node: string): Promise<NodeOutcome>;
  /**
   * Undoes lifeboat's cordon: every `taintKey` taint removed; unschedulable and the exclude-from-LB label only
   * where the cordon's record (annotation lifeboat.dev/cordon-restore) says lifeboat set them.
   */
  uncordon(node: string, taintKey: string): Promise<NodeOutcome>;
  /** Removes the node's annotation `key` if it still holds `value` (changed: false otherwise). */
  removeNodeAnnotation(node: string, key: string, value: string): Promise<NodeOutcome>;
  /** Annotates controller.kubernetes.io/pod-deletion-cost. */
  setDeletionCost(pod: PodRef, cost: number): Promise<PatchOutcome>;
  /**
   * Surge (+k) or retire (-k) and its ledger entry in one optimistic-concurrency write of the workload
   * (spec.replicas + annotation lifeboat.dev/surge-ledger); idempotent: a change the ledger already holds
   * writes nothing.
   */
  changeSurgeLedger(workload: WorkloadRef, change: LedgerChange): Promise<LedgerOutcome>;
  /** policy/v1 Eviction. Never throws. */
  evict(pod: PodRef): Promise<EvictOutcome>;
  /** Delete with gracePeriodSeconds 0 (the instance is gone). */
  forceDelete(pod: PodRef): Promise<DeleteOutcome>;
  /** Delete with the pod's own grace period. */
  deletePod(pod: PodRef): Promise<DeleteOutcome>;
}
