import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type {
  V1Container,
  V1Deployment,
  V1LabelSelector,
  V1Node,
  V1Pod,
  V1PodDisruptionBudget,
  V1ReplicaSet,
  V2HorizontalPodAutoscaler,
} from "@kubernetes/client-node";
import type { PodView } from "../domain/snapshot.ts";
import {
  annotatedReadySeconds,
  nodeView,
  pdbView,
  podView,
  preStopSecondsOf,
  onePerNodeOf,
  replicaSetOwners,
  resolveOwner,
  sleepSecondsOfCommand,
  toMillis,
  rollingOut,
  workloadView,
} from "./views.ts";
import { cpuMilli, bytes, parseQuantity } from "./quantity.ts";

const T0 = Date.parse("2026-11-24T12:00:00Z");
const iso = (ms: number): string => new Date(ms).toISOString();

// ---------------------------------------------------------------------------------------- builders

function node(
  o: {
    name?: string;
    providerID?: string;
    labels?: Record<string, string>;
    ready?: "True" | "False" | "Unknown";
    unschedulable?: boolean;
    taints?: { key: string; value?: string; effect: string }[];
  } = {},
): V1Node {
  return {
    metadata: { name: o.name ?? "ip-10-0-1-4.us-east-1.compute.internal", labels: o.labels ?? {} },
    spec: {
      providerID: o.providerID ?? "aws:///us-east-1a/i-0123456789abcdef0",
      ...(o.unschedulable === undefined ? {} : { unschedulable: o.unschedulable }),
      ...(o.taints === undefined ? {} : { taints: o.taints }),
    },
    status: {
      conditions: [{ type: "Ready", status: o.ready ?? "True" }],
      allocatable: { cpu: "3920m", memory: "14783Mi", pods: "58" },
    },
  };
}

interface PodOpts {
  name?: string;
  namespace?: string;
  owner?: { kind: string; name: string };
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  createdAt?: number | string;
  readyAt?: number | null;
  phase?: string;
  deleting?: boolean;
  containers?: V1Container[];
  initContainers?: V1Container[];
  grace?: number;
  nodeName?: string;
}

function container(
  o: {
    name?: string;
    cpu?: string;
    memory?: string;
    preStop?: V1Container["lifecycle"];
    restartPolicy?: string;
  } = {},
): V1Container {
  return {
    name: o.name ?? "app",
    image: "app:1",
    resources: {
      requests: {
        ...(o.cpu === undefined ? {} : { cpu: o.cpu }),
        ...(o.memory === undefined ? {} : { memory: o.memory }),
      },
    },
    ...(o.preStop === undefined ? {} : { lifecycle: o.preStop }),
    ...(o.restartPolicy === undefined ? {} : { restartPolicy: o.restartPolicy }),
  };
}

function pod(o: PodOpts = {}): V1Pod {
  const created = o.createdAt ?? T0;
  const readyAt = o.readyAt === undefined ? null : o.readyAt;
  return {
    metadata: {
      name: o.name ?? "web-7d9f8-abcde",
      namespace: o.namespace ?? "shop",
      uid: "uid-1",
      labels: o.labels ?? {},
      annotations: o.annotations ?? {},
      creationTimestamp: (typeof created === "string" ? created : new Date(created)) as unknown as Date,
      ...(o.deleting === true ? { deletionTimestamp: new Date(T0 + 1000) } : {}),
      ...(o.owner === undefined
        ? {}
        : {
            ownerReferences: [
              { apiVersion: "apps/v1", kind: o.owner.kind, name: o.owner.name, uid: "o", controller: true },
            ],
          }),
    },
    spec: {
      containers: o.containers ?? [container({ cpu: "250m", memory: "256Mi" })],
      ...(o.initContainers === undefined ? {} : { initContainers: o.initContainers }),
      ...(o.grace === undefined ? {} : { terminationGracePeriodSeconds: o.grace }),
      ...(o.nodeName === undefined ? {} : { nodeName: o.nodeName }),
    },
    status: {
      ...(o.phase === undefined ? {} : { phase: o.phase }),
      conditions:
        readyAt === null
          ? [{ type: "Ready", status: "False" }]
          : [{ type: "Ready", status: "True", lastTransitionTime: new Date(readyAt) }],
    },
  };
}

