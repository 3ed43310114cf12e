/**
 * What the informers keep of each object: only what lifeboat reads (views.ts, the snapshot, the node index).
 * A pod in a real cluster is mostly fields lifeboat never reads: metadata.managedFields (often a third of the
 * object), env, volumes, mounts, probes, container statuses; a node carries the list of every image it
 * holds. Trimmed as each object arrives (list items and watch events alike), the cache of a 30,000-pod
 * cluster is a fraction of the objects' size, and every snapshot copies less. Pure; nodes and ReplicaSets are
 * trimmed in place, a pod is replaced by a compact record of its own.
 *
 * What is kept, per resource (everything views.ts reads, nothing else):
 * - every object: metadata without managedFields and without kubectl's last-applied-configuration annotation;
 * - pods: their view only (PodView: what the planner reads of a pod), its store keys and its controller
 *   reference (CompactPod below);
 * - nodes: spec, labels, annotations, status.conditions and allocatable (no images, no volumes, no nodeInfo);
 * - ReplicaSets owned by a Deployment: no pod template (the Deployment has it; bare ones keep theirs).
 */
import type { KubernetesObject, V1Node, V1Pod, V1ReplicaSet } from "@kubernetes/client-node";
import type { PodView } from "../domain/snapshot.ts";
import { controllerRef, podView, type ControllerRef, type ReplicaSetOwners } from "./views.ts";

export const LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * Drops managedFields and kubectl's last-applied copy of the object from any object. The metadata is built
 * anew rather than `delete`d from: an object a property was deleted from becomes a slower, larger
 * dictionary-mode object in V8, times 30,000 pods.
 */
export function trimMetadata<T extends KubernetesObject>(obj: T): T {
  const meta = obj.metadata;
  if (meta === undefined) return obj;
  const { managedFields: _managed, ...rest } = meta;
  if (rest.annotations?.[LAST_APPLIED_ANNOTATION] !== undefined) {
    const { [LAST_APPLIED_ANNOTATION]: _dropped, ...annotations } = rest.annotations;
    rest.annotations = annotations;
  }
  obj.metadata = rest;
  return obj;
}

/**
 * What the pods informer keeps of a pod: its view (views.ts `podView`, computed once as the pod arrives), the
 * metadata the informer's store keys on (name, namespace, resourceVersion), and the controller reference the
 * owner is resolved from against the ReplicaSet cache at each snapshot (a ReplicaSet's owner can change, or
 * arrive after its pods). Nothing else in lifeboat reads a pod object: the V1Pod itself (a trimmed one was
 * about 1.5 KB of heap, its Dates and nested objects included) is dropped as soon as its view is built.
 */
export interface CompactPod extends KubernetesObject {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  /**
   * The pod's view. Its owner is resolved without the ReplicaSet cache when the pod arrives (the Deployment
   * naming rule); the cache replaces the view with one carrying the owner the ReplicaSet cache resolves, when
   * that differs (ClusterCache.snapshot). Read-only otherwise: snapshots share it.
   */
  view: PodView;
  /** The pod's controller (or first) ownerReference; null for a bare pod. */
  controller: ControllerRef | null;
}

const NO_OWNERS: ReplicaSetOwners = new Map();

/** A pod as the informer keeps it (see CompactPod). Pure; the pod is not modified. */
export function compactPod(pod: V1Pod): CompactPod {
  const meta = pod.metadata;
  const metadata: CompactPod["metadata"] = { name: meta?.name ?? "", namespace: meta?.namespace ?? "" };
  if (meta?.resourceVersion !== undefined) metadata.resourceVersion = meta.resourceVersion;
  // kubectl's last-applied copy of the pod is not part of its annotations as lifeboat reads them.
  const annotations = meta?.annotations;
  const read =
    annotations?.[LAST_APPLIED_ANNOTATION] === undefined
      ? pod
      : { ...pod, metadata: { ...meta, annotations: withoutLastApplied(annotations) } };
  return { metadata, view: podView(read, NO_OWNERS), controller: controllerRef(pod) };
}

function withoutLastApplied(annotations: Record<string, string>): Record<string, string> {
  const { [LAST_APPLIED_ANNOTATION]: _dropped, ...rest } = annotations;
  return rest;
}

export function trimNode(node: V1Node): V1Node {
  trimMetadata(node);
  const status = node.status;
  if (status !== undefined) {
    node.status = {
      ...(status.conditions === undefined ? {} : { conditions: status.conditions }),
      ...(status.allocatable === undefined ? {} : { allocatable: status.allocatable }),
    };
  }
  return node;
}

export function trimReplicaSet(rs: V1ReplicaSet): V1ReplicaSet {
  trimMetadata(rs);
  const owned = (rs.metadata?.ownerReferences ?? []).length > 0;
  if (owned && rs.spec !== undefined) {
    const { template: _template, ...spec } = rs.spec;
    rs.spec = spec;
  }
  return rs;
}
