/**
 * The planner at the edges of an evacuation: a PodDisruptionBudget at the last responsible moment (issue 7
 * item 16), node marks as configured (item 11), workloads that go away (item 4), giving up (item 5), time to
 * live and taint-only (item 6), an expired prewarm (item 7).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Evacuation } from "../domain/evacuation.ts";
import type { Plan, Step } from "../domain/plan.ts";
import { EXCLUDE_FROM_LB_LABEL, POD_DELETION_COST_ANNOTATION } from "../domain/plan.ts";
import type { ClusterSnapshot } from "../domain/snapshot.ts";
import {
  SECOND,
  T0,
  aCordonedNode,
  aDeployment,
  aNode,
  aPdb,
  aPod,
  aSnapshot,
  aSurgeRecord,
  anEvacuation,
  ownedBy,
} from "../../test/fixtures/snapshot-builders.ts";
import { stepsWithoutReasons } from "../../test/fixtures/plan-assertions.ts";
import { DEFAULT_BUDGETS } from "./budgets.ts";
import { describePlan } from "./describe.ts";
import { planEvacuations } from "./planner.ts";
import { DEFAULT_POLICY, type PlanPolicy } from "./policy.ts";

function plan(
  snapshot: ClusterSnapshot,
  evacuations: Evacuation[],
  now: number,
  policy: Partial<PlanPolicy> = {},
): Plan {
  return planEvacuations({
    snapshot: withMarks(snapshot, evacuations),
    evacuations,
    now,
    budgets: DEFAULT_BUDGETS,
    policy: { ...DEFAULT_POLICY, ...policy },
  });
}

/**
 * The snapshot as it is once the surges' mark-doomed steps ran: every pod a surge record names carries the
 * deletion cost (how marks are planned is tested in planner.test.ts; these tests are about the endings).
 */
function withMarks(snapshot: ClusterSnapshot, evacuations: readonly Evacuation[]): ClusterSnapshot {
  const named = new Set(evacuations.flatMap((e) => e.surges.flatMap((r) => r.pods)));
  const cost = String(DEFAULT_BUDGETS.deletionCost);
  return {
    ...snapshot,
    pods: snapshot.pods.map((p) =>
      named.has(p.name)
        ? { ...p, annotations: { ...p.annotations, [POD_DELETION_COST_ANNOTATION]: cost } }
        : p,
    ),
  };
}

/** `kind target` per step, e.g. `delete web-0`, `retire Deployment/shop/web -2`: what happens, not why. */
function outline(steps: Step[]): string[] {
  return steps.map((s) => {
    switch (s.kind) {
      case "evict":
        return `evict ${s.pod.name}${s.atLastResponsibleMoment ? " at-lrm" : ""}`;
      case "delete":
        return `delete ${s.pod.name} over ${s.pdbs.join(",")}`;
      case "surge":
        return `surge ${s.workload.name} +${s.by}`;
      case "retire":
        return `retire ${s.workload.name} -${s.by}`;
      case "mark-doomed":
        return `mark ${s.workload.name} ${s.pods.join(",")}`;
      case "hand-back":
        return `hand-back ${s.workload.name} ${s.cause} ${s.records.map((r) => `${r.evacuation}#${r.index}`).join(",")}`;
      case "cordon":
      case "uncordon":
      case "taint-prefer-no-schedule":
      case "taint-out-of-service":
      case "clear-request":
      case "request-node":
        return `${s.kind} ${s.node}`;
      case "warn":
        return `warn ${s.code}`;
      case "wait":
        return `wait ${s.subject}`;
      case "complete":
      case "fail":
      case "forget":
        return `${s.kind} ${s.evacuation}`;
      case "force-delete":
        return `force-delete ${s.pod.name}`;
    }
  });
}

/**
 * Two nodes reclaimed 40 s apart (the run of issue 7 item 16): web-0 on node-a (deadline T0 + 120 s), web-1
 * on node-c (deadline T0 + 160 s), one surge each; replicas 4 + 2. The replacement for web-0 is Ready, the
 * one for web-1 is not, so PDB `maxUnavailable: 1` (expected 6, 5 healthy needed, 5 healthy) allows nothing.
 */
