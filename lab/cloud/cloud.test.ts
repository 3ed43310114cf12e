import { test } from "node:test";
import assert from "node:assert/strict";
import type { EksNodeSpec } from "../cluster/eks-node.ts";
import type { CloudSettings, NodeGroup, ScenarioEvent } from "../scenarios/schema.ts";
import { CloudSimulator } from "./cloud.ts";
import type { AsgHooks, CloudLab, CloudNode, DeadHostMode, PendingPod, TimelineEntry } from "./cloud.ts";
import { pendingPodOf, preferNodesHoldingPods } from "./kube.ts";

/** Scenario seconds run 200 times faster: a 120 s deadline takes 0.6 s. */
const TIME_SCALE = 0.005;
/** Timers may fire a millisecond early; in scenario seconds that is 0.2 s. */
const SLACK = 0.5;

function settings(overrides: Partial<CloudSettings> = {}): CloudSettings {
  return {
    nodeJoinSeconds: 70,
    eventDeliverySeconds: 2,
    noticeLeadSeconds: 120,
    refuseSeconds: 5,
    terminatedAfterSeconds: 30,
    deleteTerminatedNodes: true,
    autoscaler: { enabled: false, maxNodesPerGroup: 10, reactSeconds: 10 },
    ...overrides,
  };
}

function group(name: string, zone: string, count: number): NodeGroup {
  return { name, zone, count, instanceType: "m5.xlarge", capacityType: "SPOT" };
}

function node(name: string, nodeGroup: string, zone: string): CloudNode {
  return { name, instanceId: `i-${name.replace(/[^0-9a-f]/g, "").padEnd(17, "0")}`, nodeGroup, zone };
}

/** A lab that records what the cloud does to it. */
class FakeLab implements CloudLab {
  readonly nodes: CloudNode[];
  readonly added: EksNodeSpec[] = [];
  readonly heartbeatsStopped: string[] = [];
  readonly terminated: string[] = [];
  readonly deleted: string[] = [];
  constructor(nodes: CloudNode[]) {
    this.nodes = nodes;
  }
  addNode(spec: EksNodeSpec): Promise<CloudNode> {
    this.added.push(spec);
    return Promise.resolve(node(`new-${this.added.length}`, spec.nodeGroup, spec.zone));
  }
  stopHeartbeats(name: string): Promise<void> {
    this.heartbeatsStopped.push(name);
    return Promise.resolve();
  }
  terminateInstance(name: string): Promise<void> {
    this.terminated.push(name);
    return Promise.resolve();
  }
  deleteNode(name: string): Promise<void> {
    this.deleted.push(name);
    return Promise.resolve();
  }
  nodeReady(name: string): Promise<boolean | null> {
    if (this.deleted.includes(name)) return Promise.resolve(null);
    return Promise.resolve(!this.heartbeatsStopped.includes(name));
  }
}

interface Harness {
  cloud: CloudSimulator;
  lab: FakeLab;
  sent: Record<string, unknown>[];
  kills: { name: string; mode: DeadHostMode }[];
}

function harness(opts: {
  events: ScenarioEvent[];
  groups?: NodeGroup[];
  nodes?: CloudNode[];
  settings?: Partial<CloudSettings>;
  chooseVictims?: (c: readonly CloudNode[], n: number) => Promise<readonly CloudNode[]>;
  pendingPods?: () => Promise<readonly PendingPod[]>;
  asg?: AsgHooks;
}): Harness {
  const groups = opts.groups ?? [group("spot-a", "us-east-1a", 2), group("spot-b", "us-east-1b", 2)];
  const lab = new FakeLab(
    opts.nodes ??
      groups.flatMap((g) =>
        Array.from({ length: g.count }, (_, i) => node(`${g.name}-${i}`, g.name, g.zone)),
      ),
  );
  const sent: Record<string, unknown>[] = [];
  const kills: { name: string; mode: DeadHostMode }[] = [];
  const cloud = new CloudSimulator({
    lab,
    send: (body) => {
      sent.push(JSON.parse(body) as Record<string, unknown>);
      return Promise.resolve();
    },
    hooks: {
      killNode: (name, mode) => {
        kills.push({ name, mode });
      },
      ...(opts.chooseVictims === undefined ? {} : { chooseVictims: opts.chooseVictims }),
      ...(opts.pendingPods === undefined ? {} : { pendingPods: opts.pendingPods }),
      ...(opts.asg === undefined ? {} : { asg: opts.asg }),
    },
    settings: settings(opts.settings),
    nodeGroups: groups,
    events: opts.events,
    timeScale: TIME_SCALE,
    nodeLifecyclePeriodSeconds: 5,
  });
  return { cloud, lab, sent, kills };
}

