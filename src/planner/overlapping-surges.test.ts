/**
 * Overlapping surges of one Deployment: each surge is judged on its own terms, never by the sum of all of them,
 * so one replacement that is slow or cannot be placed does not keep every other surge open (the pile-up of
 * issue 17: a Deployment left at 5x its count when evacuations overlapped on a slow control plane).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Evacuation } from "../domain/evacuation.ts";
import type { Step } from "../domain/plan.ts";
import type { ClusterSnapshot } from "../domain/snapshot.ts";
import {
  SECOND,
  T0,
  aCordonedNode,
  aDeployment,
  aNode,
  aPod,
  aSnapshot,
  aSurgeRecord,
  anEvacuation,
} from "../../test/fixtures/snapshot-builders.ts";
import { DEFAULT_BUDGETS } from "./budgets.ts";
import { DEFAULT_POLICY } from "./policy.ts";
import { planEvacuations } from "./planner.ts";

const COST = { "controller.kubernetes.io/pod-deletion-cost": String(DEFAULT_BUDGETS.deletionCost) };

function plan(snapshot: ClusterSnapshot, evacuations: Evacuation[], now: number): Step[] {
  return planEvacuations({ snapshot, evacuations, now, budgets: DEFAULT_BUDGETS, policy: DEFAULT_POLICY })
    .steps;
}

function outline(steps: Step[]): string[] {
  return steps.map((s) => {
    switch (s.kind) {
      case "retire":
        return `retire -${s.by} ${s.records.map((r) => r.evacuation).join()}${s.replacementsReady ? " ready" : " gone"}`;
      case "evict":
        return `evict ${s.pod.name}${s.atLastResponsibleMoment ? " at-lrm" : ""}`;
      case "wait":
        return `wait ${s.subject}`;
      default:
        return s.kind;
    }
  });
}

/**
 * web (4 replicas) with web-0 on node-a (reclaimed at T0, deadline T0 + 120 s) and web-1 on node-b (reclaimed
 * at T0 + 20 s, deadline T0 + 140 s), one surge of +1 each; spec.replicas 6. The replacements on node-c are
 * given by `replacements`: [created at, Ready].
 */
function twoSurges(opts: { web0: "serving" | "gone"; replacements: [number, boolean][] }): {
  snapshot: ClusterSnapshot;
  evacuations: Evacuation[];
} {
  const pods = [
    ...(opts.web0 === "serving" ? [aPod({ name: "web-0", annotations: COST })] : []),
    aPod({ name: "web-1", nodeName: "node-b", annotations: COST }),
    aPod({ name: "web-2", nodeName: "node-c" }),
    aPod({ name: "web-3", nodeName: "node-c" }),
    ...opts.replacements.map(([created, ready], i) =>
      aPod({ name: `web-r${i}`, nodeName: "node-c", createdAt: T0 + created * SECOND, ready }),
    ),
  ];
  const snapshot = aSnapshot({
    nodes: [aCordonedNode(), aCordonedNode({ name: "node-b" }), aNode({ name: "node-c" })],
    pods,
    workloads: [aDeployment({ specReplicas: 6 })],
  });
  const evacuations = [
    anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0"] })], phase: "Surging" }),
    anEvacuation({
      nodeName: "node-b",
      noticedAt: T0 + 20 * SECOND,
      deadline: T0 + 140 * SECOND,
      surges: [aSurgeRecord({ pods: ["web-1"], issuedAt: T0 + 21 * SECOND })],
      phase: "Surging",
    }),
  ];
  return { snapshot, evacuations };
}

describe("overlapping surges of one Deployment", () => {
  test("a surge whose doomed pod left at its LRM is taken back at once while the other surge's replacement never becomes Ready; the other comes back once its own pod has left", () => {
    // web-0 was evicted at its LRM; node-c has room for one replacement only: web-r0 Ready, web-r1 never.
    const first = twoSurges({
      web0: "gone",
      replacements: [
        [2, true],
        [22, false],
      ],
    });
    const atA = plan(first.snapshot, first.evacuations, T0 + 90 * SECOND);
    assert.deepEqual(outline(atA), ["retire -1 evac-node-a gone", "wait Deployment/shop/web"]);

    // web-1's LRM (deadline 140 s - drain 30 s - margin 10 s): it is evicted, its replacement still not Ready.
    const evacuations = first.evacuations.map((e) =>
      e.nodeName === "node-a"
        ? { ...e, surges: e.surges.map((r) => ({ ...r, retiredAt: T0 + 90 * SECOND })) }
        : e,
    );
    const snapshot = { ...first.snapshot, workloads: [aDeployment({ specReplicas: 5 })] };
    assert.deepEqual(outline(plan(snapshot, evacuations, T0 + 100 * SECOND)), [
      "evict web-1 at-lrm",
      "complete",
      "wait Deployment/shop/web",
    ]);

    // Once web-1 is gone its surge comes back too: spec.replicas returns to 4, the count before both surges.
    const after = {
      ...snapshot,
      pods: snapshot.pods.map((p) => (p.name === "web-1" ? { ...p, deleting: true } : p)),
    };
    const steps = plan(after, evacuations, T0 + 101 * SECOND);
    assert.deepEqual(outline(steps), ["retire -1 evac-node-b gone", "complete", "wait node-b"]);
  });

  test("a surge whose replacement is Ready is retired while another surge of the workload still waits: its doomed pod is evicted (no dip), its surge taken back once it is gone", () => {
    const { snapshot, evacuations } = twoSurges({
      web0: "serving",
      replacements: [
        [2, true],
        [22, false],
      ],
    });
    const steps = plan(snapshot, evacuations, T0 + 30 * SECOND);
    assert.deepEqual(outline(steps), ["evict web-0", "wait Deployment/shop/web"]);

    const gone = { ...snapshot, pods: snapshot.pods.filter((p) => p.name !== "web-0") };
    assert.deepEqual(outline(plan(gone, evacuations, T0 + 31 * SECOND)), [
      "retire -1 evac-node-a gone",
      "wait Deployment/shop/web",
    ]);
  });

  test("both replacements Ready: one scale-down for both surges, as for a single one", () => {
    const { snapshot, evacuations } = twoSurges({
      web0: "serving",
      replacements: [
        [2, true],
        [22, true],
      ],
    });
    assert.deepEqual(outline(plan(snapshot, evacuations, T0 + 40 * SECOND)), [
      "retire -2 evac-node-a,evac-node-b ready",
    ]);
  });

  test("one Ready replacement retires one surge, not two: Ready capacity never drops below the count wanted", () => {
    // Only web-r1 is Ready, and it came up after both surges: it replaces one doomed pod, not two.
    const { snapshot, evacuations } = twoSurges({
      web0: "serving",
      replacements: [
        [22, true],
        [23, false],
      ],
    });
    const steps = plan(snapshot, evacuations, T0 + 40 * SECOND);
    assert.deepEqual(outline(steps), ["evict web-0", "wait Deployment/shop/web"]);
    // With web-0 gone, the Ready pods are web-1 (still serving), web-2, web-3 and web-r1: the 4 wanted.
  });
});