function replicaSet(name: string, deployment: string | null, namespace = "shop"): V1ReplicaSet {
  return {
    metadata: {
      name,
      namespace,
      ...(deployment === null
        ? {}
        : {
            ownerReferences: [
              { apiVersion: "apps/v1", kind: "Deployment", name: deployment, uid: "d", controller: true },
            ],
          }),
    },
  };
}

function deploymentObj(
  o: { name?: string; replicas?: number; ready?: number; annotations?: Record<string, string> } = {},
): V1Deployment {
  return {
    metadata: { name: o.name ?? "web", namespace: "shop", annotations: o.annotations ?? {}, generation: 1 },
    spec: { replicas: o.replicas ?? 6, selector: {}, template: {} },
    status: {
      readyReplicas: o.ready ?? 6,
      observedGeneration: 1,
      replicas: o.replicas ?? 6,
      updatedReplicas: o.replicas ?? 6,
    },
  };
}

function hpa(
  target: string,
  min: number | undefined,
  max: number,
  kind = "Deployment",
): V2HorizontalPodAutoscaler {
  return {
    metadata: { name: `${target}-hpa`, namespace: "shop" },
    spec: {
      scaleTargetRef: { kind, name: target, apiVersion: "apps/v1" },
      maxReplicas: max,
      ...(min === undefined ? {} : { minReplicas: min }),
    },
  };
}

function readyPodView(
  name: string,
  createdAt: number,
  readyAfterSeconds: number | null,
  owner = "web",
): PodView {
  return podView(
    pod({
      name,
      createdAt,
      readyAt: readyAfterSeconds === null ? null : createdAt + readyAfterSeconds * 1000,
      owner: { kind: "ReplicaSet", name: `${owner}-abc` },
    }),
    new Map([[`shop/${owner}-abc`, owner]]),
  );
}

// ------------------------------------------------------------------------------------------- tests

describe("quantities", () => {
  it("parses cpu, memory and exponent forms", () => {
    assert.equal(cpuMilli("250m"), 250);
    assert.equal(cpuMilli("1.5"), 1500);
    assert.equal(cpuMilli(2), 2000);
    assert.equal(cpuMilli("100u"), 1);
    assert.equal(bytes("256Mi"), 256 * 2 ** 20);
    assert.equal(bytes("1G"), 1e9);
    assert.equal(bytes("129e6"), 129e6);
    assert.equal(bytes("1k"), 1000);
    assert.equal(parseQuantity("twelve"), null);
    assert.equal(cpuMilli(undefined), 0);
  });
});

describe("nodeView", () => {
  it("reads instance id, group, zone, readiness, cordon, taints and allocatable", () => {
    const v = nodeView(
      node({
        labels: { "eks.amazonaws.com/nodegroup": "spot-a", "topology.kubernetes.io/zone": "us-east-1a" },
        unschedulable: true,
        taints: [
          { key: "a", effect: "NoSchedule" },
          { key: "b", value: "x", effect: "PreferNoSchedule" },
          { key: "weird", effect: "Bogus" },
        ],
      }),
    );
    assert.deepEqual(v, {
      name: "ip-10-0-1-4.us-east-1.compute.internal",
      instanceId: "i-0123456789abcdef0",
      nodeGroup: "spot-a",
      zone: "us-east-1a",
      ready: true,
      unschedulable: true,
      taints: [
        { key: "a", effect: "NoSchedule" },
        { key: "b", value: "x", effect: "PreferNoSchedule" },
      ],
      labels: { "eks.amazonaws.com/nodegroup": "spot-a", "topology.kubernetes.io/zone": "us-east-1a" },
      allocatable: { cpuMilli: 3920, memoryBytes: 14783 * 2 ** 20, pods: 58 },
      evacuateRequest: null,
    });
  });

  it("falls back to the Karpenter nodepool label and reports Unknown as not ready", () => {
    const v = nodeView(
      node({
        labels: { "karpenter.sh/nodepool": "default" },
        ready: "Unknown",
        providerID: "kind://docker/x",
      }),
    );
    assert.equal(v.nodeGroup, "default");
    assert.equal(v.ready, false);
    assert.equal(v.instanceId, null);
    assert.equal(v.zone, null);
  });
});

