/**
 * What the informers keep of each object: only what lifeboat reads (views.ts, the snapshot, the node index).
 * A pod in a real cluster is mostly fields lifeboat never reads: metadata.managedFields (often a third of the
 * object), env, volumes, mounts, probes, container statuses; a node carries the list of every image it
 * holds. Trimmed as each object arrives (list items and watch events alike), the cache of a 30,000-pod
 * cluster is a fraction of the objects' size, and every snapshot copies less. Pure, in place, returns the
 * object.
 *
 * What is kept, per resource (everything views.ts reads, nothing else):
 * - every object: metadata without managedFields and without kubectl's last-applied-configuration annotation;
 * - pods: spec.nodeName, terminationGracePeriodSeconds, overhead, the required pod anti-affinity (one pod
 *   per node: room for a surge), and of each container only its name, restartPolicy, lifecycle.preStop and
 *   resources.requests; status.phase and the Ready condition;
 * - nodes: spec, labels, annotations, status.conditions and allocatable (no images, no volumes, no nodeInfo);
 * - ReplicaSets owned by a Deployment: no pod template (the Deployment has it; bare ones keep theirs).
 */
import type { KubernetesObject, V1Container, V1Node, V1Pod, V1ReplicaSet } from "@kubernetes/client-node";

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

function trimContainer(c: V1Container): V1Container {
  const out: V1Container = { name: c.name };
  if (c.restartPolicy !== undefined) out.restartPolicy = c.restartPolicy;
  if (c.lifecycle?.preStop !== undefined) out.lifecycle = { preStop: c.lifecycle.preStop };
  if (c.resources?.requests !== undefined) out.resources = { requests: c.resources.requests };
  return out;
}

export function trimPod(pod: V1Pod): V1Pod {
  trimMetadata(pod);
  const spec = pod.spec;
  if (spec !== undefined) {
    const kept: V1Pod["spec"] = { containers: spec.containers.map(trimContainer) };
    if (spec.nodeName !== undefined) kept.nodeName = spec.nodeName;
    if (spec.initContainers !== undefined) kept.initContainers = spec.initContainers.map(trimContainer);
    if (spec.terminationGracePeriodSeconds !== undefined)
      kept.terminationGracePeriodSeconds = spec.terminationGracePeriodSeconds;
    if (spec.overhead !== undefined) kept.overhead = spec.overhead;
    const antiAffinity = spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    if (antiAffinity !== undefined)
      kept.affinity = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: antiAffinity } };
    pod.spec = kept;
  }
  const status = pod.status;
  if (status !== undefined) {
    const ready = status.conditions?.filter((c) => c.type === "Ready");
    pod.status = {
      ...(status.phase === undefined ? {} : { phase: status.phase }),
      ...(ready === undefined ? {} : { conditions: ready }),
    };
  }
  return pod;
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
