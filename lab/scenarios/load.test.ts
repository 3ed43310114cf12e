import { test } from "node:test";
import assert from "node:assert/strict";
import { stringify } from "yaml";
import {
  isWorkloadEvent,
  deploymentFixture,
  listScenarios,
  loadScenario,
  nodeGroupSpecs,
  parseScenario,
  ScenarioError,
} from "./load.ts";
import type { ScenarioInput } from "./load.ts";
import { deployment } from "../workloads.ts";

/** A minimal valid scenario; tests override one field at a time. */
function scenarioInput(overrides: Partial<ScenarioInput> = {}): ScenarioInput {
  return {
    name: "tiny",
    description: "a tiny scenario",
    cluster: { nodeGroups: [{ name: "spot-a", zone: "us-east-1a", count: 2 }] },
    workloads: [{ name: "app", replicas: 2 }],
    traffic: { rps: 10, durationSeconds: 200, warmupSeconds: 10 },
    events: [{ at: 20, kind: "spot-reclaim", nodes: {} }],
    ...overrides,
  };
}

function issuesOf(input: unknown): { path: string; message: string }[] {
  try {
    parseScenario(stringify(input), "test.yaml");
  } catch (err) {
    assert.ok(err instanceof ScenarioError, `expected ScenarioError, got ${String(err)}`);
    assert.match(err.message, /scenario test\.yaml is invalid/);
    return [...err.issues];
  }
  assert.fail("expected the scenario to be rejected");
}

test("every shipped scenario validates", async () => {
  const names = await listScenarios();
  assert.deepEqual(names, [
    "az-reclaim",
    "capacity-starved",
    "overlapping-reclaims",
    "pdb-two-reclaims",
    "rebalance",
    "rollout-during-surge",
    "scale-during-surge",
    "seed",
    "seed-full",
    "single-reclaim",
    "single-reclaim-instance",
  ]);
  for (const name of names) {
    const s = await loadScenario(name);
    assert.equal(s.name, name);
    assert.ok(s.events.length > 0);
  }
});

test("single-reclaim-instance is single-reclaim with instance-mode target groups", async () => {
  const instance = await loadScenario("single-reclaim-instance");
  const ip = await loadScenario("single-reclaim");
  assert.equal(instance.cluster.albTargetType, "instance");
  assert.equal(ip.cluster.albTargetType, "ip");
  assert.deepEqual(instance.workloads, ip.workloads);
  assert.deepEqual(instance.events, ip.events);
});

test("seed carries the seed's Deployment and cloud timings", async () => {
  const s = await loadScenario("seed");
  const app = s.workloads[0]!;
  assert.equal(app.preStopSeconds, 20);
  assert.deepEqual(app.readiness, {
    initialDelaySeconds: 60,
    periodSeconds: 10,
    failureThreshold: 2,
    timeoutSeconds: 10,
  });
  assert.equal(app.terminationGracePeriodSeconds, 120);
  assert.equal(app.pullSeconds, 10);
  assert.equal(s.cloud.nodeJoinSeconds, 70);
  assert.equal(s.cloud.noticeLeadSeconds, 120);
  assert.equal(s.cluster.nodeGroups.length, 3);
  assert.ok(s.cluster.nodeGroups.every((g) => g.capacityType === "SPOT"));
  // Spare room: more nodes than one-per-node replicas.
  const nodes = s.cluster.nodeGroups.reduce((n, g) => n + g.count, 0);
  assert.ok(app.onePerNode && nodes > app.replicas);
});

test("rebalance comes 10 minutes before the reclaim and runs in minutes by default", async () => {
  const s = await loadScenario("rebalance");
  const e = s.events[0]!;
  assert.equal(e.kind, "rebalance");
  assert.equal(e.kind === "rebalance" ? e.reclaimAfterSeconds : undefined, 600);
  assert.ok(s.traffic.durationSeconds * s.timeScale <= 180, "default run longer than 3 minutes");
});

test("capacity-starved has no spare room for a one-per-node replacement", async () => {
  const s = await loadScenario("capacity-starved");
  const nodes = s.cluster.nodeGroups.reduce((n, g) => n + g.count, 0);
  assert.equal(nodes, s.workloads[0]!.replicas);
  assert.equal(s.workloads[0]!.onePerNode, true);
});

test("seed-full is the seed's Deployment pinned to one node group with every node full", async () => {
  const full = await loadScenario("seed-full");
  const seed = await loadScenario("seed");
  const app = full.workloads[0]!;
  const { nodeGroups: _pinned, replicas: _r, ...rest } = app;
  const { nodeGroups: _none, replicas: _r2, ...seedRest } = seed.workloads[0]!;
  assert.deepEqual(rest, seedRest, "the seed's pod spec");
  assert.deepEqual(app.nodeGroups, [full.cluster.nodeGroups[0]!.name]);
  assert.equal(full.cluster.nodeGroups.length, 1);
  assert.equal(full.cluster.nodeGroups[0]!.count, app.replicas, "one pod per node, no spare node");
  assert.equal(full.cloud.nodeJoinSeconds, 70);
  assert.deepEqual(full.expect.lifeboat?.max5xx, 0);
  assert.deepEqual(full.expect.lifeboat?.minReadyRatioAtLeast, 1);
});

test("defaults are filled in: the seed's timings, GUESS defaults for the cloud", () => {
  const s = parseScenario(stringify(scenarioInput()));
  assert.equal(s.timeScale, 1);
  assert.equal(s.cluster.albTargetType, "ip");
  assert.equal(s.cluster.nodeGroups[0]!.instanceType, "m5.xlarge");
  assert.equal(s.workloads[0]!.preStopSeconds, 20);
  assert.equal(s.cloud.eventDeliverySeconds, 2);
  assert.deepEqual(s.cloud.autoscaler, { enabled: true, maxNodesPerGroup: 10, reactSeconds: 10 });
  assert.deepEqual(s.expect, {});
});

