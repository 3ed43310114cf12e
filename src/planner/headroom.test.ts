import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HEADROOM_LABEL, type HeadroomSettings } from "../domain/headroom.ts";
import type { NodeView, PodView } from "../domain/snapshot.ts";
import { aNode, aPod, ownedBy } from "../../test/fixtures/snapshot-builders.ts";
import { planHeadroom } from "./headroom.ts";

const MI = 2 ** 20;
const GI = 2 ** 30;
const DEFAULTS: HeadroomSettings = { nodes: 1, scope: "node-group", cpuMilli: null, memoryBytes: null };
/** aNode's allocatable: 4000m CPU, 16 GiB. */
const WHOLE_NODE = { cpuMilli: 4000, memoryBytes: 16 * GI };

function node(name: string, group: string, zone = "us-east-1a", extra: Partial<NodeView> = {}): NodeView {
  return aNode({ name, nodeGroup: group, zone, labels: { "eks.amazonaws.com/nodegroup": group }, ...extra });
}

function app(name: string, on: string, cpuMilli = 1000, memoryBytes = 512 * MI): PodView {
  return aPod({ name, nodeName: on, requests: { cpuMilli, memoryBytes } });
}

function daemon(name: string, on: string): PodView {
  return aPod({
    name,
    namespace: "kube-system",
    nodeName: on,
    owner: ownedBy("DaemonSet", "aws-node", "kube-system"),
    requests: { cpuMilli: 130, memoryBytes: 100 * MI },
  });
}

function placeholder(name: string, on: string | null, group: string): PodView {
  return aPod({
    name,
    namespace: "lifeboat-system",
    nodeName: on,
    owner: ownedBy("Deployment", `lifeboat-headroom-ng-${group}`, "lifeboat-system"),
    labels: { [HEADROOM_LABEL]: group },
    requests: WHOLE_NODE,
  });
}

/** The seed's cluster with every node full: one pod per node, three nodes in one node group, no spare node. */
const SEED_FULL = {
  nodes: [node("n1", "spot"), node("n2", "spot"), node("n3", "spot")],
  pods: [app("web-0", "n1"), app("web-1", "n2"), app("web-2", "n3")],
};

