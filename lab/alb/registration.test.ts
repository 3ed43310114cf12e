import { test } from "node:test";
import assert from "node:assert/strict";
import type { V1EndpointSlice, V1Node, V1Pod } from "@kubernetes/client-node";
import {
  desiredInstanceTargets,
  desiredIpTargets,
  diffTargets,
  gateConditionPatch,
  readinessGateConditionType,
  readinessGateUpdates,
  type BindingSpec,
  type DesiredTargets,
  type DesiredResult,
} from "./registration.ts";
import {
  byKey,
  endpointSlice,
  namespace,
  node,
  pod,
  service,
  type EndpointFixture,
} from "./testing/builders.ts";

const ipBinding: BindingSpec = {
  name: "web-tgb",
  namespace,
  serviceName: "web",
  servicePort: 80,
  targetType: "ip",
};
const instanceBinding: BindingSpec = { ...ipBinding, targetType: "instance" };
const gate = readinessGateConditionType("web-tgb");

function ipMode(
  endpoints: EndpointFixture[],
  pods: V1Pod[],
  nodes: V1Node[],
  extra: { failOpen?: boolean; slices?: V1EndpointSlice[] } = {},
): DesiredTargets {
  return unwrap(
    desiredIpTargets({
      binding: ipBinding,
      service: service("web"),
      endpointSlices: extra.slices ?? [endpointSlice("web", endpoints)],
      pods: byKey(pods, true),
      nodes: byKey(nodes, false),
      ...(extra.failOpen === undefined ? {} : { failOpen: extra.failOpen }),
    }),
  );
}

function unwrap(result: DesiredResult): DesiredTargets {
  if (result.kind === "error") assert.fail(result.reason);
  return result.desired;
}

function ips(desired: DesiredTargets): string[] {
  return desired.targets.map((t) => `${t.ip}:${t.port}`).sort();
}

const readyNode = node({ name: "n1", ip: "10.0.0.1" });

test("ip mode registers ready endpoints and endpoints whose ready condition is unset, on the endpoint port", () => {
  const desired = ipMode(
    [
      { pod: "a", ip: "10.1.0.1", ready: true },
      { pod: "b", ip: "10.1.0.2" },
    ],
    [pod({ name: "a", node: "n1" }), pod({ name: "b", node: "n1" })],
    [readyNode],
  );
  assert.deepEqual(ips(desired), ["10.1.0.1:8080", "10.1.0.2:8080"]);
  assert.equal(desired.podTargets.get("shop/a"), "10.1.0.1:8080");
  assert.equal(desired.failOpen, false);
});

test("ip mode still registers a not-ready endpoint whose containers are ready on a Ready node (readiness-gate bootstrap)", () => {
  const desired = ipMode(
    [{ pod: "a", ip: "10.1.0.1", ready: false }],
    [pod({ name: "a", node: "n1", gates: [gate] })],
    [readyNode],
  );
  assert.deepEqual(ips(desired), ["10.1.0.1:8080"]);
  assert.match(desired.decisions[0]?.reason ?? "", /readiness-gate bootstrap/);
});

test("ip mode drops a not-ready endpoint that is terminating on a Ready node", () => {
  const desired = ipMode(
    [{ pod: "a", ip: "10.1.0.1", ready: false, terminating: true }],
    [pod({ name: "a", node: "n1" })],
    [readyNode],
  );
  assert.deepEqual(ips(desired), []);
  assert.match(desired.decisions[0]?.reason ?? "", /terminating/);
});

test("ip mode drops a not-ready endpoint whose containers are not ready, and asks for a requeue only when the pod carries the gate", () => {
  const withGate = ipMode(
    [{ pod: "a", ip: "10.1.0.1", ready: false }],
    [pod({ name: "a", node: "n1", containersReady: false, gates: [gate] })],
    [readyNode],
  );
  assert.deepEqual(ips(withGate), []);
  assert.equal(withGate.potentiallyReady, true);
  const withoutGate = ipMode(
    [{ pod: "a", ip: "10.1.0.1", ready: false }],
    [pod({ name: "a", node: "n1", containersReady: false })],
    [readyNode],
  );
  assert.equal(withoutGate.potentiallyReady, false);
});