function twoReclaimsWithPdb(): { snapshot: ClusterSnapshot; evacuations: Evacuation[] } {
  const snapshot = aSnapshot({
    nodes: [aCordonedNode(), aCordonedNode({ name: "node-c" }), aNode({ name: "node-b" })],
    pods: [
      aPod({ name: "web-0" }),
      aPod({ name: "web-1", nodeName: "node-c" }),
      aPod({ name: "web-2", nodeName: "node-b" }),
      aPod({ name: "web-3", nodeName: "node-b" }),
      aPod({ name: "web-4", nodeName: "node-b", createdAt: T0 + 2 * SECOND }),
      aPod({ name: "web-5", nodeName: "node-b", createdAt: T0 + 42 * SECOND, ready: false }),
    ],
    workloads: [aDeployment({ specReplicas: 6, readyReplicas: 5 })],
    pdbs: [aPdb({ disruptionsAllowed: 0 })],
  });
  const evacuations = [
    anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0"] })], phase: "Surging" }),
    anEvacuation({
      nodeName: "node-c",
      noticedAt: T0 + 40 * SECOND,
      deadline: T0 + 160 * SECOND,
      surges: [aSurgeRecord({ pods: ["web-1"], issuedAt: T0 + 41 * SECOND })],
      phase: "Surging",
    }),
  ];
  return { snapshot, evacuations };
}

describe("a PodDisruptionBudget at the last responsible moment (item 16)", () => {
  const lrmA = T0 + 80 * SECOND; // deadline 120 s - drain max(25, 20) + 5 - margin 10

  test("before the LRM the plan waits and says in advance that the PDB will be overridden", () => {
    const { snapshot, evacuations } = twoReclaimsWithPdb();
    const result = plan(snapshot, evacuations, lrmA - 10 * SECOND);

    assert.deepEqual(outline(result.steps), ["wait Deployment/shop/web"]);
    const lines = describePlan(result, lrmA - 10 * SECOND);
    assert.match(lines[0] ?? "", /PodDisruptionBudget shop\/web allows no disruption now/);
    assert.match(lines[0] ?? "", /deleted anyway/);
  });

  test("at the LRM a pod the PDB would refuse is deleted gracefully, naming the PDB; the other node's pod waits", () => {
    const { snapshot, evacuations } = twoReclaimsWithPdb();
    const result = plan(snapshot, evacuations, lrmA);

    assert.deepEqual(outline(result.steps), ["delete web-0 over shop/web", "wait Deployment/shop/web"]);
    const del = result.steps[0];
    assert.ok(del?.kind === "delete");
    assert.equal(del.evacuation, "evac-node-a");
    assert.match(del.reason, /PodDisruptionBudget shop\/web allows no disruption now/);
    // Not a "will be refused and retried" warning: nothing is retried at the LRM.
    assert.equal(
      result.steps.some((s) => s.kind === "warn" && s.code === "PdbBlocksEviction"),
      false,
    );
  });

  test("at the LRM with a PDB that allows a disruption: an eviction, marked so that a late refusal is overridden", () => {
    const { snapshot, evacuations } = twoReclaimsWithPdb();
    snapshot.pdbs = [aPdb({ disruptionsAllowed: 1 })];

    assert.deepEqual(outline(plan(snapshot, evacuations, lrmA).steps), [
      "evict web-0 at-lrm",
      "wait Deployment/shop/web",
    ]);
  });

  test("a PDB of another app or namespace does not count", () => {
    const { snapshot, evacuations } = twoReclaimsWithPdb();
    snapshot.pdbs = [
      aPdb({ name: "db", matchLabels: { app: "db" }, disruptionsAllowed: 0 }),
      aPdb({ namespace: "other", disruptionsAllowed: 0 }),
    ];

    assert.deepEqual(outline(plan(snapshot, evacuations, lrmA).steps), [
      "evict web-0 at-lrm",
      "wait Deployment/shop/web",
    ]);
  });

  test("a StatefulSet pod is evicted at once (a refusal retried) until its LRM, then deleted over the PDB", () => {
    const snapshot = aSnapshot({
      nodes: [aCordonedNode()],
      pods: [aPod({ name: "db-0", owner: ownedBy("StatefulSet", "db"), labels: { app: "db" } })],
      pdbs: [aPdb({ name: "db", matchLabels: { app: "db" }, disruptionsAllowed: 0 })],
    });

    assert.deepEqual(outline(plan(snapshot, [anEvacuation()], T0 + 2 * SECOND).steps), [
      "evict db-0",
      "warn PdbBlocksEviction",
    ]);
    assert.deepEqual(outline(plan(snapshot, [anEvacuation()], lrmA).steps), ["delete db-0 over shop/db"]);
  });
});

