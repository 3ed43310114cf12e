/**
 * Managed headroom: placeholder pods that hold one reclaim's worth of room per node group (or zone), so that
 * a surge starts at once instead of waiting for a node. The vocabulary shared by the pure headroom planner
 * (src/planner/headroom.ts), the evacuation planner (which counts placeholders as room) and the actuator that
 * keeps the placeholder Deployments.
 */
import type { PodView, Resources } from "./snapshot.ts";

/** Label on every placeholder pod (and its Deployment): the node group or zone it holds room in. */
export const HEADROOM_LABEL = "lifeboat.dev/headroom";
/** Label on placeholder Deployments: which scope (`node-group` or `zone`) the value of HEADROOM_LABEL names. */
export const HEADROOM_SCOPE_LABEL = "lifeboat.dev/headroom-scope";
export const ZONE_LABEL = "topology.kubernetes.io/zone";
export const EKS_NODE_GROUP_LABEL = "eks.amazonaws.com/nodegroup";
export const KARPENTER_NODEPOOL_LABEL = "karpenter.sh/nodepool";

export const HEADROOM_SCOPES = ["node-group", "zone"] as const;
/** Where one reclaim's worth of room is kept: per node group (EKS node group or Karpenter NodePool) or per zone. */
export type HeadroomScope = (typeof HEADROOM_SCOPES)[number];

export interface HeadroomSettings {
  /** Spare nodes' worth of room per scope value (`--headroom-nodes`); 0 turns headroom off. */
  nodes: number;
  scope: HeadroomScope;
  /** Fixed requests of one placeholder (`--headroom-cpu`, `--headroom-memory`); null: computed from the workloads. */
  cpuMilli: number | null;
  memoryBytes: number | null;
}

/** One placeholder Deployment: `replicas` pods of `requests`, pinned to nodes whose `labelKey` is `labelValue`. */
export interface PlaceholderSet {
  /** Deployment name: `lifeboat-headroom-<scope>-<value>`. */
  name: string;
  scope: HeadroomScope;
  labelKey: string;
  labelValue: string;
  replicas: number;
  requests: Resources;
  /** Why this many of this size: reaches the log. */
  reason: string;
}

export interface HeadroomPlan {
  sets: PlaceholderSet[];
}

/** A placeholder pod of lifeboat's headroom: room, not a workload (any pod with a priority above it preempts it). */
export function isPlaceholder(pod: Pick<PodView, "labels">): boolean {
  return pod.labels[HEADROOM_LABEL] !== undefined;
}

/** DNS-1123 name of the placeholder Deployment of one scope value. */
export function placeholderName(scope: HeadroomScope, value: string): string {
  const clean = value
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  const prefix = `lifeboat-headroom-${scope === "node-group" ? "ng" : "zone"}-`;
  return `${prefix}${clean}`.slice(0, 52).replace(/-+$/, "");
}
