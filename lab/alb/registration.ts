/**
 * Which targets the AWS Load Balancer Controller wants in a target group: pure functions over
 * Kubernetes objects, after LBC's pkg/backend/endpoint_resolver.go and endpoint_utils.go
 * (timings.md, "AWS Load Balancer Controller"). Every decision carries a reason.
 */
import type { V1EndpointSlice, V1Node, V1Pod, V1Service, V1ServicePort } from "@kubernetes/client-node";
import { targetKey, type TargetRef, type TargetState } from "./target-group.ts";

export type TargetType = "ip" | "instance";

/** What a TargetGroupBinding says: which Service port feeds the target group, and how. */
export interface BindingSpec {
  /** The TargetGroupBinding's name; the readiness gate is `target-health.elbv2.k8s.aws/<name>`. */
  name: string;
  namespace: string;
  serviceName: string;
  /** The Service port, by number or by name. */
  servicePort: number | string;
  /** Default in LBC: "instance" (best practice: "ip"). */
  targetType: TargetType;
}

export const readinessGatePrefix = "target-health.elbv2.k8s.aws/";
export const excludeFromLbLabel = "node.kubernetes.io/exclude-from-external-load-balancers";
const alphaExcludeLabel = "alpha.service-controller.kubernetes.io/exclude-balancer";
const masterRoleLabel = "node-role.kubernetes.io/master";
const computeTypeLabel = "eks.amazonaws.com/compute-type";
export const clusterAutoscalerTaint = "ToBeDeletedByClusterAutoscaler";
export const karpenterDisruptedTaint = "karpenter.sh/disrupted";
const serviceNameLabel = "kubernetes.io/service-name";

export function readinessGateConditionType(bindingName: string): string {
  return `${readinessGatePrefix}${bindingName}`;
}

/** One endpoint or node considered, and why it is in or out. */
export interface TargetDecision {
  /** `ns/pod` in ip mode, the node name in instance mode. */
  subject: string;
  target: TargetRef | undefined;
  included: boolean;
  reason: string;
}

export interface DesiredTargets {
  targets: TargetRef[];
  decisions: TargetDecision[];
  /** Some endpoint may become registrable later without an endpoint event (LBC requeues then). */
  potentiallyReady: boolean;
  /** No ready target: the Unknown-node fallback was used. */
  failOpen: boolean;
  /** ip mode: the pod each target stands for (`ns/name` -> target key). */
  podTargets: Map<string, string>;
}

export type DesiredResult = { kind: "targets"; desired: DesiredTargets } | { kind: "error"; reason: string };

/** LBC's k8s.LookupServicePort: by port number, or by port name. */
export function lookupServicePort(service: V1Service, port: number | string): V1ServicePort | undefined {
  const ports = service.spec?.ports ?? [];
  return typeof port === "number" ? ports.find((p) => p.port === port) : ports.find((p) => p.name === port);
}

export interface IpModeInput {
  binding: BindingSpec;
  service: V1Service | undefined;
  endpointSlices: readonly V1EndpointSlice[];
  pods: ReadonlyMap<string, V1Pod>;
  nodes: ReadonlyMap<string, V1Node>;
  /** Default true (LBC feature gate EndpointsFailOpen). */
  failOpen?: boolean;
}