test("ip mode drops a not-ready endpoint on a node that is NotReady or missing", () => {
  const desired = ipMode(
    [
      { pod: "a", ip: "10.1.0.1", ready: false },
      { pod: "b", ip: "10.1.0.2", ready: false },
    ],
    [pod({ name: "a", node: "n2" }), pod({ name: "b", node: "ghost" })],
    [node({ name: "n2", ready: "False" })],
  );
  assert.deepEqual(ips(desired), []);
  assert.deepEqual(
    desired.decisions.map((d) => d.included),
    [false, false],
  );
});

test("ip mode: a pod not yet in the cache is skipped and makes the binding requeue", () => {
  const desired = ipMode([{ pod: "a", ip: "10.1.0.1", ready: true }], [], [readyNode]);
  assert.deepEqual(ips(desired), []);
  assert.equal(desired.potentiallyReady, true);
});

test("ip mode fail-open: with no ready endpoint, pods with ready containers on Unknown nodes stay registered", () => {
  const unknownNode = node({ name: "n9", ready: "Unknown" });
  const desired = ipMode(
    [{ pod: "a", ip: "10.1.0.1", ready: false }],
    [pod({ name: "a", node: "n9" })],
    [unknownNode],
  );
  assert.deepEqual(ips(desired), ["10.1.0.1:8080"]);
  assert.equal(desired.failOpen, true);
  const disabled = ipMode(
    [{ pod: "a", ip: "10.1.0.1", ready: false }],
    [pod({ name: "a", node: "n9" })],
    [unknownNode],
    { failOpen: false },
  );
  assert.deepEqual(ips(disabled), []);
});

test("ip mode fail-open does not apply when some endpoint is ready", () => {
  const desired = ipMode(
    [
      { pod: "a", ip: "10.1.0.1", ready: false },
      { pod: "b", ip: "10.1.0.2", ready: true },
    ],
    [pod({ name: "a", node: "n9" }), pod({ name: "b", node: "n1" })],
    [node({ name: "n9", ready: "Unknown" }), readyNode],
  );
  assert.deepEqual(ips(desired), ["10.1.0.2:8080"]);
  assert.equal(desired.failOpen, false);
});

test("ip mode ignores endpoints not backed by pods, slices of other services, and ports of another name", () => {
  const slices = [
    endpointSlice(
      "web",
      [
        { pod: "a", ip: "10.1.0.1", ready: true },
        { pod: "x", ip: "10.1.0.9", ready: true, notPod: true },
      ],
      [
        { name: "http", port: 8080 },
        { name: "metrics", port: 9090 },
      ],
    ),
    endpointSlice("other", [{ pod: "b", ip: "10.1.0.2", ready: true }]),
  ];
  const desired = ipMode([], [pod({ name: "a", node: "n1" }), pod({ name: "b", node: "n1" })], [readyNode], {
    slices,
  });
  assert.deepEqual(ips(desired), ["10.1.0.1:8080"]);
});

test("ip mode reports a missing service or service port as an error", () => {
  const noService = desiredIpTargets({
    binding: ipBinding,
    service: undefined,
    endpointSlices: [],
    pods: new Map(),
    nodes: new Map(),
  });
  assert.equal(noService.kind, "error");
  const noPort = desiredIpTargets({
    binding: { ...ipBinding, servicePort: "grpc" },
    service: service("web"),
    endpointSlices: [],
    pods: new Map(),
    nodes: new Map(),
  });
  assert.equal(noPort.kind, "error");
});

const nodePortService = service("web", {
  type: "NodePort",
  ports: [{ name: "http", port: 80, nodePort: 30080 }],
});

function instanceMode(nodes: V1Node[], failOpen?: boolean): DesiredTargets {
  return unwrap(
    desiredInstanceTargets({
      binding: instanceBinding,
      service: nodePortService,
      nodes,
      ...(failOpen === undefined ? {} : { failOpen }),
    }),
  );
}

test("instance mode registers Ready nodes on the NodePort; a cordon alone does not remove a node", () => {
  const desired = instanceMode([
    node({ name: "n1", ip: "10.0.0.1" }),
    node({ name: "n2", ip: "10.0.0.2", unschedulable: true }),
    node({ name: "n3", ip: "10.0.0.3", ready: "False" }),
  ]);
  assert.deepEqual(ips(desired), ["10.0.0.1:30080", "10.0.0.2:30080"]);
  assert.match(desired.decisions.find((d) => d.subject === "n2")?.reason ?? "", /cordon/);
});