describe("node marks as configured (item 11)", () => {
  test("a node cordoned with a custom taint key and no LB label is not cordoned again", () => {
    const custom = { taintKey: "example.com/draining", excludeFromLb: false };
    const node = aNode({
      unschedulable: true,
      taints: [{ key: "example.com/draining", effect: "NoSchedule" }],
    });
    const snapshot = aSnapshot({ nodes: [node] });

    assert.deepEqual(stepsWithoutReasons(plan(snapshot, [anEvacuation()], T0 + SECOND, custom).steps), [
      { kind: "complete", evacuation: "evac-node-a" },
    ]);
    // The default key on the same node is not the configured one: cordon (the executor writes the custom key).
    const cordon = plan(aSnapshot({ nodes: [aNode({ unschedulable: true })] }), [anEvacuation()], T0, custom)
      .steps[0];
    assert.ok(cordon?.kind === "cordon");
    assert.match(cordon.reason, /taint example\.com\/draining:NoSchedule so nothing new lands here/);
    assert.doesNotMatch(cordon.reason, new RegExp(EXCLUDE_FROM_LB_LABEL));
  });

  test("taint-only with a custom key is done once that key is on the node", () => {
    const evac = anEvacuation({ mode: "taint-only", deadline: null, noticeKind: "rebalance-recommendation" });
    const tainted = aSnapshot({
      nodes: [aNode({ taints: [{ key: "example.com/draining", effect: "PreferNoSchedule" }] })],
    });

    assert.deepEqual(outline(plan(tainted, [evac], T0, { taintKey: "example.com/draining" }).steps), [
      "complete evac-node-a",
    ]);
    assert.deepEqual(outline(plan(tainted, [evac], T0).steps), ["taint-prefer-no-schedule node-a"]);
  });
});