describe("owner resolution", () => {
  const owners = replicaSetOwners([replicaSet("web-7d9f8", "web"), replicaSet("bare-rs", null)]);

  it("goes pod -> ReplicaSet -> Deployment", () => {
    assert.deepEqual(resolveOwner(pod({ owner: { kind: "ReplicaSet", name: "web-7d9f8" } }), owners), {
      kind: "Deployment",
      namespace: "shop",
      name: "web",
    });
  });

  it("keeps a ReplicaSet without a Deployment", () => {
    assert.deepEqual(resolveOwner(pod({ owner: { kind: "ReplicaSet", name: "bare-rs" } }), owners), {
      kind: "ReplicaSet",
      namespace: "shop",
      name: "bare-rs",
    });
  });

  it("infers the Deployment from pod-template-hash when the ReplicaSet is not cached yet", () => {
    const p = pod({
      owner: { kind: "ReplicaSet", name: "api-5c6d7" },
      labels: { "pod-template-hash": "5c6d7" },
    });
    assert.deepEqual(resolveOwner(p, owners), { kind: "Deployment", namespace: "shop", name: "api" });
    const unknown = pod({ owner: { kind: "ReplicaSet", name: "other-rs" } });
    assert.deepEqual(resolveOwner(unknown, owners), {
      kind: "ReplicaSet",
      namespace: "shop",
      name: "other-rs",
    });
  });

  it("takes StatefulSet, DaemonSet and Job directly, anything else as Other, no owner as null", () => {
    for (const kind of ["StatefulSet", "DaemonSet", "Job"] as const) {
      assert.deepEqual(resolveOwner(pod({ owner: { kind, name: "x" } }), owners), {
        kind,
        namespace: "shop",
        name: "x",
      });
    }
    assert.equal(resolveOwner(pod({ owner: { kind: "Node", name: "n" } }), owners)?.kind, "Other");
    assert.equal(resolveOwner(pod(), owners), null);
  });
});

describe("preStop parsing", () => {
  it("reads exec sleep, shell scripts and the native sleep action", () => {
    assert.equal(sleepSecondsOfCommand(["sleep", "20"]), 20);
    assert.equal(sleepSecondsOfCommand(["/bin/sleep", "2m"]), 120);
    assert.equal(sleepSecondsOfCommand(["sh", "-c", "sleep 20 && nginx -s quit"]), 20);
    assert.equal(sleepSecondsOfCommand(["/bin/bash", "-c", "echo bye; /bin/sleep 5; sleep 10s"]), 15);
    assert.equal(sleepSecondsOfCommand(["nginx", "-s", "quit"]), null);
    assert.equal(sleepSecondsOfCommand(["sh", "-c", "echo sleeping"]), null);
    assert.equal(
      preStopSecondsOf([
        container({ preStop: { preStop: { exec: { command: ["sleep", "5"] } } } }),
        container({ name: "side", preStop: { preStop: { sleep: { seconds: 25 } } } }),
        container({ name: "plain" }),
      ]),
      25,
    );
    assert.equal(
      preStopSecondsOf([container(), container({ preStop: { preStop: { httpGet: { port: 80 } } } })]),
      null,
    );
  });
});

