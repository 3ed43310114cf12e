/**
 * API objects -> the plain views of src/domain/snapshot.ts. Pure: no I/O, no clock. The informer cache calls
 * these on every snapshot; tests call them on objects built with fixture builders.
 *
 * Objects reach us in two shapes: from a list call client-node deserializes timestamps into Dates, from a
 * watch event they stay RFC 3339 strings. Every timestamp goes through `toMillis`, which takes both.
 */
import type {
  V1Container,
  V1Deployment,
  V1LifecycleHandler,
  V1Node,
  V1OwnerReference,
  V1Pod,
  V1PodDisruptionBudget,
  V1ReplicaSet,
  V1StatefulSet,
  V2HorizontalPodAutoscaler,
} from "@kubernetes/client-node";
import {
  EXPECTED_READY_ANNOTATION,
  instanceIdFromProviderId,
  type NodeView,
  type PdbView,
  type PodPhase,
  type PodView,
  type Resources,
  type Taint,
  type TaintEffect,
  type WorkloadKind,
  type WorkloadRef,
  type WorkloadView,
} from "../domain/snapshot.ts";
import { bytes, cpuMilli, parseQuantity } from "./quantity.ts";
import { annotationNoticeId, EVACUATE_ANNOTATION } from "../signals/manual/manual.ts";
import { parseLedger, SURGE_LEDGER_ANNOTATION, type LedgerEntry } from "../domain/surge-ledger.ts";

export const NODE_GROUP_LABEL = "eks.amazonaws.com/nodegroup";
export const KARPENTER_NODEPOOL_LABEL = "karpenter.sh/nodepool";
export const ZONE_LABEL = "topology.kubernetes.io/zone";
export const MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror";
export const POD_TEMPLATE_HASH_LABEL = "pod-template-hash";
/** Kubernetes' default terminationGracePeriodSeconds. */
const DEFAULT_GRACE_SECONDS = 30;

/** A timestamp as client-node hands it over (Date from a list, string from a watch) -> ms since epoch. */
export function toMillis(value: Date | string | undefined | null): number | null {
  if (value == null) return null;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

// ---------------------------------------------------------------------------------------------- nodes

export function nodeView(node: V1Node): NodeView {
  const labels = node.metadata?.labels ?? {};
  const allocatable = node.status?.allocatable ?? {};
  return {
    name: node.metadata?.name ?? "",
    instanceId: instanceIdFromProviderId(node.spec?.providerID),
    nodeGroup: labels[NODE_GROUP_LABEL] ?? labels[KARPENTER_NODEPOOL_LABEL] ?? null,
    zone: labels[ZONE_LABEL] ?? null,
    ready: node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
    unschedulable: node.spec?.unschedulable === true,
    taints: (node.spec?.taints ?? []).flatMap((t): Taint[] => {
      if (!isTaintEffect(t.effect)) return [];
      return [
        t.value === undefined || t.value === ""
          ? { key: t.key, effect: t.effect }
          : { key: t.key, value: t.value, effect: t.effect },
      ];
    }),
    labels: { ...labels },
    allocatable: {
      cpuMilli: cpuMilli(allocatable["cpu"]),
      memoryBytes: bytes(allocatable["memory"]),
      pods: Math.floor(parseQuantity(allocatable["pods"]) ?? 0),
    },
    evacuateRequest: evacuateRequestOf(node),
  };
}

function evacuateRequestOf(node: V1Node): NodeView["evacuateRequest"] {
  const value = node.metadata?.annotations?.[EVACUATE_ANNOTATION];
  if (value === undefined) return null;
  return { value, noticeId: annotationNoticeId(node.metadata?.name ?? "", value) };
}

function isTaintEffect(effect: string): effect is TaintEffect {
  return effect === "NoSchedule" || effect === "PreferNoSchedule" || effect === "NoExecute";
}

// ----------------------------------------------------------------------------------------------- pods

/**
 * Which Deployment owns each ReplicaSet, keyed `namespace/name`: the Deployment's name, or null for a
 * ReplicaSet with no Deployment above it. Built from the ReplicaSet informer's contents.
 */
export type ReplicaSetOwners = ReadonlyMap<string, string | null>;

export function replicaSetOwners(replicaSets: readonly V1ReplicaSet[]): Map<string, string | null> {
  const owners = new Map<string, string | null>();
  for (const rs of replicaSets) {
    const ns = rs.metadata?.namespace ?? "";
    const name = rs.metadata?.name ?? "";
    const owner = controllerOf(rs.metadata?.ownerReferences);
    owners.set(`${ns}/${name}`, owner?.kind === "Deployment" ? owner.name : null);
  }
  return owners;
}

function controllerOf(refs: readonly V1OwnerReference[] | undefined): V1OwnerReference | undefined {
  return refs?.find((r) => r.controller === true) ?? refs?.[0];
}

/**
 * The pod's top owner: ReplicaSet -> Deployment through `owners`; StatefulSet, DaemonSet, Job directly.
 * A ReplicaSet not (yet) in the cache is resolved by the Deployment naming rule (`<deployment>-<pod-template-hash>`),
 * which only the Deployment controller produces.
 */
export function resolveOwner(pod: V1Pod, owners: ReplicaSetOwners): WorkloadRef | null {
  return resolveControllerOwner(
    pod.metadata?.namespace ?? "",
    controllerRef(pod),
    pod.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL],
    owners,
  );
}