describe("planHeadroom", () => {
  test("no spare node: one placeholder that fills a whole node of the group", () => {
    const plan = planHeadroom({ snapshot: SEED_FULL, settings: DEFAULTS });
    assert.equal(plan.sets.length, 1);
    const [set] = plan.sets;
    assert.equal(set?.name, "lifeboat-headroom-ng-spot");
    assert.equal(set?.labelKey, "eks.amazonaws.com/nodegroup");
    assert.equal(set?.labelValue, "spot");
    assert.equal(set?.replicas, 1);
    assert.deepEqual(set?.requests, WHOLE_NODE);
  });

  test("a whole node is the smallest node's room after its DaemonSet pods, rounded down to 100m and 64 MiB", () => {
    const small = node("n4", "spot", "us-east-1a", {
      allocatable: { cpuMilli: 3920, memoryBytes: 15 * GI, pods: 110 },
    });
    const snapshot = {
      nodes: [...SEED_FULL.nodes, small],
      pods: [...SEED_FULL.pods, daemon("aws-node-1", "n1"), daemon("aws-node-4", "n4")],
    };
    const [set] = planHeadroom({ snapshot, settings: DEFAULTS }).sets;
    // n4: 3920 - 130 = 3790 -> 3700m; 15 GiB - 100 MiB -> rounded down to 64 MiB steps.
    assert.deepEqual(set?.requests, { cpuMilli: 3700, memoryBytes: 15 * GI - 128 * MI });
  });

  test("never less than the largest node's worth of pods lifeboat surges", () => {
    const snapshot = {
      nodes: [node("n1", "spot"), node("n2", "spot")],
      pods: [
        app("a-0", "n1", 2500, 10 * GI),
        app("b-0", "n1", 2560, 8 * GI),
        app("a-1", "n2", 300, 300 * MI),
      ],
    };
    const [set] = planHeadroom({ snapshot, settings: DEFAULTS }).sets;
    // n1 holds 5060m and 18 GiB: more than a 4000m / 16 GiB node.
    assert.deepEqual(set?.requests, { cpuMilli: 5100, memoryBytes: 18 * GI });
  });

  test("an empty schedulable node (DaemonSets aside) is spare: no placeholder needed", () => {
    const snapshot = {
      nodes: [...SEED_FULL.nodes, node("n4", "spot")],
      pods: [...SEED_FULL.pods, daemon("aws-node-4", "n4"), daemon("aws-node-1", "n1")],
    };
    const [set] = planHeadroom({ snapshot, settings: DEFAULTS }).sets;
    assert.equal(set?.replicas, 0);
  });

  test("a cordoned, tainted or NotReady empty node is not spare", () => {
    for (const extra of [
      { unschedulable: true },
      { ready: false },
      { taints: [{ key: "x", effect: "NoSchedule" as const }] },
    ]) {
      const snapshot = {
        nodes: [...SEED_FULL.nodes, node("n4", "spot", "us-east-1a", extra)],
        pods: SEED_FULL.pods,
      };
      assert.equal(
        planHeadroom({ snapshot, settings: DEFAULTS }).sets[0]?.replicas,
        1,
        JSON.stringify(extra),
      );
    }
  });

  test("a node held by a placeholder is not spare, so the placeholder stays (no flapping)", () => {
    const snapshot = {
      nodes: [...SEED_FULL.nodes, node("n4", "spot")],
      pods: [...SEED_FULL.pods, placeholder("ph-0", "n4", "spot")],
    };
    const [set] = planHeadroom({ snapshot, settings: DEFAULTS }).sets;
    assert.equal(set?.replicas, 1);
    assert.deepEqual(set?.requests, WHOLE_NODE, "placeholders are not sized in as workload");
  });

  test("after a surge preempted the placeholder, its node holds a workload pod: still one placeholder wanted", () => {
    const snapshot = {
      nodes: [...SEED_FULL.nodes, node("n4", "spot")],
      pods: [...SEED_FULL.pods, app("web-3", "n4"), placeholder("ph-1", null, "spot")],
    };
    assert.equal(planHeadroom({ snapshot, settings: DEFAULTS }).sets[0]?.replicas, 1);
  });

  test("one set per node group that runs surgeable pods; groups with none get nothing", () => {
    const snapshot = {
      nodes: [node("a1", "spot-a"), node("b1", "spot-b"), node("c1", "batch")],
      pods: [
        app("web-0", "a1"),
        app("web-1", "b1"),
        aPod({ name: "job-0", nodeName: "c1", owner: ownedBy("Job", "nightly") }),
      ],
    };
    const plan = planHeadroom({ snapshot, settings: DEFAULTS });
    assert.deepEqual(
      plan.sets.map((s) => [s.labelValue, s.replicas]),
      [
        ["spot-a", 1],
        ["spot-b", 1],
      ],
    );
  });

  test("scope zone: one set per zone, selecting the zone label", () => {
    const snapshot = {
      nodes: [
        node("a1", "spot-a", "us-east-1a"),
        node("a2", "spot-b", "us-east-1a"),
        node("b1", "spot-c", "us-east-1b"),
      ],
      pods: [app("web-0", "a1"), app("web-1", "a2"), app("web-2", "b1")],
    };
    const plan = planHeadroom({ snapshot, settings: { ...DEFAULTS, scope: "zone" } });
    assert.deepEqual(
      plan.sets.map((s) => [s.name, s.labelKey, s.labelValue, s.replicas]),
      [
        ["lifeboat-headroom-zone-us-east-1a", "topology.kubernetes.io/zone", "us-east-1a", 1],
        ["lifeboat-headroom-zone-us-east-1b", "topology.kubernetes.io/zone", "us-east-1b", 1],
      ],
    );
  });

  test("Karpenter NodePools are node groups too", () => {
    const snapshot = {
      nodes: [aNode({ name: "k1", labels: { "karpenter.sh/nodepool": "default" } })],
      pods: [app("web-0", "k1")],
    };
    const [set] = planHeadroom({ snapshot, settings: DEFAULTS }).sets;
    assert.equal(set?.labelKey, "karpenter.sh/nodepool");
    assert.equal(set?.labelValue, "default");
  });

  test("fixed size and more nodes: the settings win over the computed size", () => {
    const settings = { nodes: 2, scope: "node-group" as const, cpuMilli: 2000, memoryBytes: 4096 * MI };
    const [set] = planHeadroom({ snapshot: SEED_FULL, settings }).sets;
    assert.equal(set?.replicas, 2);
    assert.deepEqual(set?.requests, { cpuMilli: 2000, memoryBytes: 4096 * MI });
  });

  test("with a fixed size, an empty node too small for it is not spare", () => {
    const small = node("n4", "spot", "us-east-1a", {
      allocatable: { cpuMilli: 500, memoryBytes: 16 * GI, pods: 110 },
    });
    const snapshot = { nodes: [...SEED_FULL.nodes, small], pods: SEED_FULL.pods };
    const settings = { ...DEFAULTS, cpuMilli: 1000, memoryBytes: 512 * MI };
    assert.equal(planHeadroom({ snapshot, settings }).sets[0]?.replicas, 1);
  });

  test("nodes 0 turns headroom off", () => {
    assert.deepEqual(planHeadroom({ snapshot: SEED_FULL, settings: { ...DEFAULTS, nodes: 0 } }), {
      sets: [],
    });
  });
});
