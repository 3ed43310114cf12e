import { test } from "node:test";
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { podReadiness, statusPatch, type ContainerView, type OwnedStatus } from "./pod-status.ts";
import { condition, pod } from "./testing/pods.ts";

const NOW = new Date("2026-11-24T12:00:00Z");
const GATE = "target-health.elbv2.k8s.aws/web-tgb";

function view(ready: boolean, name = "app"): ContainerView {
  return {
    name,
    image: "lab/app:1",
    state: { kind: "running", startedAt: new Date("2026-11-24T11:59:00Z") },
    ready,
  };
}

function owned(containers: ContainerView[]): OwnedStatus {
  return {
    phase: "Running",
    hostIP: "10.0.1.10",
    podIP: "10.244.1.2",
    startTime: new Date("2026-11-24T11:58:00Z"),
    containers,
  };
}

type PatchedCondition = { type: string; status: string; reason: string | null; lastTransitionTime: string };

function conditionsOf(patch: ReturnType<typeof statusPatch>): PatchedCondition[] {
  assert.ok(patch !== null, "expected a patch");
  return patch.status["conditions"] as PatchedCondition[];
}

/** The pod as the API server would return it after applying the patch (conditions merged by type). */
function applied(before: V1Pod, patch: ReturnType<typeof statusPatch>): V1Pod {
  assert.ok(patch !== null);
  const merged = new Map((before.status?.conditions ?? []).map((c) => [c.type, c]));
  for (const c of conditionsOf(patch)) {
    merged.set(c.type, {
      type: c.type,
      status: c.status,
      ...(c.reason === null ? {} : { reason: c.reason }),
      lastTransitionTime: new Date(c.lastTransitionTime),
    });
  }
  const status = patch.status as NonNullable<V1Pod["status"]>;
  return { ...before, status: { ...status, conditions: [...merged.values()] } };
}

test("Ready needs every container ready", () => {
  assert.deepEqual(podReadiness(pod(), [view(true), view(false, "sidecar")]), {
    ready: false,
    reason: "ContainersNotReady",
    message: "containers with unready status: [sidecar]",
  });
  assert.deepEqual(podReadiness(pod(), [view(true)]), { ready: true });
});

test("Ready waits for every readiness gate condition to be True", () => {
  const missing = podReadiness(pod({ readinessGates: [GATE] }), [view(true)]);
  assert.equal(missing.ready, false);
  assert.match(missing.ready ? "" : missing.message, /does not exist/);

  const falseGate = podReadiness(pod({ readinessGates: [GATE], conditions: [condition(GATE, "False")] }), [
    view(true),
  ]);
  assert.equal(falseGate.ready ? "" : falseGate.reason, "ReadinessGatesNotReady");

  assert.deepEqual(
    podReadiness(pod({ readinessGates: [GATE], conditions: [condition(GATE, "True")] }), [view(true)]),
    { ready: true },
  );
});

test("the patch writes only the runtime's conditions, never a readiness gate's", () => {
  const patch = statusPatch(
    pod({
      readinessGates: [GATE],
      conditions: [condition("PodScheduled", "True"), condition(GATE, "False")],
    }),
    owned([view(true)]),
    NOW,
  );
  const types = conditionsOf(patch).map((c) => c.type);
  assert.deepEqual(types, ["Initialized", "ContainersReady", "Ready"]);
  const ready = conditionsOf(patch).find((c) => c.type === "Ready");
  assert.equal(ready?.status, "False");
  assert.equal(ready?.reason, "ReadinessGatesNotReady");
});

test("PodScheduled is filled in only when the scheduler's is missing", () => {
  const types = conditionsOf(statusPatch(pod({ conditions: [] }), owned([view(false)]), NOW)).map(
    (c) => c.type,
  );
  assert.deepEqual(types, ["PodScheduled", "Initialized", "ContainersReady", "Ready"]);
});

test("no patch once the API status matches; a new patch when readiness changes", () => {
  const before = pod();
  const first = statusPatch(before, owned([view(false)]), NOW);
  const after = applied(before, first);
  assert.equal(statusPatch(after, owned([view(false)]), NOW), null);
  const second = statusPatch(after, owned([view(true)]), new Date("2026-11-24T12:00:30Z"));
  const ready = conditionsOf(second).find((c) => c.type === "Ready");
  assert.equal(ready?.status, "True");
  assert.equal(ready?.lastTransitionTime, "2026-11-24T12:00:30Z");
  const initialized = conditionsOf(second).find((c) => c.type === "Initialized");
  assert.equal(
    initialized?.lastTransitionTime,
    "2026-11-24T12:00:00Z",
    "an unchanged condition keeps its transition time",
  );
});

test("a gate turning True makes the next patch set Ready True", () => {
  const gated = pod({
    readinessGates: [GATE],
    conditions: [condition("PodScheduled", "True"), condition(GATE, "False")],
  });
  const notYet = applied(gated, statusPatch(gated, owned([view(true)]), NOW));
  assert.equal(statusPatch(notYet, owned([view(true)]), NOW), null);
  const gateTrue: V1Pod = {
    ...notYet,
    status: {
      ...notYet.status,
      conditions: (notYet.status?.conditions ?? []).map((c) =>
        c.type === GATE ? { ...c, status: "True" } : c,
      ),
    },
  };
  const ready = conditionsOf(statusPatch(gateTrue, owned([view(true)]), NOW)).find((c) => c.type === "Ready");
  assert.equal(ready?.status, "True");
});

test("container statuses follow the container's state", () => {
  const patch = statusPatch(
    pod(),
    {
      ...owned([]),
      phase: "Pending",
      containers: [
        {
          name: "app",
          image: "lab/app:1",
          state: { kind: "waiting", reason: "ContainerCreating" },
          ready: false,
        },
      ],
    },
    NOW,
  );
  assert.ok(patch !== null);
  assert.equal(patch.status["phase"], "Pending");
  assert.deepEqual((patch.status["containerStatuses"] as { state: unknown; started: boolean }[])[0]?.state, {
    waiting: { reason: "ContainerCreating" },
  });
});
