/**
 * The pure headroom planner: how many placeholder pods, of what size, per node group (or zone), so that one
 * reclaim's pods can start at once somewhere else. No I/O, no clock.
 *
 * Per scope value (a node group, or a zone):
 * - **Size**: a whole node: what the group's smallest schedulable node offers once its DaemonSet and mirror
 *   pods are counted (allocatable minus their requests), and never less than the largest node's worth of pods
 *   lifeboat surges (the sum of their requests on the node where it is largest); CPU rounded down to 100m and
 *   memory to 64 MiB so that a small change does not roll the placeholders. Or the fixed size of the
 *   settings. A whole node, because a reclaim's pods may repel each other (the seed's one pod per node, by
 *   required anti-affinity): only an empty node of the group is sure to take any of them.
 * - **Count**: `nodes` spare nodes' worth, minus the spare nodes the scope already has. A node is spare when it
 *   is schedulable, runs no Deployment pod and no placeholder, and has room for one placeholder.
 * - A scope value with no pod lifeboat surges gets no placeholders (nothing there would need room).
 *
 * A placeholder that fills a node leaves no room there: the autoscaler adds that node in the background, and a
 * surge pod that finds no room elsewhere preempts the placeholder (it has a lower priority) and starts there
 * at once, honouring its own anti-affinity and node selectors. Filling the node by requests (and not with
 * anti-affinity) matters: the scheduler retries a preemptor when the victim's deletion frees resources it was
 * refused for; a refusal by the victim's own anti-affinity is not retried on that deletion (kube-scheduler's
 * InterPodAffinity queueing hint only looks at the preemptor's terms), and the surge would wait for a node.
 */
import type { HeadroomPlan, HeadroomSettings, PlaceholderSet } from "../domain/headroom.ts";
import {
  EKS_NODE_GROUP_LABEL,
  KARPENTER_NODEPOOL_LABEL,
  ZONE_LABEL,
  isPlaceholder,
  placeholderName,
} from "../domain/headroom.ts";
import type { ClusterSnapshot, NodeView, PodView, Resources } from "../domain/snapshot.ts";

const CPU_STEP_MILLI = 100;
const MEMORY_STEP_BYTES = 64 * 2 ** 20;

export interface HeadroomInput {
  snapshot: Pick<ClusterSnapshot, "nodes" | "pods">;
  settings: HeadroomSettings;
}

function isRunningOrPending(p: PodView): boolean {
  return p.phase !== "Succeeded" && p.phase !== "Failed";
}

/** A pod lifeboat would surge if its node were reclaimed. */
function surgeable(p: PodView): boolean {
  return (
    p.owner !== null &&
    (p.owner.kind === "Deployment" || p.owner.kind === "ReplicaSet") &&
    !p.mirror &&
    !p.deleting &&
    isRunningOrPending(p) &&
    !isPlaceholder(p)
  );
}

function schedulable(n: NodeView): boolean {
  return (
    n.ready &&
    !n.unschedulable &&
    !n.taints.some((t) => t.effect === "NoSchedule" || t.effect === "NoExecute")
  );
}

function roundUp(value: number, step: number): number {
  return Math.ceil(value / step) * step;
}

function roundDown(value: number, step: number): number {
  return Math.floor(value / step) * step;
}

/** Pods that come with every node: DaemonSet and mirror (static) pods. */
function nodeBound(p: PodView): boolean {
  return p.mirror || p.owner?.kind === "DaemonSet";
}

function sum(pods: readonly PodView[]): Resources {
  return {
    cpuMilli: pods.reduce((s, p) => s + p.requests.cpuMilli, 0),
    memoryBytes: pods.reduce((s, p) => s + p.requests.memoryBytes, 0),
  };
}

/** The scope value of a node and the label that selects it; null when the node has none. */
function scopeOf(n: NodeView, settings: HeadroomSettings): { key: string; value: string } | null {
  if (settings.scope === "zone") return n.zone === null ? null : { key: ZONE_LABEL, value: n.zone };
  if (n.labels[EKS_NODE_GROUP_LABEL] !== undefined)
    return { key: EKS_NODE_GROUP_LABEL, value: n.labels[EKS_NODE_GROUP_LABEL] };
  if (n.labels[KARPENTER_NODEPOOL_LABEL] !== undefined)
    return { key: KARPENTER_NODEPOOL_LABEL, value: n.labels[KARPENTER_NODEPOOL_LABEL] };
  return null;
}

function formatRequests(r: Resources): string {
  const mem = r.memoryBytes === 0 ? "" : ` and ${Math.round(r.memoryBytes / 2 ** 20)} MiB`;
  return `${r.cpuMilli}m CPU${mem}`;
}

