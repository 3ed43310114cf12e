import type { V1ContainerStatus, V1Pod, V1PodCondition } from "@kubernetes/client-node";

/** The state of one container as the runtime sees it. */
export type ContainerState =
  | { kind: "waiting"; reason: string }
  | { kind: "running"; startedAt: Date }
  | { kind: "terminated"; startedAt: Date; finishedAt: Date; exitCode: number; reason: string };

export interface ContainerView {
  name: string;
  image: string;
  state: ContainerState;
  ready: boolean;
}

/** Everything the runtime owns in a pod's status. */
export interface OwnedStatus {
  phase: "Pending" | "Running";
  hostIP: string;
  podIP: string;
  startTime: Date;
  containers: readonly ContainerView[];
}

/** The pod's Ready condition as the kubelet computes it (pkg/kubelet/status/generate.go), with its reason. */
export type PodReadiness =
  | { ready: true }
  | { ready: false; reason: "ContainersNotReady" | "ReadinessGatesNotReady"; message: string };

/** Conditions the runtime writes; all others (readiness gates, DisruptionTarget, ...) belong to someone else. */
export const OWNED_CONDITIONS = ["Initialized", "ContainersReady", "Ready"] as const;

export function containersReady(containers: readonly ContainerView[]): boolean {
  return containers.length > 0 && containers.every((c) => c.ready);
}

/** Ready = every container ready AND every readiness gate's condition True, as read from the latest pod. */
export function podReadiness(pod: V1Pod, containers: readonly ContainerView[]): PodReadiness {
  const unready = containers.filter((c) => !c.ready).map((c) => c.name);
  if (containers.length === 0 || unready.length > 0) {
    return {
      ready: false,
      reason: "ContainersNotReady",
      message: `containers with unready status: [${unready.join(" ")}]`,
    };
  }
  const conditions = pod.status?.conditions ?? [];
  for (const gate of pod.spec?.readinessGates ?? []) {
    const condition = conditions.find((c) => c.type === gate.conditionType);
    if (condition === undefined) {
      return {
        ready: false,
        reason: "ReadinessGatesNotReady",
        message: `corresponding condition of pod readiness gate "${gate.conditionType}" does not exist.`,
      };
    }
    if (condition.status !== "True") {
      return {
        ready: false,
        reason: "ReadinessGatesNotReady",
        message: `the status of pod readiness gate "${gate.conditionType}" is not "True", but ${condition.status}`,
      };
    }
  }
  return { ready: true };
}

interface DesiredCondition {
  type: string;
  status: "True" | "False";
  reason?: string;
  message?: string;
}

/**
 * The status patch (strategic merge, status subresource) that brings the pod's API status to what the runtime
 * knows, or null when it already matches. Conditions merge by type, so conditions the runtime does not own are
 * never touched; containerStatuses is an atomic list and is replaced whole.
 */
export function statusPatch(
  pod: V1Pod,
  owned: OwnedStatus,
  now: Date,
): { status: Record<string, unknown> } | null {
  const readiness = podReadiness(pod, owned.containers);
  const allReady = containersReady(owned.containers);
  const unready = owned.containers.filter((c) => !c.ready).map((c) => c.name);
  const desired: DesiredCondition[] = [
    { type: "Initialized", status: "True" },
    allReady
      ? { type: "ContainersReady", status: "True" }
      : {
          type: "ContainersReady",
          status: "False",
          reason: "ContainersNotReady",
          message: `containers with unready status: [${unready.join(" ")}]`,
        },
    readiness.ready
      ? { type: "Ready", status: "True" }
      : { type: "Ready", status: "False", reason: readiness.reason, message: readiness.message },
  ];
  const current = pod.status?.conditions ?? [];
  if (!current.some((c) => c.type === "PodScheduled"))
    desired.unshift({ type: "PodScheduled", status: "True" });

  const containerStatuses = owned.containers.map((c) => containerStatus(pod, c));
  const status = pod.status;
  const same =
    status !== undefined &&
    status.phase === owned.phase &&
    status.hostIP === owned.hostIP &&
    status.podIP === owned.podIP &&
    status.startTime !== undefined &&
    desired.every((d) =>
      conditionMatches(
        current.find((c) => c.type === d.type),
        d,
      ),
    ) &&
    sameContainers(status.containerStatuses ?? [], containerStatuses);
  if (same) return null;

  const conditions = desired.map((d) => {
    const existing = current.find((c) => c.type === d.type);
    const lastTransitionTime =
      existing?.status === d.status && existing.lastTransitionTime !== undefined
        ? existing.lastTransitionTime
        : now;
    return {
      type: d.type,
      status: d.status,
      reason: d.reason ?? null,
      message: d.message ?? null,
      lastProbeTime: null,
      lastTransitionTime: iso(lastTransitionTime),
    };
  });
  return {
    status: {
      phase: owned.phase,
      hostIP: owned.hostIP,
      hostIPs: [{ ip: owned.hostIP }],
      podIP: owned.podIP,
      podIPs: [{ ip: owned.podIP }],
      startTime: iso(status?.startTime ?? owned.startTime),
      conditions,
      containerStatuses,
    },
  };
}

function conditionMatches(existing: V1PodCondition | undefined, desired: DesiredCondition): boolean {
  return (
    existing !== undefined &&
    existing.status === desired.status &&
    (existing.reason ?? undefined) === desired.reason
  );
}

/** A containerStatuses entry as sent to the API server (plain JSON, dates as RFC 3339 strings). */
export interface WireContainerStatus {
  name: string;
  image: string;
  imageID: string;
  containerID: string;
  ready: boolean;
  started: boolean;
  restartCount: number;
  state:
    | { waiting: { reason: string } }
    | { running: { startedAt: string } }
    | { terminated: { exitCode: number; reason: string; startedAt: string; finishedAt: string } };
}

function containerStatus(pod: V1Pod, c: ContainerView): WireContainerStatus {
  const state = c.state;
  return {
    name: c.name,
    image: c.image,
    imageID: `lab.lifeboat.dev/${c.image}`,
    containerID: `lab://${pod.metadata?.uid ?? "unknown"}/${c.name}`,
    ready: c.ready,
    started: state.kind === "running",
    restartCount: 0,
    state:
      state.kind === "waiting"
        ? { waiting: { reason: state.reason } }
        : state.kind === "running"
          ? { running: { startedAt: iso(state.startedAt) } }
          : {
              terminated: {
                exitCode: state.exitCode,
                reason: state.reason,
                startedAt: iso(state.startedAt),
                finishedAt: iso(state.finishedAt),
              },
            },
  };
}

function currentStateKind(s: V1ContainerStatus): string {
  if (s.state?.terminated !== undefined) return "terminated";
  if (s.state?.running !== undefined) return "running";
  return "waiting";
}

function wireStateKind(s: WireContainerStatus): string {
  return Object.keys(s.state)[0] ?? "waiting";
}

function sameContainers(
  current: readonly V1ContainerStatus[],
  desired: readonly WireContainerStatus[],
): boolean {
  if (current.length !== desired.length) return false;
  return desired.every((d) => {
    const c = current.find((x) => x.name === d.name);
    return (
      c !== undefined &&
      c.ready === d.ready &&
      (c.started ?? false) === d.started &&
      currentStateKind(c) === wireStateKind(d)
    );
  });
}

/** Dates as RFC 3339 strings: what the API server stores (the client's Date fields may hold either). */
function iso(value: Date | string): string {
  const date = typeof value === "string" ? new Date(value) : value;
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
