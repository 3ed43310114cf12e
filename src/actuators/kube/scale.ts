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
  type LedgerPlan,
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

/** What one read of the workload decides for a change: the write to make, or why there is none. */
type LedgerDecision =
  | { kind: "malformed"; reason: string }
  /** A retire, but spec.replicas is not what lifeboat last wrote. */
  | { kind: "scaled-by-someone-else"; from: number; lastWritten: number }
  /** The ledger already holds the change and its count: nothing to write. */
  | { kind: "already"; from: number; plan: LedgerPlan }
  | { kind: "write"; from: number; wanted: number; to: number; plan: LedgerPlan; ledger: string | null };

/** Pure: `change` applied to the ledger and replicas of `object` as read. */
function decide(object: V1Deployment | V1ReplicaSet, change: LedgerChange): LedgerDecision {
  const read = parseLedger(object.metadata?.annotations?.[SURGE_LEDGER_ANNOTATION]);
  if (read.kind === "malformed") return { kind: "malformed", reason: read.reason };
  const plan = planLedgerChange(read.entries, change);
  const from = object.spec?.replicas ?? 1;
  const wanted = from + plan.delta;
  const to = Math.max(0, wanted);
  // The count this write leaves, recorded with the ledger: a hand-back acknowledges the count someone else
  // chose; a write that changes nothing keeps the record as it was.
  const recorded = plan.delta !== 0 ? to : change.kind === "hand-back" ? from : read.replicas;
  const ledger = serializeLedger(plan.entries, recorded);
  if (change.kind === "retire" && plan.delta !== 0 && read.replicas !== null && from !== read.replicas)
    return { kind: "scaled-by-someone-else", from, lastWritten: read.replicas };
  if (plan.delta === 0 && ledger === serializeLedger(read.entries, read.replicas))
    return { kind: "already", from, plan };
  return { kind: "write", from, wanted, to, plan, ledger };
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
    const cachedCopy = fromCache !== undefined;
    const object = fromCache ?? (await readFresh(endpoints, id, target));
    fromCache = undefined;
    if (object === null) return { kind: "not-found" };
    const decision = decide(object, change);
    if (cachedCopy && decision.kind !== "write") {
      // A decision to write nothing (or an unreadable ledger) is never taken from a cached copy: read it
      // fresh (not an attempt).
      attempt--;
      continue;
    }
    switch (decision.kind) {
      case "malformed":
        throw new KubeApiError({
          kind: "invalid",
          status: 422,
          operation: "read the surge ledger of",
          target,
          serverMessage: `annotation ${SURGE_LEDGER_ANNOTATION} is unreadable (${decision.reason}); lifeboat will not scale this workload until it is fixed or removed`,
        });
      case "scaled-by-someone-else":
        // Someone else (an HPA, a person) scaled it since lifeboat's last write: -k now would cut below the
        // count they chose. The next plan sees it too and hands the surge back instead.
        return {
          kind: "unsupported",
          reason: `spec.replicas is ${decision.from}, not the ${decision.lastWritten} lifeboat last wrote: someone else scaled it, so the surge is handed back rather than retired`,
        };
      case "already":
        return applied(decision.plan, decision.from, decision.from, false, attempt);
      case "write": {
        const outcome = await write(endpoints, id, object, decision, change, target);
        if (outcome === "conflict") continue;
        return outcome === "written"
          ? applied(decision.plan, decision.from, decision.to, decision.wanted !== decision.to, attempt)
          : outcome;
      }
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

type WorkloadId = { name: string; namespace: string };

/** The workload as the API server has it now; null when it is gone. */
async function readFresh(
  endpoints: LedgerEndpoints,
  id: WorkloadId,
  target: string,
): Promise<V1Deployment | V1ReplicaSet | null> {
  try {
    return await endpoints.read(id);
  } catch (err) {
    if (isNotFound(err)) return null;
    throw toKubeApiError(err, "get", target);
  }
}

/** The replicas (unless the change adds none) and the ledger in one patch, conditional on the version read. */
async function write(
  endpoints: LedgerEndpoints,
  id: WorkloadId,
  object: V1Deployment | V1ReplicaSet,
  decision: Extract<LedgerDecision, { kind: "write" }>,
  change: LedgerChange,
  target: string,
): Promise<"written" | "conflict" | { kind: "not-found" }> {
  const body = {
    metadata: {
      resourceVersion: object.metadata?.resourceVersion,
      annotations: { [SURGE_LEDGER_ANNOTATION]: decision.ledger },
    },
    ...(decision.plan.delta === 0 ? {} : { spec: { replicas: decision.to } }),
  };
  try {
    await endpoints.patch({ ...id, body });
    return "written";
  } catch (err) {
    if (isNotFound(err)) return { kind: "not-found" };
    if (isConflict(err)) return "conflict";
    throw toKubeApiError(err, change.kind, target);
  }
}

function applied(
  plan: LedgerPlan,
  from: number,
  to: number,
  clamped: boolean,
  attempts: number,
): LedgerOutcome {
  return {
    kind: "applied",
    delta: plan.delta,
    replicas: { from, to },
    clamped,
    attempts,
    touched: plan.touched,
    unknown: plan.unknown,
  };
}