export function planHeadroom(input: HeadroomInput): HeadroomPlan {
  const { snapshot, settings } = input;
  if (settings.nodes <= 0) return { sets: [] };
  const podsByNode = new Map<string, PodView[]>();
  for (const p of snapshot.pods) {
    if (p.nodeName === null || !isRunningOrPending(p)) continue;
    const list = podsByNode.get(p.nodeName) ?? [];
    list.push(p);
    podsByNode.set(p.nodeName, list);
  }
  const scopes = new Map<string, Scope>();
  for (const n of snapshot.nodes) {
    const s = scopeOf(n, settings);
    if (s === null) continue;
    const entry = scopes.get(s.value) ?? { ...s, nodes: [] };
    entry.nodes.push(n);
    scopes.set(s.value, entry);
  }
  const sets: PlaceholderSet[] = [];
  for (const scope of [...scopes.values()].sort((a, b) => a.value.localeCompare(b.value))) {
    const set = placeholderSet(scope, podsByNode, settings);
    if (set !== null) sets.push(set);
  }
  return { sets };
}

/** One group (or zone) of nodes with the label that selects it. */
interface Scope {
  key: string;
  value: string;
  nodes: NodeView[];
}

/** The placeholders one scope needs; null when no node of it holds a pod lifeboat would surge. */
function placeholderSet(
  scope: Scope,
  podsByNode: ReadonlyMap<string, PodView[]>,
  settings: HeadroomSettings,
): PlaceholderSet | null {
  const worths = scope.nodes.map((n) => {
    const pods = (podsByNode.get(n.name) ?? []).filter(surgeable);
    return { node: n, pods: pods.length, requests: sum(pods) };
  });
  const largest = worths.reduce<(typeof worths)[number] | null>(
    (best, w) =>
      best === null ||
      w.requests.cpuMilli > best.requests.cpuMilli ||
      (w.requests.cpuMilli === best.requests.cpuMilli && w.requests.memoryBytes > best.requests.memoryBytes)
        ? w
        : best,
    null,
  );
  if (largest === null || largest.pods === 0) return null;
  // A whole node: the smallest schedulable node's room once its DaemonSet and mirror pods are counted.
  const rooms = scope.nodes.filter(schedulable).map((n) => {
    const fixed = sum((podsByNode.get(n.name) ?? []).filter(nodeBound));
    return {
      cpuMilli: roundDown(n.allocatable.cpuMilli - fixed.cpuMilli, CPU_STEP_MILLI),
      memoryBytes: roundDown(n.allocatable.memoryBytes - fixed.memoryBytes, MEMORY_STEP_BYTES),
    };
  });
  const wholeNode: Resources = {
    cpuMilli: Math.min(...rooms.map((r) => r.cpuMilli)),
    memoryBytes: Math.min(...rooms.map((r) => r.memoryBytes)),
  };
  const worth: Resources = {
    cpuMilli: roundUp(largest.requests.cpuMilli, CPU_STEP_MILLI),
    memoryBytes: roundUp(largest.requests.memoryBytes, MEMORY_STEP_BYTES),
  };
  const requests: Resources = {
    cpuMilli: settings.cpuMilli ?? Math.max(worth.cpuMilli, rooms.length === 0 ? 0 : wholeNode.cpuMilli),
    memoryBytes:
      settings.memoryBytes ?? Math.max(worth.memoryBytes, rooms.length === 0 ? 0 : wholeNode.memoryBytes),
  };
  const computed = settings.cpuMilli === null || settings.memoryBytes === null;
  const spare = scope.nodes.filter((n) => isSpare(n, podsByNode.get(n.name) ?? [], requests));
  const replicas = Math.max(0, settings.nodes - spare.length);
  const why = computed
    ? `a whole node of the group, at least the largest node's worth of pods lifeboat surges (${largest.pods} on ${largest.node.name}: ${formatRequests(worth)})`
    : "the configured size";
  const room =
    spare.length === 0
      ? "no spare node"
      : `${spare.length} spare node(s) (${spare.map((n) => n.name).join(", ")})`;
  return {
    name: placeholderName(settings.scope, scope.value),
    scope: settings.scope,
    labelKey: scope.key,
    labelValue: scope.value,
    replicas,
    requests,
    reason: `${settings.scope} ${scope.value}: keep ${settings.nodes} node(s) of room for ${formatRequests(requests)} (${why}); it has ${room}, so ${replicas} placeholder(s)`,
  };
}

/** A schedulable node with no surgeable pod and no placeholder, with room for one placeholder of `requests`. */
function isSpare(n: NodeView, pods: readonly PodView[], requests: Resources): boolean {
  if (!schedulable(n)) return false;
  if (pods.some((p) => isPlaceholder(p) || surgeable(p))) return false;
  const used = sum(pods);
  return (
    n.allocatable.pods - pods.length >= 1 &&
    n.allocatable.cpuMilli - used.cpuMilli >= requests.cpuMilli &&
    n.allocatable.memoryBytes - used.memoryBytes >= requests.memoryBytes
  );
}