/** The pod's controller (or first) ownerReference, its kind and name: what resolveControllerOwner reads. */
export interface ControllerRef {
  kind: string;
  name: string;
}

export function controllerRef(pod: V1Pod): ControllerRef | null {
  const ref = controllerOf(pod.metadata?.ownerReferences);
  return ref === undefined ? null : { kind: ref.kind, name: ref.name };
}

/**
 * resolveOwner from what a cached pod keeps (see CompactPod in trim.ts): its namespace, its controller
 * reference, and its pod-template-hash label.
 */
export function resolveControllerOwner(
  namespace: string,
  ref: ControllerRef | null,
  templateHash: string | undefined,
  owners: ReplicaSetOwners,
): WorkloadRef | null {
  if (ref === null) return null;
  if (ref.kind === "ReplicaSet") {
    const known = owners.get(`${namespace}/${ref.name}`);
    if (typeof known === "string") return { kind: "Deployment", namespace, name: known };
    if (known === null) return { kind: "ReplicaSet", namespace, name: ref.name };
    if (templateHash !== undefined && ref.name.endsWith(`-${templateHash}`)) {
      return { kind: "Deployment", namespace, name: ref.name.slice(0, -templateHash.length - 1) };
    }
    return { kind: "ReplicaSet", namespace, name: ref.name };
  }
  const kind: WorkloadKind =
    ref.kind === "StatefulSet" || ref.kind === "DaemonSet" || ref.kind === "Job" ? ref.kind : "Other";
  return { kind, namespace, name: ref.name };
}

export function podView(pod: V1Pod, owners: ReplicaSetOwners): PodView {
  const ready = pod.status?.conditions?.find((c) => c.type === "Ready");
  const isReady = ready?.status === "True";
  const annotations = pod.metadata?.annotations ?? {};
  return {
    namespace: pod.metadata?.namespace ?? "",
    name: pod.metadata?.name ?? "",
    uid: pod.metadata?.uid ?? "",
    nodeName: pod.spec?.nodeName ?? null,
    phase: podPhase(pod.status?.phase),
    ready: isReady,
    createdAt: toMillis(pod.metadata?.creationTimestamp) ?? 0,
    readyAt: isReady ? toMillis(ready.lastTransitionTime) : null,
    deleting: pod.metadata?.deletionTimestamp != null,
    owner: resolveOwner(pod, owners),
    mirror: annotations[MIRROR_POD_ANNOTATION] !== undefined,
    labels: { ...pod.metadata?.labels },
    annotations: { ...annotations },
    preStopSeconds: preStopSecondsOf(pod.spec?.containers ?? []),
    terminationGracePeriodSeconds: pod.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS,
    requests: podRequests(pod),
    onePerNode: onePerNodeOf(pod),
  };
}