function kinds(timeline: readonly TimelineEntry[], nodeName: string): string[] {
  return timeline.filter((e) => e.node === nodeName).map((e) => e.kind);
}

function first(timeline: readonly TimelineEntry[], kind: string, nodeName?: string): TimelineEntry {
  const e = timeline.find((x) => x.kind === kind && (nodeName === undefined || x.node === nodeName));
  assert.ok(e !== undefined, `no ${kind} entry${nodeName === undefined ? "" : ` for ${nodeName}`}`);
  return e;
}

test("a spot reclaim: warning into SQS after the delivery delay, death at the deadline, ASG replacement", async () => {
  const h = harness({ events: [{ at: 10, kind: "spot-reclaim", nodes: { group: "spot-b" } }] });
  await using cloud = h.cloud;
  cloud.start();
  await cloud.settled();

  const victim = "spot-b-0";
  assert.deepEqual(kinds(cloud.timeline, victim), [
    "notice-issued",
    "message-delivered",
    "node-killed",
    "instance-shutting-down",
    "heartbeats-stopped",
    "message-delivered",
    "node-silent",
    "node-deleted",
    "instance-terminated",
    "message-delivered",
  ]);
  // The warning, exactly as EventBridge shapes it.
  const warning = h.sent[0]!;
  assert.deepEqual(Object.keys(warning), [
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
  ]);
  assert.equal(warning["detail-type"], "EC2 Spot Instance Interruption Warning");
  assert.equal(warning["source"], "aws.ec2");
  assert.equal(warning["region"], "us-east-1");
  assert.match(String(warning["id"]), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.match(String(warning["time"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const instanceId = node(victim, "spot-b", "us-east-1b").instanceId;
  assert.deepEqual(warning["resources"], [`arn:aws:ec2:us-east-1:123456789012:instance/${instanceId}`]);
  assert.deepEqual(warning["detail"], { "instance-id": instanceId, "instance-action": "terminate" });
  // Then shutting-down and terminated state changes.
  assert.deepEqual(
    h.sent.slice(1).map((m) => [m["detail-type"], (m["detail"] as { state: string }).state]),
    [
      ["EC2 Instance State-change Notification", "shutting-down"],
      ["EC2 Instance State-change Notification", "terminated"],
    ],
  );
  // Refuse first, then silence; heartbeats stop.
  assert.deepEqual(h.kills, [
    { name: victim, mode: "refuse" },
    { name: victim, mode: "blackhole" },
  ]);
  assert.deepEqual(h.lab.heartbeatsStopped, [victim]);
  // EC2 terminates the instance at the death (so DescribeInstances agrees with the state changes).
  assert.deepEqual(h.lab.terminated, [victim]);
  assert.deepEqual(h.lab.deleted, [victim]);
  // Logical times: never before they are due.
  assert.ok(first(cloud.timeline, "message-delivered", victim).at >= 12 - SLACK);
  assert.ok(first(cloud.timeline, "node-killed", victim).at >= 130 - SLACK);
  assert.ok(first(cloud.timeline, "node-silent", victim).at >= 135 - SLACK);
  // The group keeps its desired capacity: one replacement, launched at the death, joined 70 s later.
  assert.deepEqual(h.lab.added, [
    { nodeGroup: "spot-b", zone: "us-east-1b", instanceType: "m5.xlarge", capacityType: "SPOT" },
  ]);
  assert.ok(first(cloud.timeline, "node-joined").at >= 200 - SLACK);
  assert.match(first(cloud.timeline, "node-launched").detail, /asg-replacement/);
  assert.deepEqual(
    cloud.reclaims.map((r) => ({ ...r, diedAt: r.diedAt !== null })),
    [
      {
        node: victim,
        instanceId,
        nodeGroup: "spot-b",
        zone: "us-east-1b",
        rebalanceAt: null,
        noticeAt: 10,
        deadline: 130,
        diedAt: true,
      },
    ],
  );
  assert.deepEqual(cloud.liveNodes.map((n) => n.name).sort(), ["new-1", "spot-a-0", "spot-a-1", "spot-b-1"]);
});

test("the victim chooser picks among the matching nodes", async () => {
  const h = harness({
    events: [{ at: 1, kind: "spot-reclaim", nodes: { count: 1 } }],
    settings: { noticeLeadSeconds: 10, nodeJoinSeconds: 1, terminatedAfterSeconds: 1 },
    chooseVictims: preferNodesHoldingPods(() =>
      Promise.resolve([{ nodeName: "spot-b-1" }, { nodeName: "spot-b-1" }, { nodeName: undefined }]),
    ),
  });
  await using cloud = h.cloud;
  cloud.start();
  await cloud.settled();
  assert.deepEqual(
    cloud.reclaims.map((r) => r.node),
    ["spot-b-1"],
  );
});

test("an AZ reclaim warns a share of one zone's nodes (rounded up) at once", async () => {
  const groups = [group("spot-a", "us-east-1a", 4), group("spot-b", "us-east-1b", 4)];
  const h = harness({
    groups,
    events: [{ at: 1, kind: "az-reclaim", zone: "us-east-1a", share: 0.3 }],
    settings: { noticeLeadSeconds: 10, nodeJoinSeconds: 1, terminatedAfterSeconds: 1 },
  });
  await using cloud = h.cloud;
  cloud.start();
  await cloud.settled();
  const reclaimed = cloud.reclaims;
  assert.equal(reclaimed.length, 2);
  assert.ok(reclaimed.every((r) => r.zone === "us-east-1a" && r.noticeAt === 1));
  assert.equal(h.lab.added.length, 2);
});

test("a rebalance recommendation comes first, then the reclaim of the same node", async () => {
  const h = harness({
    events: [{ at: 5, kind: "rebalance", nodes: { group: "spot-a" }, reclaimAfterSeconds: 60 }],
    settings: { noticeLeadSeconds: 20, nodeJoinSeconds: 1, terminatedAfterSeconds: 1 },
  });
  await using cloud = h.cloud;
  cloud.start();
  await cloud.settled();
  assert.deepEqual(
    h.sent.map((m) => m["detail-type"]),
    [
      "EC2 Instance Rebalance Recommendation",
      "EC2 Spot Instance Interruption Warning",
      "EC2 Instance State-change Notification",
      "EC2 Instance State-change Notification",
    ],
  );
  assert.deepEqual(h.sent[0]!["detail"], {
    "instance-id": node("spot-a-0", "spot-a", "us-east-1a").instanceId,
  });
  const r = cloud.reclaims[0]!;
  assert.deepEqual([r.node, r.rebalanceAt, r.noticeAt, r.deadline], ["spot-a-0", 5, 65, 85]);
});

test("too few matching nodes is recorded as an error and settled() reports it", async () => {
  const h = harness({
    events: [{ at: 1, kind: "spot-reclaim", nodes: { group: "spot-a", count: 3 } }],
    settings: { noticeLeadSeconds: 5, nodeJoinSeconds: 1, terminatedAfterSeconds: 1 },
  });
  await using cloud = h.cloud;
  cloud.start();
  await assert.rejects(cloud.settled(), /wanted 3 nodes of group spot-a, only 2 available/);
  assert.equal(cloud.reclaims.length, 2);
});

test("stop() cancels what has not happened yet", async () => {
  const h = harness({ events: [{ at: 100, kind: "spot-reclaim", nodes: {} }] });
  const cloud = h.cloud;
  cloud.start();
  await cloud.stop();
  assert.deepEqual(cloud.timeline, []);
  assert.deepEqual(h.sent, []);
});

function joined(cloud: CloudSimulator): number {
  return cloud.timeline.filter((e) => e.kind === "node-joined").length;
}

/** Scenario seconds since the first node joined, or -1. */
function joinedFor(cloud: CloudSimulator): number {
  const j = cloud.timeline.find((e) => e.kind === "node-joined");
  return j === undefined ? -1 : cloud.now() - j.at;
}

function pod(name: string, extra: Partial<PendingPod> = {}): PendingPod {
  return { name, workload: "app", groups: null, cpuMilli: 1000, onePerNode: false, ...extra };
}

test("the autoscaler adds one node per pod that cannot share, after reactSeconds, up to the group maximum", async () => {
  const pods = [
    pod("default/app-1", { onePerNode: true, groups: ["spot-a"] }),
    pod("default/app-2", { onePerNode: true, groups: ["spot-a"] }),
    pod("default/app-3", { onePerNode: true, groups: ["spot-a"] }),
  ];
  // spot-a has 2 nodes and may grow to 4: room for 2 of the 3 pods. A scheduler places one pod per joined node.
  const h = harness({
    events: [{ at: 1, kind: "rebalance", nodes: {} }],
    settings: { nodeJoinSeconds: 20, autoscaler: { enabled: true, maxNodesPerGroup: 4, reactSeconds: 10 } },
    pendingPods: () => Promise.resolve(pods.slice(joined(h.cloud))),
  });
  await using cloud = h.cloud;
  cloud.start();
  while (joined(cloud) < 2) await new Promise((r) => setTimeout(r, 20));
  // Let the autoscaler scan a while with the third pod still pending and the group at its maximum.
  await new Promise((r) => setTimeout(r, 100));
  await cloud.settled();
  const scaleUps = cloud.timeline.filter((e) => e.kind === "autoscaler-scale-up");
  assert.equal(scaleUps.length, 2);
  assert.ok(scaleUps.every((e) => e.at >= 10 - SLACK && /\+1 node in spot-a/.test(e.detail)));
  assert.deepEqual(
    h.lab.added.map((s) => s.nodeGroup),
    ["spot-a", "spot-a"],
  );
});

test("the autoscaler packs small pods onto one new node and counts nodes already on their way", async () => {
  const pods = [pod("default/a", { cpuMilli: 500 }), pod("default/b", { cpuMilli: 500 })];
  const h = harness({
    events: [{ at: 1, kind: "rebalance", nodes: {} }],
    settings: { nodeJoinSeconds: 30, autoscaler: { enabled: true, maxNodesPerGroup: 10, reactSeconds: 5 } },
    // The scheduler is slow to notice the new node: the pods stay pending a little after it joined.
    pendingPods: () => Promise.resolve(joinedFor(h.cloud) > 3 ? [] : pods),
  });
  await using cloud = h.cloud;
  cloud.start();
  while (joinedFor(cloud) <= 3) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 50));
  await cloud.settled();
  // Several scans saw the pods pending while the node was on its way: still one node.
  assert.equal(cloud.timeline.filter((e) => e.kind === "autoscaler-scale-up").length, 1);
  assert.equal(h.lab.added.length, 1);
});

/** Auto Scaling groups as moto keeps them: desired capacity per group, raised by lifeboat's early node. */
class FakeAsgs implements AsgHooks {
  readonly desiredByGroup = new Map<string, number>();
  readonly writes: [string, number][] = [];
  desired(group: string): Promise<number | null> {
    return Promise.resolve(this.desiredByGroup.get(group) ?? null);
  }
  setDesired(group: string, desired: number): Promise<void> {
    this.writes.push([group, desired]);
    this.desiredByGroup.set(group, desired);
    return Promise.resolve();
  }
}

test("an early node: a desired capacity raised from outside launches a node, and the autoscaler counts it", async () => {
  const asgs = new FakeAsgs();
  asgs.desiredByGroup.set("spot-a", 2);
  asgs.desiredByGroup.set("spot-b", 2);
  // A surge pod pending from time zero, one per node (its group's nodes all hold one).
  const surge = pod("default/app-surge", { onePerNode: true, groups: ["spot-a"] });
  const h = harness({
    events: [{ at: 1, kind: "rebalance", nodes: {} }],
    settings: { nodeJoinSeconds: 40, autoscaler: { enabled: true, maxNodesPerGroup: 10, reactSeconds: 10 } },
    pendingPods: () => Promise.resolve(joined(h.cloud) > 0 ? [] : [surge]),
    asg: asgs,
  });
  await using cloud = h.cloud;
  cloud.start();
  // lifeboat's early node at the notice (second 2): SetDesiredCapacity 2 -> 3, before the autoscaler reacts.
  while (cloud.now() < 2) await new Promise((r) => setTimeout(r, 5));
  asgs.desiredByGroup.set("spot-a", 3);
  while (joined(cloud) < 1) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 50));
  await cloud.settled();
  const raised = first(cloud.timeline, "asg-scale-up");
  assert.ok(raised.at < 10, `the raise is seen within a scan, at ${raised.at}`);
  assert.match(raised.detail, /spot-a.*2 -> 3/);
  // The node on its way absorbs the pending pod: cluster-autoscaler adds nothing on top.
  assert.equal(cloud.timeline.filter((e) => e.kind === "autoscaler-scale-up").length, 0);
  assert.deepEqual(
    h.lab.added.map((s) => s.nodeGroup),
    ["spot-a"],
  );
  const joinedAt = first(cloud.timeline, "node-joined").at;
  assert.ok(joinedAt < 10 + 40, `joined at ${joinedAt}: earlier than the autoscaler's react + join`);
  assert.deepEqual(asgs.writes, [], "nothing written back: the raise was not the simulator's");
});

