/** Small fixture builders for Kubernetes objects used by the ALB simulator's tests. */
import type { V1EndpointSlice, V1Node, V1Pod, V1Service } from "@kubernetes/client-node";

export const namespace = "shop";

/** Kubernetes API objects are plain JSON on the wire; the client's model classes only describe their shape. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the one cast point for plain-JSON fixtures
function plain<T>(value: object): T {
  return value as T;
}

export interface NodeFixture {
  name: string;
  ip?: string;
  ready?: "True" | "False" | "Unknown" | "missing";
  labels?: Record<string, string>;
  taints?: { key: string; effect: "NoSchedule" | "NoExecute" | "PreferNoSchedule" }[];
  unschedulable?: boolean;
}

export function node(f: NodeFixture): V1Node {
  const ready = f.ready ?? "True";
  return plain<V1Node>({
    metadata: { name: f.name, labels: f.labels ?? {} },
    spec: {
      unschedulable: f.unschedulable ?? false,
      taints: f.taints ?? [],
      providerID: `aws:///eu-west-1a/i-${f.name}`,
    },
    status: {
      addresses: f.ip === undefined ? [] : [{ type: "InternalIP", address: f.ip }],
      conditions: ready === "missing" ? [] : [{ type: "Ready", status: ready }],
    },
  });
}

export interface PodFixture {
  name: string;
  node: string;
  containersReady?: boolean;
  gates?: string[];
  conditions?: Record<string, "True" | "False">;
}

export function pod(f: PodFixture): V1Pod {
  const conditions = [{ type: "ContainersReady", status: (f.containersReady ?? true) ? "True" : "False" }];
  for (const [type, status] of Object.entries(f.conditions ?? {})) conditions.push({ type, status });
  return plain<V1Pod>({
    metadata: { name: f.name, namespace },
    spec: {
      nodeName: f.node,
      containers: [{ name: "app" }],
      readinessGates: (f.gates ?? []).map((conditionType) => ({ conditionType })),
    },
    status: { conditions },
  });
}

export interface EndpointFixture {
  pod: string;
  ip: string;
  ready?: boolean;
  terminating?: boolean;
  /** Not a pod (for example a manually managed endpoint). */
  notPod?: boolean;
}

export function endpointSlice(
  service: string,
  endpoints: EndpointFixture[],
  ports: { name?: string; port: number }[] = [{ name: "http", port: 8080 }],
): V1EndpointSlice {
  return plain<V1EndpointSlice>({
    addressType: "IPv4",
    metadata: { name: `${service}-abcde`, namespace, labels: { "kubernetes.io/service-name": service } },
    ports,
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: {
        ...(e.ready === undefined ? {} : { ready: e.ready }),
        ...(e.terminating === undefined ? {} : { terminating: e.terminating }),
      },
      targetRef: { kind: e.notPod === true ? "Node" : "Pod", name: e.pod, namespace },
    })),
  });
}

export function service(
  name: string,
  opts: {
    type?: "ClusterIP" | "NodePort" | "LoadBalancer";
    ports?: { name?: string; port: number; nodePort?: number }[];
  } = {},
): V1Service {
  return plain<V1Service>({
    metadata: { name, namespace },
    spec: {
      type: opts.type ?? "ClusterIP",
      ports: opts.ports ?? [{ name: "http", port: 80, nodePort: 30080 }],
    },
  });
}

export function byKey<T extends { metadata?: { name?: string; namespace?: string } }>(
  objects: T[],
  withNamespace: boolean,
): Map<string, T> {
  return new Map(
    objects.map((o) => [
      withNamespace ? `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}` : (o.metadata?.name ?? ""),
      o,
    ]),
  );
}