/** Required anti-affinity on kubernetes.io/hostname whose selector matches the pod's own labels. */
export function onePerNodeOf(pod: V1Pod): boolean {
  const labels = pod.metadata?.labels ?? {};
  const terms = pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
  return terms.some((t) => {
    if (t.topologyKey !== "kubernetes.io/hostname" || t.labelSelector === undefined) return false;
    const own = Object.entries(t.labelSelector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
    const exprs = (t.labelSelector.matchExpressions ?? []).every((e) => {
      const value = labels[e.key];
      switch (e.operator) {
        case "In":
          return value !== undefined && (e.values ?? []).includes(value);
        case "NotIn":
          return value === undefined || !(e.values ?? []).includes(value);
        case "Exists":
          return value !== undefined;
        case "DoesNotExist":
          return value === undefined;
        default:
          return false;
      }
    });
    return own && exprs;
  });
}

function podPhase(phase: string | undefined): PodPhase {
  switch (phase) {
    case "Running":
    case "Succeeded":
    case "Failed":
    case "Unknown":
      return phase;
    default:
      return "Pending";
  }
}

/**
 * What the scheduler reserves for the pod: the sum over app containers (plus restartable init containers,
 * i.e. sidecars), at least the largest plain init container, plus the pod overhead.
 */
export function podRequests(pod: V1Pod): Resources {
  const sum = (cs: readonly V1Container[]): Resources =>
    cs.reduce<Resources>(
      (acc, c) => ({
        cpuMilli: acc.cpuMilli + cpuMilli(c.resources?.requests?.["cpu"]),
        memoryBytes: acc.memoryBytes + bytes(c.resources?.requests?.["memory"]),
      }),
      { cpuMilli: 0, memoryBytes: 0 },
    );
  const inits = pod.spec?.initContainers ?? [];
  const sidecars = inits.filter((c) => c.restartPolicy === "Always");
  const running = sum([...(pod.spec?.containers ?? []), ...sidecars]);
  let cpu = running.cpuMilli;
  let memory = running.memoryBytes;
  for (const init of inits) {
    if (init.restartPolicy === "Always") continue;
    cpu = Math.max(cpu, cpuMilli(init.resources?.requests?.["cpu"]));
    memory = Math.max(memory, bytes(init.resources?.requests?.["memory"]));
  }
  const overhead = pod.spec?.overhead ?? {};
  return { cpuMilli: cpu + cpuMilli(overhead["cpu"]), memoryBytes: memory + bytes(overhead["memory"]) };
}

/** The longest preStop sleep across the containers, in seconds; null when none has one. */
export function preStopSecondsOf(containers: readonly Pick<V1Container, "lifecycle">[]): number | null {
  let longest: number | null = null;
  for (const c of containers) {
    const s = preStopSleepSeconds(c.lifecycle?.preStop);
    if (s !== null && (longest === null || s > longest)) longest = s;
  }
  return longest;
}

function preStopSleepSeconds(handler: V1LifecycleHandler | undefined): number | null {
  if (handler === undefined) return null;
  if (handler.sleep !== undefined) return handler.sleep.seconds;
  if (handler.exec?.command !== undefined) return sleepSecondsOfCommand(handler.exec.command);
  return null;
}

const SHELLS = new Set(["sh", "bash", "ash", "dash", "zsh"]);
const SLEEP_IN_SCRIPT = /(?:^|[\s;&|(])(?:\/[\w.-]+)*\/?sleep\s+(\d+(?:\.\d+)?)([smhd]?)(?=$|[\s;&|)])/g;
const UNIT_SECONDS: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * Seconds an exec command spends sleeping: `["sleep", "20"]`, `["/bin/sleep", "20s"]`,
 * `["sh", "-c", "sleep 20 && nginx -s quit"]` (every `sleep N` of the script, summed). Null when there is none.
 */
export function sleepSecondsOfCommand(command: readonly string[]): number | null {
  const [program, ...args] = command;
  if (program === undefined) return null;
  const base = program.split("/").at(-1) ?? program;
  if (base === "sleep") return durationSeconds(args[0] ?? "");
  if (!SHELLS.has(base)) return null;
  const c = args.indexOf("-c");
  const script = c >= 0 ? args[c + 1] : undefined;
  if (script === undefined) return null;
  let total = 0;
  let found = false;
  for (const m of script.matchAll(SLEEP_IN_SCRIPT)) {
    total += Number(m[1]) * (UNIT_SECONDS[m[2] ?? ""] ?? 1);
    found = true;
  }
  return found ? total : null;
}

function durationSeconds(arg: string): number | null {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(arg);
  if (m === null) return null;
  return Number(m[1]) * (UNIT_SECONDS[m[2] ?? ""] ?? 1);
}

// ---------------------------------------------------------------------------------------- workloads

/**
 * A Deployment, a StatefulSet or a ReplicaSet with no Deployment above it: the workloads whose replicas a
 * HorizontalPodAutoscaler or lifeboat can change.
 */
export type ScalableWorkload =
  | { kind: "Deployment"; object: V1Deployment }
  | { kind: "StatefulSet"; object: V1StatefulSet }
  | { kind: "ReplicaSet"; object: V1ReplicaSet };

/**
 * The workload as the planner sees it. `pods` are views of (at least) the workload's own pods: the median
 * create->Ready of the Ready ones is the learned time to Ready when the workload has no annotation.
 */
export function workloadView(
  workload: ScalableWorkload,
  hpas: readonly V2HorizontalPodAutoscaler[],
  pods: readonly PodView[],
): WorkloadView {
  const meta = workload.object.metadata;
  const ref: WorkloadRef = { kind: workload.kind, namespace: meta?.namespace ?? "", name: meta?.name ?? "" };
  const hpa = hpas.find(
    (h) =>
      (h.metadata?.namespace ?? "") === ref.namespace &&
      h.spec?.scaleTargetRef.kind === ref.kind &&
      h.spec.scaleTargetRef.name === ref.name,
  );
  const ledger = ledgerOf(meta?.annotations?.[SURGE_LEDGER_ANNOTATION]);
  return {
    ref,
    specReplicas: workload.object.spec?.replicas ?? 1,
    readyReplicas: workload.object.status?.readyReplicas ?? 0,
    statusReplicas: workload.object.status?.replicas ?? null,
    expectedReadySeconds:
      annotatedReadySeconds(meta?.annotations?.[EXPECTED_READY_ANNOTATION]) ?? medianReadySeconds(ref, pods),
    hpa: hpa?.spec === undefined ? null : { min: hpa.spec.minReplicas ?? 1, max: hpa.spec.maxReplicas },
    rollingOut: workload.kind === "Deployment" && rollingOut(workload.object),
    surgeLedger: ledger.entries,
    ledgerReplicas: ledger.replicas,
  };
}

/** The Deployment's latest spec is not fully rolled out yet (see WorkloadView.rollingOut). */
export function rollingOut(d: V1Deployment): boolean {
  const generation = d.metadata?.generation ?? 0;
  const observed = d.status?.observedGeneration ?? 0;
  const want = d.spec?.replicas ?? 1;
  const updated = d.status?.updatedReplicas ?? 0;
  const running = d.status?.replicas ?? 0;
  return observed < generation || updated < want || running > updated;
}

/**
 * The ledger's entries and recorded replicas; none when the annotation is absent or unreadable (the scale
 * write reports that).
 */
function ledgerOf(value: string | undefined): { entries: LedgerEntry[]; replicas: number | null } {
  const read = parseLedger(value);
  return read.kind === "ok" ? read : { entries: [], replicas: null };
}

/** The annotation's value when it is a positive number of seconds; null otherwise (absent or malformed). */
export function annotatedReadySeconds(value: string | undefined): number | null {
  if (value === undefined) return null;
  const n = Number(value.trim().replace(/s$/, ""));
  return Number.isFinite(n) && n > 0 ? n : null;
}

/** Median seconds from creation to Ready over the workload's Ready, non-terminating pods; null when none. */
export function medianReadySeconds(ref: WorkloadRef, pods: readonly PodView[]): number | null {
  const samples = pods
    .filter(
      (p) =>
        p.ready &&
        !p.deleting &&
        p.readyAt !== null &&
        p.owner?.kind === ref.kind &&
        p.owner.namespace === ref.namespace &&
        p.owner.name === ref.name,
    )
    .map((p) => Math.max(0, ((p.readyAt ?? p.createdAt) - p.createdAt) / 1000))
    .sort((a, b) => a - b);
  if (samples.length === 0) return null;
  const mid = Math.floor(samples.length / 2);
  const upper = samples[mid] ?? 0;
  return samples.length % 2 === 1 ? upper : ((samples[mid - 1] ?? upper) + upper) / 2;
}

// --------------------------------------------------------------------------------------------- PDBs

/** A PDB read for the planner, or why it was left out. */
export type PdbRead =
  { kind: "view"; view: PdbView } | { kind: "skipped"; namespace: string; name: string; reason: string };

export function pdbView(pdb: V1PodDisruptionBudget): PdbRead {
  const namespace = pdb.metadata?.namespace ?? "";
  const name = pdb.metadata?.name ?? "";
  const selector = pdb.spec?.selector;
  if (selector == null) {
    return {
      kind: "skipped",
      namespace,
      name,
      reason: "no selector: a policy/v1 PDB without a selector selects no pod",
    };
  }
  if ((selector.matchExpressions ?? []).length > 0) {
    return {
      kind: "skipped",
      namespace,
      name,
      reason:
        "selector uses matchExpressions, which the snapshot does not model (left out rather than widened)",
    };
  }
  return {
    kind: "view",
    view: {
      namespace,
      name,
      matchLabels: { ...selector.matchLabels },
      disruptionsAllowed: pdb.status?.disruptionsAllowed ?? 0,
    },
  };
}

/**
 * ReplicaSets with no owner at all: lifeboat surges and retires them like Deployments. One owned by another
 * controller (Argo Rollouts, ...) is left to its owner: scaling it directly would be undone.
 */
export function bareReplicaSets(replicaSets: readonly V1ReplicaSet[]): V1ReplicaSet[] {
  return replicaSets.filter((r) => (r.metadata?.ownerReferences ?? []).length === 0);
}
