import type { V1Container, V1Pod, V1PodCondition } from "@kubernetes/client-node";

/** Fixture builders for the runtime's tests. */

export function container(overrides: Partial<V1Container> = {}): V1Container {
  return { name: "app", image: "lab/app:1", ports: [{ containerPort: 8080 }], ...overrides };
}

export interface PodFixture {
  name?: string;
  uid?: string;
  node?: string;
  containers?: V1Container[];
  readinessGates?: string[];
  conditions?: V1PodCondition[];
  annotations?: Record<string, string>;
}

export function pod(f: PodFixture = {}): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: f.name ?? "web-1",
      namespace: "default",
      uid: f.uid ?? "uid-1",
      annotations: f.annotations ?? {},
    },
    spec: {
      nodeName: f.node ?? "node-a",
      containers: f.containers ?? [container()],
      ...(f.readinessGates === undefined
        ? {}
        : { readinessGates: f.readinessGates.map((conditionType) => ({ conditionType })) }),
    },
    status: { phase: "Pending", conditions: f.conditions ?? [{ type: "PodScheduled", status: "True" }] },
  };
}

export function condition(
  type: string,
  status: "True" | "False",
  lastTransitionTime = new Date("2026-01-01T00:00:00Z"),
): V1PodCondition {
  return { type, status, lastTransitionTime };
}