describe("a workload that goes away mid-evacuation (item 4)", () => {
  /** web-0 on node-a surged +1 (replicas 5), replacement not Ready yet. */
  function surgedOne(): { snapshot: ClusterSnapshot; evac: Evacuation } {
    return {
      snapshot: aSnapshot({
        nodes: [aCordonedNode(), aNode({ name: "node-b" })],
        pods: [
          aPod({ name: "web-0" }),
          aPod({ name: "web-4", nodeName: "node-b", createdAt: T0 + 2 * SECOND, ready: false }),
        ],
        workloads: [aDeployment({ specReplicas: 5 })],
      }),
      evac: anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0"] })], phase: "Surging" }),
    };
  }

  test("deleted: the surge is handed back; once its pods are gone the evacuation completes", () => {
    const { snapshot, evac } = surgedOne();
    snapshot.workloads = [];
    snapshot.pods = snapshot.pods.map((p) => ({ ...p, deleting: true, ready: false })); // cascading delete

    const first = plan(snapshot, [evac], T0 + 30 * SECOND);
    assert.deepEqual(outline(first.steps), ["hand-back web workload-gone evac-node-a#0", "wait node-a"]);
    assert.match(first.steps[0]?.reason ?? "", /Deployment\/shop\/web: it no longer exists/);

    const handedBack = {
      ...evac,
      surges: [
        aSurgeRecord({ pods: ["web-0"], retiredAt: T0 + 30 * SECOND, handedBackAt: T0 + 30 * SECOND }),
      ],
    };
    assert.deepEqual(
      outline(plan(aSnapshot({ nodes: snapshot.nodes }), [handedBack], T0 + 40 * SECOND).steps),
      ["complete evac-node-a"],
    );
  });

  test("scaled to 0: handed back, never a scale below 0, and the pods the owner removes are not evicted", () => {
    const { snapshot, evac } = surgedOne();
    snapshot.workloads = [aDeployment({ specReplicas: 0, readyReplicas: 0 })];

    const steps = plan(snapshot, [evac], T0 + 30 * SECOND).steps;
    assert.deepEqual(outline(steps), [
      "hand-back web scaled-below-surge evac-node-a#0",
      "wait Deployment/shop/web",
    ]);
    assert.match(steps[0]?.reason ?? "", /someone scaled it to 0, below the 1 lifeboat added/);
  });

  test("scaled below the surge but not to 0: handed back, then a doomed pod still there is surged afresh", () => {
    const { snapshot, evac } = surgedOne();
    snapshot.workloads = [aDeployment({ specReplicas: 0 })];
    plan(snapshot, [evac], T0 + 30 * SECOND);
    // The owner set 2 meanwhile; the handed-back record no longer covers web-0.
    snapshot.workloads = [aDeployment({ specReplicas: 2 })];
    const handedBack = {
      ...evac,
      surges: [
        aSurgeRecord({ pods: ["web-0"], retiredAt: T0 + 30 * SECOND, handedBackAt: T0 + 30 * SECOND }),
      ],
    };

    const steps = plan(snapshot, [handedBack], T0 + 31 * SECOND).steps;
    assert.deepEqual(outline(steps).slice(0, 1), ["surge web +1"]);
  });
});

describe("giving up (item 5)", () => {
  const giveUp = T0 + (120 + 900) * SECOND;

  test("still active 900 s after its deadline: surges retired without waiting, nothing evicted; then Failed", () => {
    const snapshot = aSnapshot({
      nodes: [aCordonedNode(), aNode({ name: "node-b" })],
      pods: [
        aPod({ name: "web-0", deleting: true }), // stuck terminating (a finalizer, say)
        aPod({ name: "web-4", nodeName: "node-b", createdAt: T0 + 2 * SECOND, ready: false }),
        aPod({ name: "db-0", owner: ownedBy("StatefulSet", "db") }),
      ],
      workloads: [aDeployment({ specReplicas: 5 })],
    });
    const evac = anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0"] })], phase: "Surging" });

    const before = plan(snapshot, [evac], giveUp - SECOND);
    assert.equal(
      before.steps.some((s) => s.kind === "fail"),
      false,
    );

    const first = plan(snapshot, [evac], giveUp);
    assert.deepEqual(outline(first.steps), ["retire web -1"]);
    assert.match(first.steps[0]?.reason ?? "", /still not done 900 s after its deadline/);

    const retired = { ...evac, surges: [aSurgeRecord({ pods: ["web-0"], retiredAt: giveUp })] };
    const second = plan(snapshot, [retired], giveUp + SECOND);
    assert.deepEqual(outline(second.steps), ["fail evac-node-a"]);
    assert.match(second.steps[0]?.reason ?? "", /2 pods left on it \(shop\/web-0, shop\/db-0\)/);
  });

  test("a give-up whose workload is gone hands the surge back, then fails", () => {
    const evac = anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0"] })] });
    const snapshot = aSnapshot({ nodes: [] });

    assert.deepEqual(outline(plan(snapshot, [evac], giveUp).steps), [
      "hand-back web workload-gone evac-node-a#0",
    ]);
  });

  test("without a deadline the clock starts at the notice; a waiting prewarm never gives up (it expires)", () => {
    const manual = anEvacuation({ deadline: null, noticeKind: "manual", phase: "Cordoned" });
    const snapshot = aSnapshot({
      nodes: [aCordonedNode()],
      pods: [aPod({ name: "db-0", owner: ownedBy("Job", "db"), deleting: true })],
    });

    assert.deepEqual(outline(plan(snapshot, [manual], T0 + 900 * SECOND).steps), ["fail evac-node-a"]);
    assert.equal(plan(snapshot, [manual], T0 + 899 * SECOND).nextReviewAt, T0 + 900 * SECOND);
  });
});

