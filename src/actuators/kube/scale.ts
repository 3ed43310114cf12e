/**
 * Surges and retires: a relative change of `spec.replicas` written together with the workload's surge ledger,
 * with the resourceVersion read; on 409 read again, so that a change made meanwhile by an HPA or a user is
 * kept and our delta applied on top of it, never overwritten by a stale absolute number.
 */
import {
  PatchStrategy,
  setHeaderOptions,
  type AppsV1Api,
  type V1Deployment,
  type V1ReplicaSet,
} from "@kubernetes/client-node";
import { workloadKey, type WorkloadRef } from "../../domain/snapshot.ts";
import {
  parseLedger,
  planLedgerChange,
  serializeLedger,
  SURGE_LEDGER_ANNOTATION,
  type LedgerChange,
} from "../../domain/surge-ledger.ts";
import type { LedgerOutcome } from "../kube-actuator.ts";
import { isConflict, isNotFound, KubeApiError, toKubeApiError } from "./errors.ts";
import { MAX_CONFLICT_ATTEMPTS } from "./node.ts";

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

export type LedgerClient = Pick<
  AppsV1Api,
  | "readNamespacedDeployment"
  | "patchNamespacedDeployment"
  | "readNamespacedReplicaSet"
  | "patchNamespacedReplicaSet"
>;

interface LedgerEndpoints {
  read(p: { name: string; namespace: string }): Promise<V1Deployment | V1ReplicaSet>;
  patch(p: { name: string; namespace: string; body: object }): Promise<unknown>;
}

function ledgerEndpointsFor(apps: LedgerClient, kind: WorkloadRef["kind"]): LedgerEndpoints | null {
  switch (kind) {
    case "Deployment":
      return {
        read: (p) => apps.readNamespacedDeployment(p),
        patch: (p) => apps.patchNamespacedDeployment(p, mergePatch),
      };
    case "ReplicaSet":
      return {
        read: (p) => apps.readNamespacedReplicaSet(p),
        patch: (p) => apps.patchNamespacedReplicaSet(p, mergePatch),
      };
    default:
      return null;
  }
}

/**
 * A surge or retire and its ledger entry in ONE write (src/domain/surge-ledger.ts): read the workload, apply
 * the change to its ledger idempotently, and write `spec.replicas` and the annotation together in a JSON
 * merge patch carrying the resourceVersion read (409: someone wrote meanwhile, read again and recompute,
 * so an HPA's or a user's change is kept and our delta applied on top). A change already in the ledger
 * (a retry after an unknown outcome: a lost response, a crash) writes nothing.
 */
export async function changeSurgeLedger(
  apps: LedgerClient,
  workload: WorkloadRef,
  change: LedgerChange,
  /**
   * The workload as the informer holds it: the first attempt starts from it instead of a GET. Safe because
   * only a write is decided from it, and the write carries its resourceVersion (stale: 409, read again);
   * a decision to write nothing (already in the ledger, or scaled by someone else) is always confirmed
   * by a fresh read.
   */
  cached?: () => V1Deployment | V1ReplicaSet | undefined,
): Promise<LedgerOutcome> {
  const endpoints = ledgerEndpointsFor(apps, workload.kind);
  if (endpoints === null)
    return { kind: "unsupported", reason: `${workload.kind} is not surged by lifeboat (no ledger)` };
  const target = workloadKey(workload);
  const id = { name: workload.name, namespace: workload.namespace };
  // Only a copy with a resourceVersion: the write's precondition is what makes a cached read safe.
  let fromCache = cached?.();
  if (fromCache?.metadata?.resourceVersion === undefined) fromCache = undefined;
  for (let attempt = 1; attempt <= MAX_CONFLICT_ATTEMPTS; attempt++) {
    let object: V1Deployment | V1ReplicaSet;
    const cachedCopy = fromCache !== undefined;
    if (fromCache !== undefined) {
      object = fromCache;
      fromCache = undefined;
    } else {
      try {
        object = await endpoints.read(id);
      } catch (err) {
        if (isNotFound(err)) return { kind: "not-found" };
        throw toKubeApiError(err, "get", target);
      }
    }
    const read = parseLedger(object.metadata?.annotations?.[SURGE_LEDGER_ANNOTATION]);
    if (read.kind === "malformed" && cachedCopy) {
      attempt--; // confirmed by a fresh read (not an attempt)
      continue;
    }
    if (read.kind === "malformed")
      throw new KubeApiError({
        kind: "invalid",
        status: 422,
        operation: "read the surge ledger of",
        target,
        serverMessage: `annotation ${SURGE_LEDGER_ANNOTATION} is unreadable (${read.reason}); lifeboat will not scale this workload until it is fixed or removed`,
      });
    const plan = planLedgerChange(read.entries, change);
    const from = object.spec?.replicas ?? 1;
    const wanted = from + plan.delta;
    const to = Math.max(0, wanted);
    // The count this write leaves, recorded with the ledger: a hand-back acknowledges the count someone else
    // chose; a write that changes nothing keeps the record as it was.
    const recorded = plan.delta !== 0 ? to : change.kind === "hand-back" ? from : read.replicas;
    const same = serializeLedger(plan.entries, recorded) === serializeLedger(read.entries, read.replicas);
    const unsupported =
      change.kind === "retire" && plan.delta !== 0 && read.replicas !== null && from !== read.replicas;
    if (cachedCopy && (unsupported || (plan.delta === 0 && same))) {
      // A decision to write nothing is never taken from a cached copy: read it fresh (not an attempt).
      attempt--;
      continue;
    }
    if (unsupported)
      // Someone else (an HPA, a person) scaled it since lifeboat's last write: -k now would cut below the
      // count they chose. The next plan sees it too and hands the surge back instead.
      return {
        kind: "unsupported",
        reason: `spec.replicas is ${from}, not the ${read.replicas} lifeboat last wrote: someone else scaled it, so the surge is handed back rather than retired`,
      };
    if (plan.delta === 0 && same)
      return {
        kind: "applied",
        delta: 0,
        replicas: { from, to: from },
        clamped: false,
        attempts: attempt,
        touched: plan.touched,
        unknown: plan.unknown,
      };
    const body = {
      metadata: {
        resourceVersion: object.metadata?.resourceVersion,
        annotations: { [SURGE_LEDGER_ANNOTATION]: serializeLedger(plan.entries, recorded) },
      },
      ...(plan.delta === 0 ? {} : { spec: { replicas: to } }),
    };
    try {
      await endpoints.patch({ ...id, body });
      return {
        kind: "applied",
        delta: plan.delta,
        replicas: { from, to },
        clamped: wanted !== to,
        attempts: attempt,
        touched: plan.touched,
        unknown: plan.unknown,
      };
    } catch (err) {
      if (isNotFound(err)) return { kind: "not-found" };
      if (isConflict(err)) continue;
      throw toKubeApiError(err, change.kind, target);
    }
  }
  throw new KubeApiError({
    kind: "conflict",
    status: 409,
    operation: change.kind,
    target,
    serverMessage: `still conflicting after ${MAX_CONFLICT_ATTEMPTS} read-modify-write attempts`,
  });
}