/** ip mode: endpoints of the Service port, per resolvePodEndpointsWithEndpointsData. */
export function desiredIpTargets(input: IpModeInput): DesiredResult {
  const { binding, service } = input;
  if (service === undefined)
    return { kind: "error", reason: `service ${binding.namespace}/${binding.serviceName} not found` };
  const svcPort = lookupServicePort(service, binding.servicePort);
  if (svcPort === undefined)
    return { kind: "error", reason: `service port ${binding.servicePort} not found` };
  const gate = readinessGateConditionType(binding.name);
  const ready: Candidate[] = [];
  const unknown: Candidate[] = [];
  const decisions: TargetDecision[] = [];
  let potentiallyReady = false;

  for (const slice of input.endpointSlices) {
    if (slice.metadata?.labels?.[serviceNameLabel] !== binding.serviceName) continue;
    for (const port of slice.ports ?? []) {
      if (svcPort.name !== undefined && svcPort.name !== "" && svcPort.name !== (port.name ?? "")) continue;
      if (port.port === undefined) continue;
      for (const ep of slice.endpoints ?? []) {
        const address = ep.addresses[0];
        if (ep.targetRef?.kind !== "Pod" || ep.targetRef.name === undefined || address === undefined)
          continue;
        const subject = `${binding.namespace}/${ep.targetRef.name}`;
        const target: TargetRef = { ip: address, port: port.port, name: subject };
        const pod = input.pods.get(subject);
        if (pod === undefined) {
          potentiallyReady = true;
          decisions.push({
            subject,
            target,
            included: false,
            reason: "pod not in the cache yet: retry later",
          });
          continue;
        }
        const epReady = ep.conditions?.ready;
        if (epReady === true || epReady === undefined) {
          ready.push({
            subject,
            target,
            reason: epReady === true ? "endpoint ready" : "endpoint ready unset (counts as ready)",
          });
          continue;
        }
        if (!podConditionTrue(pod, "ContainersReady")) {
          if ((pod.spec?.readinessGates ?? []).some((g) => g.conditionType === gate)) potentiallyReady = true;
          decisions.push({
            subject,
            target,
            included: false,
            reason: "endpoint not ready and containers not ready",
          });
          continue;
        }
        const node = input.nodes.get(pod.spec?.nodeName ?? "");
        if (node === undefined) {
          decisions.push({
            subject,
            target,
            included: false,
            reason: `node ${pod.spec?.nodeName ?? "(none)"} not found`,
          });
          continue;
        }
        const nodeReady = nodeReadyStatus(node);
        if (nodeReady === "True") {
          if (ep.conditions?.terminating === true) {
            decisions.push({
              subject,
              target,
              included: false,
              reason: "endpoint terminating on a Ready node",
            });
          } else {
            ready.push({
              subject,
              target,
              reason: "endpoint not ready but containers ready on a Ready node (readiness-gate bootstrap)",
            });
          }
        } else if (nodeReady === "Unknown") {
          unknown.push({
            subject,
            target,
            reason: "containers ready on a node in Unknown state (fail-open candidate)",
          });
        } else {
          decisions.push({
            subject,
            target,
            included: false,
            reason: `node ${node.metadata?.name ?? ""} Ready=${nodeReady}`,
          });
        }
      }
    }
  }
  return {
    kind: "targets",
    desired: choose(ready, unknown, decisions, input.failOpen ?? true, potentiallyReady),
  };
}

export interface InstanceModeInput {
  binding: BindingSpec;
  service: V1Service | undefined;
  nodes: readonly V1Node[];
  /** Default true (LBC feature gate EndpointsFailOpen). */
  failOpen?: boolean;
}

/** instance mode: every suitable node on the Service's NodePort, per ResolveNodePortEndpoints. */
export function desiredInstanceTargets(input: InstanceModeInput): DesiredResult {
  const { binding, service } = input;
  if (service === undefined)
    return { kind: "error", reason: `service ${binding.namespace}/${binding.serviceName} not found` };
  const type = service.spec?.type;
  if (type !== "NodePort" && type !== "LoadBalancer") {
    return {
      kind: "error",
      reason: `service type must be NodePort or LoadBalancer, not ${type ?? "ClusterIP"}`,
    };
  }
  const svcPort = lookupServicePort(service, binding.servicePort);
  if (svcPort?.nodePort === undefined)
    return { kind: "error", reason: `service port ${binding.servicePort} has no nodePort` };
  const ready: Candidate[] = [];
  const unknown: Candidate[] = [];
  const decisions: TargetDecision[] = [];
  for (const node of input.nodes) {
    const subject = node.metadata?.name ?? "";
    const ip = node.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
    const target: TargetRef | undefined =
      ip === undefined ? undefined : { ip, port: svcPort.nodePort, name: subject };
    const unsuitable = nodeUnsuitableReason(node);
    if (unsuitable !== undefined) {
      decisions.push({ subject, target, included: false, reason: unsuitable });
      continue;
    }
    if (target === undefined) {
      decisions.push({ subject, target, included: false, reason: "node has no InternalIP" });
      continue;
    }
    const status = nodeReadyStatus(node);
    const cordon =
      node.spec?.unschedulable === true ? " (cordoned: a cordon alone does not remove a node)" : "";
    if (status === "True") ready.push({ subject, target, reason: `node Ready${cordon}` });
    else if (status === "Unknown")
      unknown.push({ subject, target, reason: "node in Unknown state (fail-open candidate)" });
    else decisions.push({ subject, target, included: false, reason: `node Ready=${status}` });
  }
  return { kind: "targets", desired: choose(ready, unknown, decisions, input.failOpen ?? true, false) };
}