describe("finished evacuations and taint-only (item 6)", () => {
  test("a Done or Failed evacuation is forgotten once its time to live after finishing is over", () => {
    const done = anEvacuation({
      name: "done",
      phase: "Done",
      timeline: { noticedAt: T0, doneAt: T0 + 100 * SECOND },
    });
    const failed = anEvacuation({
      name: "failed",
      phase: "Failed",
      timeline: { noticedAt: T0, failedAt: T0 + 200 * SECOND },
    });
    const snapshot = aSnapshot({ nodes: [aNode()] });
    const ttl = { ttlSecondsAfterFinished: 3600 };

    const early = plan(snapshot, [done, failed], T0 + 3699 * SECOND, ttl);
    assert.deepEqual(early.steps, []);
    assert.equal(early.nextReviewAt, T0 + 3700 * SECOND);
    assert.deepEqual(outline(plan(snapshot, [done, failed], T0 + 3700 * SECOND, ttl).steps), ["forget done"]);
    assert.deepEqual(outline(plan(snapshot, [done, failed], T0 + 3800 * SECOND, ttl).steps), [
      "forget done",
      "forget failed",
    ]);
  });

  test("a node annotation served by a finished evacuation is removed before the record is forgotten", () => {
    const request = { value: "10m", noticeId: "annotation/node-a/10m" };
    const done = anEvacuation({
      name: "done",
      phase: "Done",
      noticeKind: "manual",
      noticeIds: [request.noticeId],
      timeline: { noticedAt: T0, doneAt: T0 + 100 * SECOND },
    });
    const annotated = aSnapshot({ nodes: [aCordonedNode({ evacuateRequest: request })] });
    const ttl = { ttlSecondsAfterFinished: 0 };

    const first = plan(annotated, [done], T0 + 101 * SECOND, ttl);
    assert.deepEqual(outline(first.steps), ["clear-request node-a"]);
    assert.match(
      first.steps[0]?.reason ?? "",
      /lifeboat\.dev\/evacuate=10m on node node-a was served by evacuation done/,
    );
    const cleared = aSnapshot({ nodes: [aCordonedNode()] });
    assert.deepEqual(outline(plan(cleared, [done], T0 + 102 * SECOND, ttl).steps), ["forget done"]);

    // Still evacuating: the request is being served. A new value is a new request (the intake records it).
    const active = { ...done, phase: "Cordoned" as const, timeline: { noticedAt: T0 } };
    assert.ok(
      !plan(annotated, [active], T0 + 101 * SECOND, ttl).steps.some((s) => s.kind === "clear-request"),
    );
    const renewed = aSnapshot({
      nodes: [aCordonedNode({ evacuateRequest: { value: "5m", noticeId: "annotation/node-a/5m" } })],
    });
    assert.deepEqual(outline(plan(renewed, [done], T0 + 101 * SECOND, ttl).steps), ["forget done"]);
    const unreadable = aSnapshot({
      nodes: [aCordonedNode({ evacuateRequest: { value: "soon", noticeId: null } })],
    });
    assert.deepEqual(outline(plan(unreadable, [done], T0 + 101 * SECOND, ttl).steps), ["forget done"]);
  });

  test("a finished evacuation's records no longer cover its pods: a new evacuation surges them", () => {
    const snapshot = aSnapshot({
      nodes: [aCordonedNode(), aNode({ name: "node-b" })],
      pods: [aPod({ name: "web-0" }), aPod({ name: "web-2", nodeName: "node-b" })],
      workloads: [aDeployment({ specReplicas: 2 })],
    });
    const undone = anEvacuation({
      name: "old",
      mode: "prewarm",
      deadline: null,
      phase: "Done",
      surges: [aSurgeRecord({ pods: ["web-0"], retiredAt: T0 + 1800 * SECOND })],
      timeline: { noticedAt: T0, doneAt: T0 + 1801 * SECOND },
    });
    const fresh = anEvacuation({ name: "new", noticedAt: T0 + 2000 * SECOND, deadline: T0 + 2120 * SECOND });

    assert.deepEqual(outline(plan(snapshot, [undone, fresh], T0 + 2001 * SECOND).steps).slice(0, 1), [
      "surge web +1",
    ]);
  });
});