test("a bad field is reported with its path", () => {
  const input = scenarioInput({
    workloads: [
      {
        name: "app",
        replicas: 2,
        readiness: { initialDelaySeconds: 1, periodSeconds: -1, failureThreshold: 2 },
      },
    ],
  });
  const issues = issuesOf(input);
  assert.deepEqual(
    issues.map((i) => i.path),
    ["workloads[0].readiness.periodSeconds"],
  );
});

test("unknown fields, unknown event kinds and missing fields are named", () => {
  assert.deepEqual(
    issuesOf({ ...scenarioInput(), trafic: {} }).map((i) => i.path),
    ["(root)"],
  );
  assert.match(issuesOf({ ...scenarioInput(), trafic: {} })[0]!.message, /trafic/);
  const badKind = issuesOf(scenarioInput({ events: [{ at: 20, kind: "meteor" } as never] }));
  assert.equal(badKind[0]!.path, "events[0].kind");
  const noDescription: Record<string, unknown> = { ...scenarioInput() };
  delete noDescription["description"];
  assert.deepEqual(
    issuesOf(noDescription).map((i) => i.path),
    ["description"],
  );
});

test("references to node groups and zones must exist", () => {
  const issues = issuesOf(
    scenarioInput({
      workloads: [{ name: "app", replicas: 1, nodeGroups: ["spot-z"] }],
      events: [
        { at: 20, kind: "spot-reclaim", nodes: { group: "nope" } },
        { at: 20, kind: "az-reclaim", zone: "eu-west-1a", share: 0.3 },
      ],
    }),
  );
  assert.deepEqual(
    issues.map((i) => i.path),
    ["workloads[0].nodeGroups[0]", "events[0].nodes.group", "events[1].zone"],
  );
});

test("event times must fit between the warmup and the end of traffic", () => {
  const early = issuesOf(scenarioInput({ events: [{ at: 5, kind: "spot-reclaim" }] }));
  assert.equal(early[0]!.path, "events[0].at");
  assert.match(early[0]!.message, /warmupSeconds/);
  const late = issuesOf(scenarioInput({ events: [{ at: 100, kind: "spot-reclaim" }] }));
  assert.match(late[0]!.message, /deadline \(220 s\) falls after traffic.durationSeconds \(200\)/);
});

test("count and share are exclusive; a PDB sets exactly one bound", () => {
  const both = issuesOf(
    scenarioInput({ events: [{ at: 20, kind: "spot-reclaim", nodes: { count: 1, share: 0.5 } }] }),
  );
  assert.equal(both[0]!.path, "events[0].nodes");
  const pdb = issuesOf(scenarioInput({ workloads: [{ name: "app", replicas: 2, pdb: {} }] }));
  assert.equal(pdb[0]!.path, "workloads[0].pdb");
});

test("YAML syntax errors and duplicate keys are ScenarioErrors", () => {
  assert.throws(
    () => parseScenario("name: [unclosed", "broken.yaml"),
    (err: unknown) => err instanceof ScenarioError && err.issues[0]!.path === "(yaml)",
  );
  assert.throws(() => parseScenario("name: a\nname: b\n", "dup.yaml"), ScenarioError);
});

test("a missing file is a ScenarioError naming the path", async () => {
  await assert.rejects(
    loadScenario("no-such-scenario"),
    (err: unknown) => err instanceof ScenarioError && err.source.endsWith("no-such-scenario.yaml"),
  );
});

test("a workload maps onto the lab's deployment() fixture", async () => {
  const s = await loadScenario("seed");
  const d = deployment(deploymentFixture(s.workloads[0]!));
  const pod = d.spec!.template.spec!;
  const container = pod.containers[0]!;
  assert.equal(d.spec!.replicas, 4);
  assert.equal(pod.terminationGracePeriodSeconds, 120);
  assert.equal(container.readinessProbe!.initialDelaySeconds, 60);
  assert.deepEqual(container.lifecycle!.preStop!.exec!.command, ["sh", "-c", "sleep 20 && echo 1"]);
  assert.equal(d.spec!.template.metadata!.annotations!["lab.lifeboat.dev/pull-seconds"], "10");
  assert.ok(pod.affinity!.podAntiAffinity !== undefined);
  assert.deepEqual(
    nodeGroupSpecs(s).map((g) => g.name),
    ["spot-a", "spot-b", "spot-c"],
  );
});

test("scale and rollout events name a workload of the scenario; the cloud simulator leaves them to the runner", () => {
  const ok = parseScenario(
    stringify(
      scenarioInput({
        events: [
          { at: 20, kind: "spot-reclaim" },
          { at: 40, kind: "scale", workload: "app", replicas: 0 },
          { at: 50, kind: "rollout", workload: "app" },
        ],
      }),
    ),
  );
  assert.deepEqual(
    ok.events.filter(isWorkloadEvent).map((e) => `${e.kind} ${e.workload}`),
    ["scale app", "rollout app"],
  );
  const unknown = issuesOf(
    scenarioInput({ events: [{ at: 20, kind: "scale", workload: "web", replicas: 2 }] }),
  );
  assert.deepEqual(
    unknown.map((i) => `${i.path}: ${i.message}`),
    ["events[0].workload: no workload named web"],
  );
  const negative = issuesOf(
    scenarioInput({ events: [{ at: 20, kind: "scale", workload: "app", replicas: -1 }] }),
  );
  assert.equal(negative[0]?.path, "events[0].replicas");
});