/** Why LBC would not use this node as a traffic proxy, or undefined when it would (label selector + taints). */
export function nodeUnsuitableReason(node: V1Node): string | undefined {
  const labels = node.metadata?.labels ?? {};
  for (const label of [masterRoleLabel, excludeFromLbLabel, alphaExcludeLabel]) {
    if (label in labels) return `node has label ${label}`;
  }
  if (labels[computeTypeLabel] === "fargate") return "node is a Fargate node";
  for (const taint of node.spec?.taints ?? []) {
    if (taint.key === clusterAutoscalerTaint) return `node has taint ${clusterAutoscalerTaint}`;
    if (taint.key === karpenterDisruptedTaint && taint.effect === "NoSchedule")
      return `node has taint ${karpenterDisruptedTaint}:NoSchedule`;
  }
  return undefined;
}

export interface TargetDiff {
  toRegister: TargetRef[];
  toDeregister: TargetRef[];
  unchanged: boolean;
}

/** What to register and deregister to go from the registered set to the desired set. */
export function diffTargets(registered: readonly TargetRef[], desired: readonly TargetRef[]): TargetDiff {
  const have = new Set(registered.map(targetKey));
  const want = new Set(desired.map(targetKey));
  const toRegister = desired.filter((t) => !have.has(targetKey(t)));
  const toDeregister = registered.filter((t) => !want.has(targetKey(t)));
  return { toRegister, toDeregister, unchanged: toRegister.length === 0 && toDeregister.length === 0 };
}

export interface GateUpdate {
  namespace: string;
  name: string;
  conditionType: string;
  status: "True" | "False";
  reason: string;
  message: string;
}

/**
 * Readiness-gate conditions to write: for pods that carry the gate and stand for a target in the group,
 * True exactly when the target is healthy. Only pods whose condition would change are returned.
 */
export function readinessGateUpdates(
  pods: Iterable<V1Pod>,
  conditionType: string,
  podTargets: ReadonlyMap<string, string>,
  stateOf: (targetKey: string) => TargetState | undefined,
): GateUpdate[] {
  const updates: GateUpdate[] = [];
  for (const pod of pods) {
    const namespace = pod.metadata?.namespace ?? "";
    const name = pod.metadata?.name ?? "";
    if (!(pod.spec?.readinessGates ?? []).some((g) => g.conditionType === conditionType)) continue;
    const key = podTargets.get(`${namespace}/${name}`);
    if (key === undefined) continue;
    const state = stateOf(key);
    if (state === undefined) continue;
    const status = state === "healthy" ? "True" : "False";
    const current = pod.status?.conditions?.find((c) => c.type === conditionType)?.status;
    if (current === status) continue;
    updates.push({
      namespace,
      name,
      conditionType,
      status,
      reason: state === "healthy" ? "Elb.Healthy" : `Target.${state}`,
      message: `target ${key} is ${state} in the target group`,
    });
  }
  return updates;
}

/** The strategic-merge patch body for pods/status that touches only the gate's condition. */
export function gateConditionPatch(update: GateUpdate, now: Date): object {
  return {
    status: {
      conditions: [
        {
          type: update.conditionType,
          status: update.status,
          reason: update.reason,
          message: update.message,
          lastProbeTime: null,
          lastTransitionTime: now.toISOString(),
        },
      ],
    },
  };
}

interface Candidate {
  subject: string;
  target: TargetRef;
  reason: string;
}

function choose(
  ready: Candidate[],
  unknown: Candidate[],
  decisions: TargetDecision[],
  failOpenEnabled: boolean,
  potentiallyReady: boolean,
): DesiredTargets {
  const failOpen = failOpenEnabled && ready.length === 0 && unknown.length > 0;
  const chosen = ready.length > 0 || !failOpenEnabled ? ready : unknown;
  for (const c of ready)
    decisions.push({ subject: c.subject, target: c.target, included: true, reason: c.reason });
  for (const c of unknown) {
    decisions.push({
      subject: c.subject,
      target: c.target,
      included: failOpen,
      reason: failOpen
        ? `${c.reason}: used, no ready target (fail-open)`
        : `${c.reason}: unused, ready targets exist`,
    });
  }
  const targets = new Map<string, TargetRef>();
  const podTargets = new Map<string, string>();
  for (const c of chosen) {
    targets.set(targetKey(c.target), c.target);
    podTargets.set(c.subject, targetKey(c.target));
  }
  return { targets: [...targets.values()], decisions, potentiallyReady, failOpen, podTargets };
}

function podConditionTrue(pod: V1Pod, type: string): boolean {
  return pod.status?.conditions?.some((c) => c.type === type && c.status === "True") ?? false;
}

function nodeReadyStatus(node: V1Node): string {
  return node.status?.conditions?.find((c) => c.type === "Ready")?.status ?? "False";
}