describe("a prewarm that expires (item 7)", () => {
  const expiry = T0 + 1800 * SECOND;
  const prewarm = anEvacuation({
    mode: "prewarm",
    deadline: null,
    noticeKind: "rebalance-recommendation",
    phase: "Surging",
    surges: [aSurgeRecord({ pods: ["web-0"] })],
  });
  /** node-a (cordoned by lifeboat) holds web-0 (surged, replacement web-4 Ready), db-0 and a bare pod. */
  function warmed(): ClusterSnapshot {
    return aSnapshot({
      nodes: [aCordonedNode(), aNode({ name: "node-b" })],
      pods: [
        aPod({ name: "web-0" }),
        aPod({ name: "web-4", nodeName: "node-b", createdAt: T0 + 2 * SECOND }),
        aPod({ name: "db-0", owner: ownedBy("StatefulSet", "db") }),
        aPod({ name: "debug", owner: null }),
      ],
      workloads: [aDeployment({ specReplicas: 2, readyReplicas: 2 })],
    });
  }

  test("is undone: the surge retired, nothing evicted (not the StatefulSet pod, not the bare pod), the node uncordoned, then Done", () => {
    assert.equal(plan(warmed(), [prewarm], expiry - SECOND).nextReviewAt, expiry);

    const first = plan(warmed(), [prewarm], expiry);
    assert.deepEqual(outline(first.steps), ["retire web -1"]);
    assert.match(first.steps[0]?.reason ?? "", /saw no interruption warning within 1800 s/);

    const retired = { ...prewarm, surges: [aSurgeRecord({ pods: ["web-0"], retiredAt: expiry })] };
    const after = warmed();
    after.pods = after.pods.filter((p) => p.name !== "web-0");
    after.workloads = [aDeployment({ specReplicas: 1, readyReplicas: 1 })];
    // Long after the retire check: the undo never evicts what the ReplicaSet kept either.
    assert.deepEqual(outline(plan(after, [retired], expiry + 60 * SECOND).steps), ["uncordon node-a"]);

    after.nodes = [aNode(), aNode({ name: "node-b" })];
    assert.deepEqual(outline(plan(after, [retired], expiry + 61 * SECOND).steps), ["complete evac-node-a"]);
  });

  test("a node cordoned by someone else (no lifeboat taint) is left cordoned", () => {
    const retired = { ...prewarm, surges: [aSurgeRecord({ pods: ["web-0"], retiredAt: expiry })] };
    const snapshot = warmed();
    snapshot.nodes = [aNode({ unschedulable: true }), aNode({ name: "node-b" })];

    assert.deepEqual(outline(plan(snapshot, [retired], expiry + SECOND).steps), ["complete evac-node-a"]);
  });

  test("a warning that arrives before the expiry turns it into an evacuation as before", () => {
    const warned = { ...prewarm, deadline: expiry + 100 * SECOND, noticeKind: "spot-interruption" as const };

    assert.deepEqual(outline(plan(warmed(), [warned], expiry + SECOND).steps), [
      "retire web -1",
      "evict db-0",
      "wait shop/debug",
    ]);
  });
});

