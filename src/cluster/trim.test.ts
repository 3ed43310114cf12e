import { test } from "node:test";
import assert from "node:assert/strict";
import type { V1Node, V1Pod, V1ReplicaSet } from "@kubernetes/client-node";
import { compactPod, LAST_APPLIED_ANNOTATION, trimNode, trimReplicaSet } from "./trim.ts";
import { nodeView, podView, replicaSetOwners, resolveControllerOwner } from "./views.ts";

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

/** Every object (and array) reachable from `root`. */
function objectsOf(root: unknown, into = new Set<object>()): Set<object> {
  if (typeof root !== "object" || root === null || into.has(root)) return into;
  into.add(root);
  for (const v of Object.values(root)) objectsOf(v, into);
  return into;
}

test("a cached pod is its view: the same as the full pod's, and nothing of the pod object kept", () => {
  const owners = replicaSetOwners([
    {
      metadata: {
        name: "web-7d9f",
        namespace: "shop",
        ownerReferences: [
          { apiVersion: "apps/v1", kind: "Deployment", name: "frontend", uid: "d", controller: true },
        ],
      },
    },
  ]);
  const full = fullPod();
  const expected = podView(full, owners);
  const compact = compactPod(full);
  assert.deepEqual(full, fullPod(), "the pod is not modified");
  assert.deepEqual(
    { ...compact.view, owner: resolveControllerOwner("shop", compact.controller, "7d9f", owners) },
    { ...expected, annotations: { "controller.kubernetes.io/pod-deletion-cost": "-100000" } },
    "the view, less kubectl's last-applied copy, with the owner the ReplicaSet cache resolves",
  );
  assert.deepEqual(
    compact.view.owner,
    { kind: "Deployment", namespace: "shop", name: "web" },
    "before the ReplicaSet cache is read: the Deployment naming rule",
  );
  assert.equal(expected.onePerNode, true, "the fixture is one pod per node");
  assert.equal(expected.preStopSeconds, 20, "the fixture has a preStop sleep");
  assert.deepEqual(Object.keys(compact).sort(), ["controller", "metadata", "view"]);
  assert.deepEqual(compact.metadata, { name: "web-7d9f-abcde", namespace: "shop", resourceVersion: "42" });
  assert.deepEqual(compact.controller, { kind: "ReplicaSet", name: "web-7d9f" });
  const shared = [...objectsOf(compact)].filter((o) => objectsOf(full).has(o));
  assert.deepEqual(shared, [], "no object of the pod is kept alive by its cached record");
  assert.ok(JSON.stringify(compact).length < JSON.stringify(full).length / 2, "less than half the size");
});

test("a bare pod's cached record has no controller, and one without metadata reads as empty", () => {
  const bare = compactPod({ metadata: { name: "p", namespace: "ns" }, spec: { containers: [] } });
  assert.equal(bare.controller, null);
  assert.equal(bare.view.owner, null);
  assert.equal(bare.metadata.resourceVersion, undefined);
  assert.deepEqual(compactPod({}).metadata, { name: "", namespace: "" });
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
