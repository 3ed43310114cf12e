/**
 * What the planner reads: plain data copied out of the cluster at one moment. No client-node types here, so
 * the planner stays pure and its tests build snapshots with fixture builders instead of API objects.
 * Times are milliseconds since the epoch.
 */

import type { LedgerEntry } from "./surge-ledger.ts";

/** Owner kinds the planner distinguishes. "ReplicaSet" means a ReplicaSet with no Deployment above it. */
export type WorkloadKind = "Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "ReplicaSet" | "Other";

/** A pod's top owner (a Deployment, not its ReplicaSet; a Job, not its CronJob's generation). */
export interface WorkloadRef {
  kind: WorkloadKind;
  namespace: string;
  name: string;
}

/** Stable key for maps and Event subjects: `Deployment/shop/web`. */
export function workloadKey(ref: WorkloadRef): string {
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}

export interface PodRef {
  namespace: string;
  name: string;
}

/** `shop/web-7d9f-abcde`. */
export function podKey(ref: PodRef): string {
  return `${ref.namespace}/${ref.name}`;
}

export type TaintEffect = "NoSchedule" | "PreferNoSchedule" | "NoExecute";

export interface Taint {
  key: string;
  value?: string;
  effect: TaintEffect;
}

export interface Resources {
  cpuMilli: number;
  memoryBytes: number;
}

export interface NodeView {
  name: string;
  /** EC2 instance id from spec.providerID (`aws:///us-east-1a/i-0abc`); null when not an EC2 node. */
  instanceId: string | null;
  /** eks.amazonaws.com/nodegroup (or karpenter.sh/nodepool) label; null when absent. */
  nodeGroup: string | null;
  /** topology.kubernetes.io/zone label; null when absent. */
  zone: string | null;
  /** Ready condition is True. */
  ready: boolean;
  /** spec.unschedulable (cordoned). */
  unschedulable: boolean;
  taints: Taint[];
  labels: Record<string, string>;
  allocatable: Resources & { pods: number };
  /**
   * The node's `lifeboat.dev/evacuate` annotation (a request by a person, `lifeboat evacuate` or `lifeboat
   * agent`) and the id of the notice it makes (null when the value cannot be read); null without one.
   */
  evacuateRequest: { value: string; noticeId: string | null } | null;
}

/** Pod phase as reported by the API. */
export type PodPhase = "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";

export interface PodView {
  namespace: string;
  name: string;
  uid: string;
  /** spec.nodeName; null while unscheduled. */
  nodeName: string | null;
  phase: PodPhase;
  /** Ready condition is True (readiness gates included, so with LBC gates this means healthy in the ALB). */
  ready: boolean;
  createdAt: number;
  /** lastTransitionTime of Ready=True; null while not Ready. */
  readyAt: number | null;
  /** metadata.deletionTimestamp is set: the pod is terminating and already out of Ready endpoints. */
  deleting: boolean;
  /** Resolved top owner; null for a bare pod. */
  owner: WorkloadRef | null;
  /** Static pod mirrored by the kubelet (annotation kubernetes.io/config.mirror). */
  mirror: boolean;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Length of the preStop sleep (exec `sleep N` or lifecycle `sleep`), the longest across containers; null: none. */
  preStopSeconds: number | null;
  terminationGracePeriodSeconds: number;
  /** Sum of the containers' requests. */
  requests: Resources;
  /**
   * Required pod anti-affinity on kubernetes.io/hostname against pods with its own labels (the seed's "one pod
   * per node"): a replacement cannot share a node with another pod of its workload.
   */
  onePerNode: boolean;
}

export interface WorkloadView {
  ref: WorkloadRef;
  /** spec.replicas as read (includes any surge lifeboat has applied). */
  specReplicas: number;
  readyReplicas: number;
  /**
   * The pods its controller counts (status.replicas, terminating ones not included): above specReplicas while
   * a scale-down is not carried out yet. Null when unknown.
   */
  statusReplicas: number | null;
  /**
   * Expected seconds from pod creation to Ready: annotation `lifeboat.dev/expected-ready-seconds` on the
   * workload, else the median create->Ready of its pods seen in this cluster; null when unknown (the planner
   * then uses its default budget).
   */
  expectedReadySeconds: number | null;
  /** The HorizontalPodAutoscaler targeting it, if any. */
  hpa: { min: number; max: number } | null;
  /**
   * A rollout is in progress (Deployments): its controller has not yet observed the latest spec
   * (status.observedGeneration < metadata.generation), or not every replica runs the current template
   * (status.updatedReplicas < spec.replicas), or old pods still run beside the new ones (status.replicas >
   * status.updatedReplicas). Then two ReplicaSets share the count and a scale-down is spread across them.
   * Always false for StatefulSets and bare ReplicaSets.
   */
  rollingOut: boolean;
  /**
   * lifeboat's own surges of this workload, from its annotation lifeboat.dev/surge-ledger (open ones have
   * retiredAt null): the source of truth for what spec.replicas holds extra on lifeboat's behalf. Empty when
   * the annotation is absent or unreadable (see src/domain/surge-ledger.ts).
   */
  surgeLedger: LedgerEntry[];
  /**
   * spec.replicas as lifeboat last wrote it, recorded in the same ledger write; null without a record. When
   * spec.replicas differs, someone else (an HPA, a person) scaled the workload since.
   */
  ledgerReplicas: number | null;
}

export interface PdbView {
  namespace: string;
  name: string;
  /**
   * spec.selector.matchLabels. matchExpressions are not modelled: the snapshot reader should leave out a PDB
   * it cannot express this way rather than widen it (an empty selector matches every pod in the namespace).
   */
  matchLabels: Record<string, string>;
  /** status.disruptionsAllowed. */
  disruptionsAllowed: number;
}

export interface ClusterSnapshot {
  takenAt: number;
  nodes: NodeView[];
  pods: PodView[];
  workloads: WorkloadView[];
  pdbs: PdbView[];
}

/** Annotation on a workload overriding the learned time to Ready, in seconds. */
export const EXPECTED_READY_ANNOTATION = "lifeboat.dev/expected-ready-seconds";

/** `aws:///us-east-1a/i-0abc123` -> `i-0abc123`; null for anything that is not an EC2 provider id. */
export function instanceIdFromProviderId(providerId: string | undefined | null): string | null {
  if (providerId == null || !providerId.startsWith("aws://")) return null;
  const last = providerId.slice(providerId.lastIndexOf("/") + 1);
  return /^i-[0-9a-f]+$/.test(last) ? last : null;
}

/** True when every label of `selector` is on the pod (an empty selector matches every pod, as in Kubernetes). */
export function matchesLabels(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