describe("a rollout in progress (item 9)", () => {
  /** web-0 on node-a surged +1 (replicas 5); during the rollout new-template pods web-n1, web-n2 came up. */
  function midRollout(rollingOut: boolean): ClusterSnapshot {
    return aSnapshot({
      nodes: [aCordonedNode(), aNode({ name: "node-b" })],
      pods: [
        aPod({ name: "web-0" }),
        aPod({ name: "web-2", nodeName: "node-b" }),
        aPod({ name: "web-3", nodeName: "node-b" }),
        aPod({ name: "web-n1", nodeName: "node-b", createdAt: T0 + 5 * SECOND }),
        aPod({ name: "web-n2", nodeName: "node-b", createdAt: T0 + 6 * SECOND }),
      ],
      workloads: [aDeployment({ specReplicas: 5, readyReplicas: 5, rollingOut })],
    });
  }
  const evac = anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0"] })], phase: "Surging" });

  test("pods the rollout brought up do not make the surge retire while it runs; the LRM still applies", () => {
    const waiting = plan(midRollout(true), [evac], T0 + 20 * SECOND);
    assert.deepEqual(outline(waiting.steps), ["wait Deployment/shop/web"]);
    assert.match(waiting.steps[0]?.reason ?? "", /a rollout is in progress/);

    assert.deepEqual(outline(plan(midRollout(true), [evac], T0 + 80 * SECOND).steps), [
      "evict web-0 at-lrm",
      "wait Deployment/shop/web",
    ]);
  });

  test("once the rollout has finished the surge is retired as usual", () => {
    assert.deepEqual(outline(plan(midRollout(false), [evac], T0 + 20 * SECOND).steps), ["retire web -1"]);
  });
});

describe("someone else scales during a surge (item 8)", () => {
  /** web-0 on node-a surged +1: lifeboat wrote 5 (ledger); web-4 is the unready replacement. */
  function surged(specReplicas: number): ClusterSnapshot {
    return aSnapshot({
      nodes: [aCordonedNode(), aNode({ name: "node-b" })],
      pods: [
        aPod({ name: "web-0" }),
        aPod({ name: "web-2", nodeName: "node-b" }),
        aPod({ name: "web-3", nodeName: "node-b" }),
        aPod({ name: "web-5", nodeName: "node-b" }),
        aPod({ name: "web-4", nodeName: "node-b", createdAt: T0 + 2 * SECOND, ready: false }),
      ],
      workloads: [aDeployment({ specReplicas, ledgerReplicas: 5 })],
    });
  }
  const evac = anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0"] })], phase: "Surging" });

  test("the count lifeboat wrote still stands: wait, then retire as usual", () => {
    assert.deepEqual(outline(plan(surged(5), [evac], T0 + 20 * SECOND).steps), ["wait Deployment/shop/web"]);
  });

  test("scaled up by an HPA (7): the surge is handed back, not retired below their count", () => {
    const snapshot = surged(7);
    snapshot.pods = snapshot.pods.map((p) => (p.name === "web-4" ? { ...p, ready: true } : p));
    const steps = plan(snapshot, [evac], T0 + 20 * SECOND).steps;
    assert.deepEqual(outline(steps), [
      "hand-back web scaled-by-someone-else evac-node-a#0",
      "wait Deployment/shop/web",
    ]);
    assert.match(steps[0]?.reason ?? "", /scaled it to 7 since lifeboat wrote 5/);
  });

  test("scaled down by a person (4): handed back; the doomed pod still there is surged afresh on top of 4", () => {
    assert.deepEqual(outline(plan(surged(4), [evac], T0 + 20 * SECOND).steps), [
      "hand-back web scaled-by-someone-else evac-node-a#0",
      "wait Deployment/shop/web",
    ]);
    const handedBack = {
      ...evac,
      surges: [
        aSurgeRecord({ pods: ["web-0"], retiredAt: T0 + 20 * SECOND, handedBackAt: T0 + 20 * SECOND }),
      ],
    };
    const after = surged(4);
    after.workloads = [aDeployment({ specReplicas: 4, ledgerReplicas: 4 })];
    assert.deepEqual(outline(plan(after, [handedBack], T0 + 21 * SECOND).steps).slice(0, 1), [
      "surge web +1",
    ]);
  });
});
