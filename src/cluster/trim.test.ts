import { test } from "node:test";
import assert from "node:assert/strict";
import type { V1Node, V1Pod, V1ReplicaSet } from "@kubernetes/client-node";
import { LAST_APPLIED_ANNOTATION, trimNode, trimPod, trimReplicaSet } from "./trim.ts";
import { nodeView, podView, replicaSetOwners } from "./views.ts";

const managedFields = [
  {
    manager: "kube-controller-manager",
    operation: "Update",
    fieldsType: "FieldsV1",
    fieldsV1: { "f:spec": {} },
  },
];

/** A pod with everything a real one carries, and everything views.ts reads. */
function fullPod(): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "web-7d9f-abcde",
      namespace: "shop",
      uid: "u-1",
      resourceVersion: "42",
      creationTimestamp: new Date("2026-01-01T00:00:00Z"),
      deletionTimestamp: new Date("2026-01-01T00:05:00Z"),
      labels: { app: "web", "pod-template-hash": "7d9f" },
      annotations: {
        "controller.kubernetes.io/pod-deletion-cost": "-100000",
        [LAST_APPLIED_ANNOTATION]: '{"huge":true}',
      },
      ownerReferences: [
        { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-7d9f", uid: "rs", controller: true },
      ],
      managedFields,
    },
    spec: {
      nodeName: "n1",
      terminationGracePeriodSeconds: 45,
      overhead: { cpu: "10m" },
      serviceAccountName: "web",
      volumes: [{ name: "data", emptyDir: {} }],
      affinity: {
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { app: "web" } } },
          ],
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 1,
              podAffinityTerm: {
                topologyKey: "topology.kubernetes.io/zone",
                labelSelector: { matchLabels: { app: "web" } },
              },
            },
          ],
        },
        nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } },
      },
      initContainers: [
        { name: "migrate", image: "m", resources: { requests: { cpu: "2" } } },
        { name: "proxy", image: "p", restartPolicy: "Always", resources: { requests: { cpu: "50m" } } },
      ],
      containers: [
        {
          name: "app",
          image: "web:1",
          env: [{ name: "A", value: "x".repeat(1000) }],
          volumeMounts: [{ name: "data", mountPath: "/data" }],
          readinessProbe: { httpGet: { path: "/", port: 80 } },
          lifecycle: {
            preStop: { exec: { command: ["sh", "-c", "sleep 20"] } },
            postStart: { exec: { command: ["true"] } },
          },
          resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { cpu: "1" } },
        },
      ],
    },
    status: {
      phase: "Running",
      podIP: "10.244.1.5",
      conditions: [
        { type: "PodScheduled", status: "True" },
        { type: "Ready", status: "True", lastTransitionTime: new Date("2026-01-01T00:00:30Z") },
      ],
      containerStatuses: [{ name: "app", image: "web:1", imageID: "sha", ready: true, restartCount: 0 }],
    },
  };
}

test("a trimmed pod reads exactly as the full one, without managedFields, env, volumes or container statuses", () => {
  const owners = replicaSetOwners([
    {
      metadata: {
        name: "web-7d9f",
        namespace: "shop",
        ownerReferences: [
          { apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "d", controller: true },
        ],
      },
    },
  ]);
  const full = fullPod();
  const expected = podView(full, owners);
  const trimmed = trimPod(fullPod());
  assert.deepEqual(podView(trimmed, owners), {
    ...expected,
    annotations: { "controller.kubernetes.io/pod-deletion-cost": "-100000" },
  });
  assert.equal(expected.onePerNode, true, "the fixture is one pod per node");
  assert.equal(trimmed.metadata?.managedFields, undefined);
  assert.equal(trimmed.spec?.volumes, undefined);
  assert.equal(
    trimmed.spec?.affinity?.nodeAffinity,
    undefined,
    "only the required pod anti-affinity is kept",
  );
  assert.equal(trimmed.spec?.containers[0]?.env, undefined);
  assert.equal(trimmed.status?.containerStatuses, undefined);
  assert.deepEqual(
    trimmed.status?.conditions?.map((c) => c.type),
    ["Ready"],
  );
  assert.ok(JSON.stringify(trimmed).length < JSON.stringify(full).length / 2, "less than half the size");
});

test("a trimmed node reads exactly as the full one, without its image list", () => {
  const full = (): V1Node => ({
    metadata: { name: "n1", labels: { "topology.kubernetes.io/zone": "us-east-1a" }, managedFields },
    spec: {
      providerID: "aws:///us-east-1a/i-0123456789abcdef0",
      unschedulable: true,
      taints: [{ key: "k", effect: "NoSchedule" }],
    },
    status: {
      conditions: [{ type: "Ready", status: "True" }],
      allocatable: { cpu: "2", memory: "4Gi", pods: "29" },
      images: Array.from({ length: 50 }, (_, i) => ({
        names: [`registry/image-${i}:latest`],
        sizeBytes: 1e8,
      })),
      nodeInfo: {
        architecture: "amd64",
        bootID: "",
        containerRuntimeVersion: "",
        kernelVersion: "",
        kubeProxyVersion: "",
        kubeletVersion: "",
        machineID: "",
        operatingSystem: "linux",
        osImage: "",
        systemUUID: "",
      },
    },
  });
  const trimmed = trimNode(full());
  assert.deepEqual(nodeView(trimmed), nodeView(full()));
  assert.equal(trimmed.status?.images, undefined);
  assert.equal(trimmed.metadata?.managedFields, undefined);
});

test("a ReplicaSet owned by a Deployment loses its pod template; a bare one keeps it", () => {
  const rs = (owned: boolean): V1ReplicaSet => ({
    metadata: {
      name: "web-7d9f",
      namespace: "shop",
      managedFields,
      ...(owned
        ? {
            ownerReferences: [
              { apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "d", controller: true },
            ],
          }
        : {}),
    },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: "web" } },
      template: { spec: { containers: [{ name: "app" }] } },
    },
  });
  assert.equal(trimReplicaSet(rs(true)).spec?.template, undefined);
  assert.equal(trimReplicaSet(rs(true)).spec?.replicas, 3);
  assert.equal(trimReplicaSet(rs(true)).metadata?.managedFields, undefined);
  assert.notEqual(trimReplicaSet(rs(false)).spec?.template, undefined);
});