test("instance mode removes nodes with the exclude label, the cluster-autoscaler taint or karpenter.sh/disrupted:NoSchedule", () => {
  const desired = instanceMode([
    node({ name: "n1", ip: "10.0.0.1" }),
    node({
      name: "n2",
      ip: "10.0.0.2",
      labels: { "node.kubernetes.io/exclude-from-external-load-balancers": "" },
    }),
    node({
      name: "n3",
      ip: "10.0.0.3",
      taints: [{ key: "ToBeDeletedByClusterAutoscaler", effect: "NoSchedule" }],
    }),
    node({ name: "n4", ip: "10.0.0.4", taints: [{ key: "karpenter.sh/disrupted", effect: "NoSchedule" }] }),
    node({ name: "n5", ip: "10.0.0.5", taints: [{ key: "karpenter.sh/disrupted", effect: "NoExecute" }] }),
    node({
      name: "n6",
      ip: "10.0.0.6",
      taints: [{ key: "aws-node-termination-handler/spot-itn", effect: "NoSchedule" }],
    }),
  ]);
  assert.deepEqual(ips(desired), ["10.0.0.1:30080", "10.0.0.5:30080", "10.0.0.6:30080"]);
});

test("instance mode fail-open uses Unknown nodes only when no node is Ready", () => {
  const onlyUnknown = instanceMode([
    node({ name: "n1", ip: "10.0.0.1", ready: "Unknown" }),
    node({ name: "n2", ip: "10.0.0.2", ready: "False" }),
  ]);
  assert.deepEqual(ips(onlyUnknown), ["10.0.0.1:30080"]);
  assert.equal(onlyUnknown.failOpen, true);
  const mixed = instanceMode([
    node({ name: "n1", ip: "10.0.0.1", ready: "Unknown" }),
    node({ name: "n2", ip: "10.0.0.2" }),
  ]);
  assert.deepEqual(ips(mixed), ["10.0.0.2:30080"]);
  assert.deepEqual(ips(instanceMode([node({ name: "n1", ip: "10.0.0.1", ready: "Unknown" })], false)), []);
});

test("instance mode requires a NodePort or LoadBalancer service", () => {
  const result = desiredInstanceTargets({
    binding: instanceBinding,
    service: service("web"),
    nodes: [node({ name: "n1", ip: "10.0.0.1" })],
  });
  assert.equal(result.kind, "error");
});

test("diffTargets registers the new, deregisters the gone, and reports an unchanged set", () => {
  const a = { ip: "10.1.0.1", port: 8080 };
  const b = { ip: "10.1.0.2", port: 8080 };
  const c = { ip: "10.1.0.3", port: 8080 };
  assert.deepEqual(diffTargets([a, b], [b, c]), { toRegister: [c], toDeregister: [a], unchanged: false });
  assert.equal(diffTargets([a, b], [b, a]).unchanged, true);
});

test("readiness gate: True exactly when the pod's target is healthy, and only pods whose condition changes", () => {
  const pods = [
    pod({ name: "a", node: "n1", gates: [gate] }),
    pod({ name: "b", node: "n1", gates: [gate], conditions: { [gate]: "True" } }),
    pod({ name: "c", node: "n1", gates: [gate] }),
    pod({ name: "d", node: "n1" }),
  ];
  const podTargets = new Map([
    ["shop/a", "10.1.0.1:8080"],
    ["shop/b", "10.1.0.2:8080"],
    ["shop/c", "10.1.0.3:8080"],
    ["shop/d", "10.1.0.4:8080"],
  ]);
  const states = new Map([
    ["10.1.0.1:8080", "healthy" as const],
    ["10.1.0.2:8080", "healthy" as const],
    ["10.1.0.3:8080", "initial" as const],
    ["10.1.0.4:8080", "healthy" as const],
  ]);
  const updates = readinessGateUpdates(pods, gate, podTargets, (key) => states.get(key));
  assert.deepEqual(
    updates.map((u) => [u.name, u.status]),
    [
      ["a", "True"],
      ["c", "False"],
    ],
  );
  const patch = gateConditionPatch(updates[0]!, new Date("2026-01-01T00:00:00Z"));
  assert.deepEqual(patch, {
    status: {
      conditions: [
        {
          type: gate,
          status: "True",
          reason: "Elb.Healthy",
          message: "target 10.1.0.1:8080 is healthy in the target group",
          lastProbeTime: null,
          lastTransitionTime: "2026-01-01T00:00:00.000Z",
        },
      ],
    },
  });
});