test("without an early node the autoscaler scales up and writes the group's desired capacity back", async () => {
  const asgs = new FakeAsgs();
  asgs.desiredByGroup.set("spot-a", 2);
  asgs.desiredByGroup.set("spot-b", 2);
  const surge = pod("default/app-surge", { onePerNode: true, groups: ["spot-a"] });
  const h = harness({
    events: [{ at: 1, kind: "rebalance", nodes: {} }],
    settings: { nodeJoinSeconds: 40, autoscaler: { enabled: true, maxNodesPerGroup: 10, reactSeconds: 10 } },
    pendingPods: () => Promise.resolve(joined(h.cloud) > 0 ? [] : [surge]),
    asg: asgs,
  });
  await using cloud = h.cloud;
  cloud.start();
  while (joined(cloud) < 1) await new Promise((r) => setTimeout(r, 20));
  await cloud.settled();
  assert.equal(cloud.timeline.filter((e) => e.kind === "autoscaler-scale-up").length, 1);
  assert.equal(cloud.timeline.filter((e) => e.kind === "asg-scale-up").length, 0);
  assert.deepEqual(asgs.writes, [["spot-a", 3]]);
  assert.ok(first(cloud.timeline, "node-joined").at >= 10 + 40 - SLACK);
});

test("pendingPodOf reads groups, CPU and one-per-node from an unschedulable pod", () => {
  const p = pendingPodOf({
    metadata: { name: "app-x", namespace: "default", labels: { app: "app" } },
    spec: {
      containers: [
        { name: "app", resources: { requests: { cpu: "250m" } } },
        { name: "side", resources: { requests: { cpu: "1" } } },
      ],
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  { key: "eks.amazonaws.com/nodegroup", operator: "In", values: ["spot-a", "spot-b"] },
                ],
              },
            ],
          },
        },
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { labelSelector: { matchLabels: { app: "app" } }, topologyKey: "kubernetes.io/hostname" },
          ],
        },
      },
    },
    status: {
      phase: "Pending",
      conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable" }],
    },
  });
  assert.deepEqual(p, {
    name: "default/app-x",
    workload: "app",
    groups: ["spot-a", "spot-b"],
    cpuMilli: 1250,
    onePerNode: true,
  });
  assert.equal(pendingPodOf({ metadata: { name: "x" }, spec: { containers: [], nodeName: "n" } }), null);
  assert.equal(
    pendingPodOf({
      metadata: { name: "x" },
      spec: { containers: [] },
      status: { conditions: [{ type: "PodScheduled", status: "False", reason: "SchedulingGated" }] },
    }),
    null,
  );
});