describe("podView", () => {
  it("copies identity, readiness, owner, timings and requests", () => {
    const v = podView(
      pod({
        owner: { kind: "ReplicaSet", name: "web-7d9f8" },
        createdAt: iso(T0), // a watch event carries strings
        readyAt: T0 + 42_000,
        phase: "Running",
        nodeName: "n1",
        grace: 120,
        containers: [
          container({
            cpu: "250m",
            memory: "256Mi",
            preStop: { preStop: { exec: { command: ["sh", "-c", "sleep 20 && echo 1"] } } },
          }),
          container({ name: "sidecar", cpu: "100m", memory: "64Mi" }),
        ],
        initContainers: [
          container({ name: "init", cpu: "1", memory: "1Mi" }),
          container({ name: "proxy", cpu: "50m", memory: "32Mi", restartPolicy: "Always" }),
        ],
      }),
      replicaSetOwners([replicaSet("web-7d9f8", "web")]),
    );
    assert.deepEqual(
      { ...v, labels: undefined, annotations: undefined },
      {
        namespace: "shop",
        name: "web-7d9f8-abcde",
        uid: "uid-1",
        nodeName: "n1",
        phase: "Running",
        ready: true,
        createdAt: T0,
        readyAt: T0 + 42_000,
        deleting: false,
        owner: { kind: "Deployment", namespace: "shop", name: "web" },
        mirror: false,
        labels: undefined,
        annotations: undefined,
        preStopSeconds: 20,
        terminationGracePeriodSeconds: 120,
        // containers 350m + sidecar 50m = 400m < init 1000m; memory 256+64+32 Mi > init 1 Mi
        requests: { cpuMilli: 1000, memoryBytes: (256 + 64 + 32) * 2 ** 20 },
        onePerNode: false,
      },
    );
  });

  it("marks terminating, mirror and not-ready pods, defaults phase and grace", () => {
    const v = podView(
      pod({ deleting: true, annotations: { "kubernetes.io/config.mirror": "abc" } }),
      new Map(),
    );
    assert.equal(v.deleting, true);
    assert.equal(v.mirror, true);
    assert.equal(v.ready, false);
    assert.equal(v.readyAt, null);
    assert.equal(v.phase, "Pending");
    assert.equal(v.terminationGracePeriodSeconds, 30);
    assert.equal(v.nodeName, null);
  });

  it("reads timestamps from Dates and strings alike", () => {
    assert.equal(toMillis(new Date(T0)), T0);
    assert.equal(toMillis(iso(T0)), T0);
    assert.equal(toMillis(undefined), null);
    assert.equal(toMillis("not a time"), null);
  });
});

describe("workloadView", () => {
  const pods = [
    readyPodView("a", T0, 30),
    readyPodView("b", T0, 10),
    readyPodView("c", T0, 50),
    readyPodView("d", T0, 20),
    readyPodView("e", T0, null), // not Ready: no sample
    readyPodView("f", T0, 1, "other"), // another workload's pod
  ];

  it("learns the median create->Ready of its Ready pods and finds its HPA", () => {
    const v = workloadView(
      { kind: "Deployment", object: deploymentObj({ replicas: 7, ready: 5 }) },
      [hpa("web", undefined, 12), hpa("web", 3, 9, "StatefulSet")],
      pods,
    );
    assert.deepEqual(v, {
      ref: { kind: "Deployment", namespace: "shop", name: "web" },
      specReplicas: 7,
      statusReplicas: 7,
      readyReplicas: 5,
      expectedReadySeconds: 25,
      hpa: { min: 1, max: 12 },
      rollingOut: false,
      surgeLedger: [],
      ledgerReplicas: null,
    });
  });

  it("sees a rollout in progress: spec not yet observed, replicas not all updated, or old pods still running", () => {
    const settled = deploymentObj({ replicas: 4 });
    const view = (d: V1Deployment): boolean =>
      workloadView({ kind: "Deployment", object: d }, [], pods).rollingOut;
    assert.equal(view(settled), false);
    assert.equal(view({ ...settled, metadata: { ...settled.metadata, generation: 2 } }), true);
    assert.equal(view({ ...settled, status: { ...settled.status, updatedReplicas: 2 } }), true);
    assert.equal(view({ ...settled, status: { ...settled.status, replicas: 6 } }), true);
    assert.equal(rollingOut({ spec: { replicas: 4, selector: {}, template: {} } }), true, "no status yet");
  });

  it("prefers the annotation, and ignores a malformed one", () => {
    const annotated = workloadView(
      {
        kind: "Deployment",
        object: deploymentObj({ annotations: { "lifeboat.dev/expected-ready-seconds": "75" } }),
      },
      [],
      pods,
    );
    assert.equal(annotated.expectedReadySeconds, 75);
    assert.equal(annotated.hpa, null);
    const malformed = workloadView(
      {
        kind: "Deployment",
        object: deploymentObj({ annotations: { "lifeboat.dev/expected-ready-seconds": "soon" } }),
      },
      [],
      pods,
    );
    assert.equal(malformed.expectedReadySeconds, 25);
    assert.equal(annotatedReadySeconds("90s"), 90);
    assert.equal(annotatedReadySeconds("-3"), null);
  });

  it("is null when no pod was ever seen Ready", () => {
    assert.equal(
      workloadView({ kind: "Deployment", object: deploymentObj({ name: "new" }) }, [], pods)
        .expectedReadySeconds,
      null,
    );
    const odd = workloadView({ kind: "Deployment", object: deploymentObj() }, [], pods.slice(0, 3));
    assert.equal(odd.expectedReadySeconds, 30);
  });
});

describe("pdbView", () => {
  const base = (selector: V1LabelSelector | undefined): V1PodDisruptionBudget => ({
    metadata: { name: "web", namespace: "shop" },
    spec: { ...(selector === undefined ? {} : { selector }) },
    status: { disruptionsAllowed: 2, currentHealthy: 6, desiredHealthy: 4, expectedPods: 6 },
  });

  it("keeps matchLabels selectors with the allowed disruptions", () => {
    assert.deepEqual(pdbView(base({ matchLabels: { app: "web" } })), {
      kind: "view",
      view: { namespace: "shop", name: "web", matchLabels: { app: "web" }, disruptionsAllowed: 2 },
    });
    const empty = pdbView(base({}));
    assert.equal(empty.kind, "view");
    assert.deepEqual(empty.kind === "view" ? empty.view.matchLabels : null, {});
  });

  it("skips matchExpressions and missing selectors with a reason", () => {
    const expr = pdbView(base({ matchExpressions: [{ key: "app", operator: "In", values: ["web"] }] }));
    assert.equal(expr.kind, "skipped");
    assert.match(expr.kind === "skipped" ? expr.reason : "", /matchExpressions/);
    assert.equal(pdbView(base(undefined)).kind, "skipped");
  });
});

describe("onePerNodeOf", () => {
  const withAnti = (labels: Record<string, string>, term: object) =>
    ({
      metadata: { labels },
      spec: {
        containers: [],
        affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] } },
      },
    }) as Parameters<typeof onePerNodeOf>[0];

  it("is true for required hostname anti-affinity against the pod's own labels", () => {
    // The seed's selector (matchExpressions type In [instance]) and the common matchLabels form.
    assert.equal(
      onePerNodeOf(
        withAnti(
          { app: "web", type: "instance" },
          {
            topologyKey: "kubernetes.io/hostname",
            labelSelector: { matchExpressions: [{ key: "type", operator: "In", values: ["instance"] }] },
          },
        ),
      ),
      true,
    );
    assert.equal(
      onePerNodeOf(
        withAnti(
          { app: "web" },
          { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { app: "web" } } },
        ),
      ),
      true,
    );
  });

  it("is false for another topology key, another workload's labels, or no anti-affinity", () => {
    const own = { labelSelector: { matchLabels: { app: "web" } } };
    assert.equal(
      onePerNodeOf(withAnti({ app: "web" }, { ...own, topologyKey: "topology.kubernetes.io/zone" })),
      false,
    );
    assert.equal(
      onePerNodeOf(
        withAnti(
          { app: "web" },
          { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { app: "db" } } },
        ),
      ),
      false,
    );
    assert.equal(onePerNodeOf({ metadata: { labels: { app: "web" } }, spec: { containers: [] } }), false);
  });
});
