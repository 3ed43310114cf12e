import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Evacuation } from "../domain/evacuation.ts";
import type { Plan, Step } from "../domain/plan.ts";
import { EVACUATING_TAINT_KEY, OUT_OF_SERVICE_TAINT, POD_DELETION_COST_ANNOTATION } from "../domain/plan.ts";
import type { ClusterSnapshot, PodView } from "../domain/snapshot.ts";
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
import { stepsWithoutReasons, withoutReason, withoutReasons } from "../../test/fixtures/plan-assertions.ts";
import { DEFAULT_BUDGETS, lastResponsibleMoment } from "./budgets.ts";
import { DEFAULT_POLICY } from "./policy.ts";
import { planEvacuations } from "./planner.ts";

function plan(snapshot: ClusterSnapshot, evacuations: Evacuation[], now: number): Plan {
  return planEvacuations({ snapshot, evacuations, now, budgets: DEFAULT_BUDGETS, policy: DEFAULT_POLICY });
}

const WEB = ownedBy("Deployment", "web");
/** The default evacuation (deadline T0 + 120 s) gives up 900 s after its deadline: plans look again then. */
const GIVE_UP = T0 + 1020 * SECOND;

/** node-a doomed with web-0 and web-1; node-b healthy with web-2 and web-3; replicas 4. */
function twoOnA(extra: Partial<ClusterSnapshot> = {}): ClusterSnapshot {
  return aSnapshot({
    nodes: [aCordonedNode(), aNode({ name: "node-b" })],
    pods: [
      aPod({ name: "web-0" }),
      aPod({ name: "web-1" }),
      aPod({ name: "web-2", nodeName: "node-b" }),
      aPod({ name: "web-3", nodeName: "node-b" }),
    ],
    workloads: [aDeployment()],
    ...extra,
  });
}

/** twoOnA after a surge of +2 at T0 + 1 s: replicas 6, replacements web-4 and web-5 on node-b. */
function surged(replacementsReady: [boolean, boolean]): ClusterSnapshot {
  const base = twoOnA();
  return {
    ...base,
    pods: [
      // The surge's mark-doomed step put the deletion cost on the doomed pods.
      ...base.pods.map((p) => (p.nodeName === "node-a" ? marked(p) : p)),
      aPod({ name: "web-4", nodeName: "node-b", createdAt: T0 + 2 * SECOND, ready: replacementsReady[0] }),
      aPod({ name: "web-5", nodeName: "node-b", createdAt: T0 + 2 * SECOND, ready: replacementsReady[1] }),
    ],
    workloads: [
      aDeployment({ specReplicas: 6, readyReplicas: 4 + replacementsReady.filter(Boolean).length }),
    ],
  };
}

/** `pod` with the pod-deletion-cost a mark-doomed step puts on it. */
function marked(pod: PodView): PodView {
  return {
    ...pod,
    annotations: { ...pod.annotations, [POD_DELETION_COST_ANNOTATION]: String(DEFAULT_BUDGETS.deletionCost) },
  };
}

const surgedEvacuation = (): Evacuation =>
  anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0", "web-1"] })] });

describe("planEvacuations: Deployments surge then retire", () => {
  test("a fresh notice cordons, surges every doomed pod at once and waits; DaemonSet and mirror pods are skipped", () => {
    const now = T0 + 2 * SECOND;
    const snapshot = twoOnA({
      nodes: [aNode(), aNode({ name: "node-b" })],
    });
    snapshot.pods.push(
      aPod({
        name: "fluent-bit-a",
        namespace: "kube-system",
        owner: ownedBy("DaemonSet", "fluent-bit", "kube-system"),
      }),
      aPod({ name: "kube-proxy-node-a", namespace: "kube-system", owner: null, mirror: true }),
    );

    const result = plan(snapshot, [anEvacuation({ phase: "Pending" })], now);

    assert.deepEqual(withoutReasons(result), {
      steps: [
        { kind: "cordon", node: "node-a", evacuation: "evac-node-a" },
        {
          kind: "surge",
          workload: WEB,
          by: 2,
          pods: ["web-0", "web-1"],
          records: [{ evacuation: "evac-node-a", pods: ["web-0", "web-1"] }],
        },
        {
          // After every surge of the plan, off the notice-to-surge path.
          kind: "mark-doomed",
          workload: WEB,
          pods: ["web-0", "web-1"],
          deletionCost: -100000,
        },
        { kind: "wait", until: now + 5 * SECOND, subject: "Deployment/shop/web" },
      ],
      skipped: [
        { pod: { namespace: "kube-system", name: "fluent-bit-a" }, node: "node-a" },
        { pod: { namespace: "kube-system", name: "kube-proxy-node-a" }, node: "node-a" },
      ],
      nextReviewAt: now + 5 * SECOND,
    });
  });

  test("a restarted controller finds the surge record and does not surge again; it waits for the replacements", () => {
    const now = T0 + 30 * SECOND;
    const result = plan(surged([true, false]), [surgedEvacuation()], now);

    assert.deepEqual(withoutReasons(result), {
      steps: [{ kind: "wait", until: now + 5 * SECOND, subject: "Deployment/shop/web" }],
      skipped: [],
      nextReviewAt: now + 5 * SECOND,
    });
  });

  test("once the replacements are Ready it retires by exactly the surge (relative -k)", () => {
    const now = T0 + 30 * SECOND;
    const result = plan(surged([true, true]), [surgedEvacuation()], now);

    assert.deepEqual(withoutReasons(result), {
      steps: [
        {
          kind: "retire",
          workload: WEB,
          by: 2,
          pods: ["web-0", "web-1"],
          records: [{ evacuation: "evac-node-a", index: 0 }],
          replacementsReady: true,
        },
      ],
      skipped: [],
      nextReviewAt: GIVE_UP,
    });
  });

  test("replacements Ready but a doomed pod without the deletion cost: it is marked, and the scale-down waits until the snapshot shows the cost", () => {
    const now = T0 + 30 * SECOND;
    const base = surged([true, true]);
    const snapshot = {
      ...base,
      pods: base.pods.map((p) => (p.name === "web-1" ? { ...p, annotations: {} } : p)),
    };
    const steps = plan(snapshot, [surgedEvacuation()], now).steps;
    assert.deepEqual(
      steps.map((s) => (s.kind === "mark-doomed" ? `mark ${s.pods.join(",")}` : s.kind)),
      ["mark web-1", "wait"],
      "no retire: the ReplicaSet's informer may not have the cost yet and would remove a replacement",
    );
    assert.match(steps[1]?.kind === "wait" ? steps[1].reason : "", /scaling back once 1 doomed pod carry/);
  });

  test("an open surge whose doomed pods lost (or never got) the deletion cost is marked again, after the surges", () => {
    const now = T0 + 30 * SECOND;
    const base = surged([true, false]);
    const snapshot = {
      ...base,
      pods: base.pods.map((p) => (p.name === "web-0" ? { ...p, annotations: {} } : p)),
    };
    const steps = plan(snapshot, [surgedEvacuation()], now).steps;
    assert.deepEqual(
      steps.map((s) => (s.kind === "mark-doomed" ? `mark ${s.pods.join(",")}` : s.kind)),
      ["mark web-0", "wait"],
    );
  });

  test("an HPA that scaled up meanwhile does not stop the retire, and the retire stays -k", () => {
    const snapshot = surged([true, true]);
    snapshot.pods.push(aPod({ name: "web-6", nodeName: "node-b", createdAt: T0 + 5 * SECOND }));
    snapshot.workloads = [aDeployment({ specReplicas: 7, hpa: { min: 2, max: 10 } })];

    const steps = plan(snapshot, [surgedEvacuation()], T0 + 30 * SECOND).steps;

    assert.deepEqual(
      steps.map((s) => (s.kind === "retire" ? `${s.kind} -${s.by}` : s.kind)),
      ["retire -2"],
    );
  });

  test("a replacement whose creationTimestamp (whole seconds) reads before the surge's issuedAt still counts", () => {
    // Seen in the lab: surge issued at 12.619 s, the replacement's creationTimestamp says 12 s.
    const base = surged([true, true]);
    const snapshot = {
      ...base,
      pods: base.pods.map((p) =>
        p.name === "web-4" || p.name === "web-5" ? { ...p, createdAt: T0 + 12 * SECOND } : p,
      ),
    };
    const evacuation = anEvacuation({
      surges: [aSurgeRecord({ pods: ["web-0", "web-1"], issuedAt: T0 + 12_619 })],
    });

    const steps = plan(snapshot, [evacuation], T0 + 40 * SECOND).steps;

    assert.deepEqual(
      steps.map((s) => (s.kind === "retire" ? `${s.kind} -${s.by}` : s.kind)),
      ["retire -2"],
    );
  });

  test("a snapshot whose spec.replicas predates the surge does not retire (no fresh Ready replacements yet)", () => {
    const now = T0 + 3 * SECOND;
    const result = plan(twoOnA(), [surgedEvacuation()], now);

    // The snapshot does not show the marks either: they are written again (idempotent), nothing is retired.
    assert.deepEqual(
      result.steps.map((s) => s.kind),
      ["mark-doomed", "wait"],
    );
  });

  test("after a retire the ReplicaSet gets retireCheckSeconds; a doomed pod it kept is then evicted", () => {
    const retiredAt = T0 + 40 * SECOND;
    const evac = anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0", "web-1"], retiredAt })] });
    const snapshot = surged([true, true]);
    snapshot.workloads = [aDeployment({ specReplicas: 4 })];
    // The ReplicaSet deleted web-1 as intended but removed web-5 instead of web-0.
    snapshot.pods = snapshot.pods.filter((p) => p.name !== "web-5");
    const web1 = snapshot.pods.find((p) => p.name === "web-1");
    if (web1 !== undefined) web1.deleting = true;

    assert.deepEqual(withoutReasons(plan(snapshot, [evac], retiredAt + 2 * SECOND)), {
      steps: [{ kind: "wait", until: retiredAt + 5 * SECOND, subject: "shop/web-0" }],
      skipped: [],
      nextReviewAt: retiredAt + 5 * SECOND,
    });

    assert.deepEqual(withoutReasons(plan(snapshot, [evac], retiredAt + 6 * SECOND)), {
      steps: [
        {
          kind: "evict",
          pod: { namespace: "shop", name: "web-0" },
          node: "node-a",
          evacuation: "evac-node-a",
          atLastResponsibleMoment: false,
          overridePdb: false,
        },
      ],
      skipped: [],
      nextReviewAt: GIVE_UP,
    });
  });

  test("a scale-down the controller has not carried out yet is not judged after retireCheckSeconds: only once it counts no more pods than it wants, or after 60 s", () => {
    const retiredAt = T0 + 30 * SECOND;
    const evac = anEvacuation({
      deadline: T0 + 600 * SECOND,
      surges: [aSurgeRecord({ pods: ["web-0", "web-1"], retiredAt })],
    });
    const snapshot = surged([true, true]);
    const kinds = (statusReplicas: number, at: number): string[] => {
      snapshot.workloads = [aDeployment({ specReplicas: 4, statusReplicas })];
      return plan(snapshot, [evac], at).steps.map((s) =>
        `${s.kind} ${s.kind === "wait" ? s.subject : ""}`.trim(),
      );
    };
    // A busy controller-manager: 6 pods counted for 4 wanted, 10 s after the retire.
    assert.deepEqual(kinds(6, retiredAt + 10 * SECOND), ["wait shop/web-0", "wait shop/web-1"]);
    assert.match(
      plan(snapshot, [evac], retiredAt + 10 * SECOND).steps[0]?.reason ?? "",
      /counts 6 pods for 4 wanted: not carried out yet/,
    );
    // Carried out (4 counted) and the doomed pods still there: the ReplicaSet kept them.
    assert.deepEqual(kinds(4, retiredAt + 10 * SECOND), ["evict", "evict"]);
    // Never carried out: judged 60 s after the retire anyway.
    assert.deepEqual(kinds(6, retiredAt + 61 * SECOND), ["evict", "evict"]);
  });

  test("at the last responsible moment the doomed pods are evicted although replacements are not Ready", () => {
    const lrm = T0 + 80 * SECOND; // deadline 120 s - drain max(25, 20) + 5 - margin 10
    const result = plan(surged([true, false]), [surgedEvacuation()], lrm);

    assert.deepEqual(withoutReasons(result), {
      steps: [
        {
          kind: "evict",
          pod: { namespace: "shop", name: "web-0" },
          node: "node-a",
          evacuation: "evac-node-a",
          atLastResponsibleMoment: true,
          overridePdb: true,
        },
        {
          kind: "evict",
          pod: { namespace: "shop", name: "web-1" },
          node: "node-a",
          evacuation: "evac-node-a",
          atLastResponsibleMoment: true,
          overridePdb: true,
        },
        { kind: "wait", until: lrm + 5 * SECOND, subject: "Deployment/shop/web" },
      ],
      skipped: [],
      nextReviewAt: lrm + 5 * SECOND,
    });
  });

  test("the LRM follows the preStop: a 40 s preStop moves the pod out earlier than a 25 s one", () => {
    assert.equal(lastResponsibleMoment(T0 + 120 * SECOND, 40, DEFAULT_BUDGETS), T0 + 65 * SECOND);
    assert.equal(lastResponsibleMoment(T0 + 120 * SECOND, null, DEFAULT_BUDGETS), T0 + 85 * SECOND);
    assert.equal(lastResponsibleMoment(null, 40, DEFAULT_BUDGETS), null);

    const snapshot = surged([false, false]);
    const web0 = snapshot.pods.find((p) => p.name === "web-0");
    if (web0 !== undefined) web0.preStopSeconds = 40;
    const steps = plan(snapshot, [surgedEvacuation()], T0 + 70 * SECOND).steps;
    assert.deepEqual(
      steps.map((s) => (s.kind === "evict" ? `evict ${s.pod.name}` : s.kind)),
      ["evict web-0", "wait"],
    );
  });

  test("after the pods left at the LRM, the surge is taken back at once, its replacements Ready or not", () => {
    const snapshot = surged([true, false]);
    snapshot.pods = snapshot.pods.map((p) =>
      p.nodeName === "node-a" ? { ...p, deleting: true, ready: false } : p,
    );

    const steps = plan(snapshot, [surgedEvacuation()], T0 + 90 * SECOND).steps;

    assert.deepEqual(stepsWithoutReasons(steps)[0], {
      kind: "retire",
      workload: WEB,
      by: 2,
      pods: [],
      records: [{ evacuation: "evac-node-a", index: 0 }],
      replacementsReady: false,
    });
    assert.deepEqual(
      steps.map((s) => s.kind),
      ["retire", "wait"],
    );
  });

  test("without a deadline (manual evacuation) nothing is evicted however long the replacements take", () => {
    const evac = anEvacuation({
      deadline: null,
      noticeKind: "manual",
      surges: [aSurgeRecord({ pods: ["web-0", "web-1"] })],
    });
    const result = plan(surged([false, false]), [evac], T0 + 600 * SECOND);

    assert.deepEqual(withoutReasons(result), {
      steps: [{ kind: "wait", until: T0 + 605 * SECOND, subject: "Deployment/shop/web" }],
      skipped: [],
      nextReviewAt: T0 + 605 * SECOND,
    });
  });

  test("a Deployment missing from the snapshot is not surged: its pods are kept until the LRM like bare pods", () => {
    const snapshot = twoOnA({ workloads: [] });
    const steps = plan(snapshot, [anEvacuation()], T0 + 80 * SECOND).steps;

    assert.deepEqual(
      steps.map((s) => (s.kind === "evict" ? `evict ${s.pod.name}` : s.kind)),
      ["evict web-0", "evict web-1"],
    );
    assert.match(steps[0]?.reason ?? "", /Deployment\/shop\/web is not in the snapshot/);
  });
});

describe("planEvacuations: several nodes at once", () => {
  test("two notices together: both nodes cordoned first, one surge covering both, records per evacuation", () => {
    const now = T0 + 2 * SECOND;
    const snapshot = aSnapshot({
      nodes: [aNode(), aNode({ name: "node-b" }), aNode({ name: "node-c" })],
      pods: [
        aPod({ name: "web-0" }),
        aPod({ name: "web-1", nodeName: "node-b" }),
        aPod({ name: "web-2", nodeName: "node-c" }),
        aPod({ name: "web-3", nodeName: "node-c" }),
      ],
      workloads: [aDeployment()],
    });
    const evacA = anEvacuation({ phase: "Pending" });
    const evacB = anEvacuation({ nodeName: "node-b", phase: "Pending" });

    const steps = plan(snapshot, [evacA, evacB], now).steps;

    assert.deepEqual(
      steps.map((s) => (s.kind === "cordon" ? `cordon ${s.node}` : s.kind)),
      ["cordon node-a", "cordon node-b", "surge", "mark-doomed", "wait"],
    );
    const surge = steps[2];
    assert.equal(surge?.kind, "surge");
    if (surge?.kind !== "surge") return;
    assert.equal(surge.by, 2);
    assert.deepEqual(surge.records, [
      { evacuation: "evac-node-a", pods: ["web-0"] },
      { evacuation: "evac-node-b", pods: ["web-1"] },
    ]);
  });

  test("Ready pods on another evacuating node never count as replacements", () => {
    // node-b is being evacuated too; its pods are Ready but doomed.
    const snapshot = aSnapshot({
      nodes: [aCordonedNode(), aCordonedNode({ name: "node-b" }), aNode({ name: "node-c" })],
      pods: [
        aPod({ name: "web-0" }),
        aPod({ name: "web-1", nodeName: "node-b" }),
        aPod({ name: "web-2", nodeName: "node-c" }),
        aPod({ name: "web-3", nodeName: "node-c" }),
        aPod({ name: "web-4", nodeName: "node-b", createdAt: T0 + 2 * SECOND }),
        aPod({ name: "web-5", nodeName: "node-b", createdAt: T0 + 2 * SECOND }),
      ],
      workloads: [aDeployment({ specReplicas: 6 })],
    });
    const evacA = anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0"] })] });
    const evacB = anEvacuation({ nodeName: "node-b", surges: [aSurgeRecord({ pods: ["web-1"] })] });

    const steps = plan(snapshot, [evacA, evacB], T0 + 30 * SECOND).steps;

    // web-4 and web-5 landed on node-b before its notice: they are doomed themselves and get surged too.
    assert.deepEqual(
      steps.map((s) => (s.kind === "surge" ? `surge +${s.by} ${s.pods.join()}` : s.kind)),
      ["surge +2 web-4,web-5", "mark-doomed", "wait"],
    );
    assert.match(steps[2]?.reason ?? "", /\(2 Ready outside evacuating nodes, 4 wanted\)/);
  });

  test("a later notice for another node surges only the new pods, never the already-surged ones", () => {
    const snapshot = aSnapshot({
      nodes: [aCordonedNode(), aNode({ name: "node-b" }), aNode({ name: "node-c" })],
      pods: [
        aPod({ name: "web-0" }),
        aPod({ name: "web-1", nodeName: "node-b" }),
        aPod({ name: "web-2", nodeName: "node-c" }),
        aPod({ name: "web-3", nodeName: "node-c" }),
        aPod({ name: "web-4", nodeName: "node-c", createdAt: T0 + 2 * SECOND }),
      ],
      workloads: [aDeployment({ specReplicas: 5 })],
    });
    const evacA = anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0"] })] });
    const evacB = anEvacuation({
      nodeName: "node-b",
      noticedAt: T0 + 20 * SECOND,
      deadline: T0 + 140 * SECOND,
    });

    const steps = plan(snapshot, [evacA, evacB], T0 + 21 * SECOND).steps;

    // web-0's replacement is Ready, but web-1 is doomed now too: nothing is retired until its replacement is.
    assert.deepEqual(
      steps.map((s) =>
        s.kind === "cordon"
          ? `cordon ${s.node}`
          : s.kind === "surge"
            ? `surge +${s.by} ${s.pods.join()}`
            : s.kind,
      ),
      ["cordon node-b", "surge +1 web-1", "mark-doomed", "wait"],
    );
    const surge = steps[1];
    assert.deepEqual(surge?.kind === "surge" ? surge.records : null, [
      { evacuation: "evac-node-b", pods: ["web-1"] },
    ]);
  });

  test("a workload is never surged and retired in the same plan", () => {
    // web-0 was surged and then evicted at its LRM; its replacements are Ready; now node-b's notice dooms web-1.
    const snapshot = aSnapshot({
      nodes: [aCordonedNode(), aNode({ name: "node-b" }), aNode({ name: "node-c" })],
      pods: [
        aPod({ name: "web-0", deleting: true }),
        aPod({ name: "web-1", nodeName: "node-b" }),
        aPod({ name: "web-2", nodeName: "node-c" }),
        aPod({ name: "web-3", nodeName: "node-c" }),
        aPod({ name: "web-4", nodeName: "node-c", createdAt: T0 + 2 * SECOND }),
        aPod({ name: "web-5", nodeName: "node-c", createdAt: T0 + 81 * SECOND }),
      ],
      workloads: [aDeployment({ specReplicas: 5 })],
    });
    const evacA = anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0"] })] });
    const evacB = anEvacuation({
      nodeName: "node-b",
      noticedAt: T0 + 90 * SECOND,
      deadline: T0 + 210 * SECOND,
    });

    const steps = plan(snapshot, [evacA, evacB], T0 + 91 * SECOND).steps;

    // Retiring now would let the ReplicaSet remove web-1's fresh, unready replacement first.
    assert.deepEqual(
      steps.map((s) => (s.kind === "surge" ? `surge +${s.by} ${s.pods.join()}` : s.kind)),
      ["cordon", "surge +1 web-1", "mark-doomed", "wait", "wait"],
    );
    assert.deepEqual(
      steps.filter((s) => s.kind === "wait").map((s) => s.subject),
      ["Deployment/shop/web", "node-a"],
    );
  });
});

describe("planEvacuations: what cannot surge", () => {
  test("StatefulSet and Job pods are evicted at once, right after the cordon; other owners too", () => {
    const snapshot = aSnapshot({
      nodes: [aNode()],
      pods: [
        aPod({ name: "db-0", owner: ownedBy("StatefulSet", "db"), labels: { app: "db" } }),
        aPod({ name: "report-x1", owner: ownedBy("Job", "report"), labels: {} }),
        aPod({ name: "rollout-1", owner: ownedBy("Other", "canary"), labels: {} }),
      ],
    });

    const result = plan(snapshot, [anEvacuation({ phase: "Pending" })], T0 + 2 * SECOND);
    const evict = (name: string) => ({
      kind: "evict" as const,
      pod: { namespace: "shop", name },
      node: "node-a",
      evacuation: "evac-node-a",
      atLastResponsibleMoment: false,
      overridePdb: false,
    });

    assert.deepEqual(withoutReasons(result), {
      steps: [
        { kind: "cordon", node: "node-a", evacuation: "evac-node-a" },
        evict("db-0"),
        evict("report-x1"),
        evict("rollout-1"),
      ],
      skipped: [],
      nextReviewAt: GIVE_UP,
    });
  });

  test("a bare pod keeps serving until its last responsible moment, then is evicted", () => {
    const snapshot = aSnapshot({
      nodes: [aCordonedNode()],
      pods: [aPod({ name: "debug", owner: null, labels: {} })],
    });
    const lrm = T0 + 80 * SECOND;

    assert.deepEqual(withoutReasons(plan(snapshot, [anEvacuation()], T0 + 10 * SECOND)), {
      steps: [{ kind: "wait", until: lrm, subject: "shop/debug" }],
      skipped: [],
      nextReviewAt: lrm,
    });
    assert.deepEqual(stepsWithoutReasons(plan(snapshot, [anEvacuation()], lrm).steps), [
      {
        kind: "evict",
        pod: { namespace: "shop", name: "debug" },
        node: "node-a",
        evacuation: "evac-node-a",
        atLastResponsibleMoment: true,
        overridePdb: true,
      },
    ]);
  });

  test("without a deadline a bare pod goes last, once the rest of the node has moved", () => {
    const snapshot = twoOnA();
    snapshot.pods.push(aPod({ name: "debug", owner: null, labels: {} }));
    const surging = anEvacuation({
      deadline: null,
      noticeKind: "manual",
      surges: [aSurgeRecord({ pods: ["web-0", "web-1"] })],
    });

    const waiting = stepsWithoutReasons(plan(snapshot, [surging], T0 + 10 * SECOND).steps).find(
      (s) => s.kind === "wait" && s.subject === "shop/debug",
    );
    assert.deepEqual(waiting, { kind: "wait", until: null, subject: "shop/debug" });

    const moved = aSnapshot({
      nodes: [aCordonedNode()],
      pods: [aPod({ name: "debug", owner: null, labels: {} })],
    });
    const retired = anEvacuation({
      deadline: null,
      surges: [aSurgeRecord({ pods: ["web-0", "web-1"], retiredAt: T0 + 60 * SECOND })],
    });
    assert.deepEqual(
      plan(moved, [retired], T0 + 70 * SECOND).steps.map((s) =>
        s.kind === "evict" ? `evict ${s.pod.name}` : s.kind,
      ),
      ["evict debug"],
    );
  });

  test("a PDB that allows no disruption now is noted beside the eviction it will block", () => {
    const snapshot = aSnapshot({
      nodes: [aCordonedNode()],
      pods: [aPod({ name: "db-0", owner: ownedBy("StatefulSet", "db"), labels: { app: "db" } })],
      pdbs: [
        aPdb({ name: "db", matchLabels: { app: "db" }, disruptionsAllowed: 0 }),
        aPdb({ name: "web", disruptionsAllowed: 0 }),
      ],
    });

    const steps = plan(snapshot, [anEvacuation()], T0 + 2 * SECOND).steps;

    assert.deepEqual(stepsWithoutReasons(steps)[1], {
      kind: "warn",
      code: "PdbBlocksEviction",
      subject: "PodDisruptionBudget/shop/db",
    });
    assert.deepEqual(
      steps.map((s) => s.kind),
      ["evict", "warn"],
    );
  });
});

describe("planEvacuations: a PodDisruptionBudget is overridden only when the node's death is certain", () => {
  const LRM = T0 + 80 * SECOND; // deadline T0 + 120 s - drain 30 s - margin 10 s
  /** web-0 surged on node-a, its replacement not Ready; db-0 of a StatefulSet; a PDB over each allows nothing. */
  const atLrm = (): ClusterSnapshot =>
    aSnapshot({
      nodes: [aCordonedNode(), aNode({ name: "node-b" })],
      pods: [
        aPod({ name: "web-0" }),
        aPod({ name: "web-4", nodeName: "node-b", createdAt: T0 + 2 * SECOND, ready: false }),
        aPod({ name: "db-0", owner: ownedBy("StatefulSet", "db"), labels: { app: "db" } }),
      ],
      workloads: [aDeployment({ specReplicas: 2, readyReplicas: 1 })],
      pdbs: [
        aPdb({ disruptionsAllowed: 0 }),
        aPdb({ name: "db", matchLabels: { app: "db" }, disruptionsAllowed: 0 }),
      ],
    });
  const removals = (steps: readonly Step[]) =>
    stepsWithoutReasons(steps.filter((s) => s.kind === "evict" || s.kind === "delete"));
  const heldEvict = (name: string) => ({
    kind: "evict" as const,
    pod: { namespace: "shop", name },
    node: "node-a",
    evacuation: "evac-node-a",
    atLastResponsibleMoment: true,
    overridePdb: false,
  });
  const deleted = (name: string, pdb: string) => ({
    kind: "delete" as const,
    pod: { namespace: "shop", name },
    node: "node-a",
    evacuation: "evac-node-a",
    pdbs: [`shop/${pdb}`],
  });

  const holding: [string, Partial<Evacuation>][] = [
    ["a manual deadline (lifeboat evacuate --deadline, the annotation)", { noticeKind: "manual" }],
    ["an ASG lifecycle hook lifeboat heartbeats", { noticeKind: "asg-lifecycle-terminate" }],
    ["a scheduled reboot", { noticeKind: "scheduled-change" }],
  ];
  for (const [what, kind] of holding) {
    test(`${what}: the budget holds at the LRM; the pods are evicted (429 retried) and a wait says so`, () => {
      const evac = anEvacuation({ ...kind, surges: [aSurgeRecord()] });
      const steps = plan(atLrm(), [evac], LRM).steps;
      assert.deepEqual(removals(steps), [heldEvict("web-0"), heldEvict("db-0")]);
      assert.deepEqual(
        stepsWithoutReasons(steps.filter((s) => s.kind === "wait" && s.subject.startsWith("shop/"))),
        [
          { kind: "wait", until: null, subject: "shop/web-0" },
          { kind: "wait", until: null, subject: "shop/db-0" },
        ],
      );
      assert.equal(
        steps.some((s) => s.kind === "complete"),
        false,
      );
    });
  }

  const certain: [string, Partial<Evacuation>][] = [
    ["a spot interruption warning", { noticeKind: "spot-interruption" }],
    [
      "a scheduled retirement whose start is the deadline",
      { noticeKind: "scheduled-change", certainDeadline: T0 + 120 * SECOND },
    ],
  ];
  for (const [what, kind] of certain) {
    test(`${what}: at the LRM a budget that allows nothing is overridden (graceful delete)`, () => {
      const evac = anEvacuation({ ...kind, surges: [aSurgeRecord()] });
      assert.deepEqual(removals(plan(atLrm(), [evac], LRM).steps), [
        deleted("web-0", "web"),
        deleted("db-0", "db"),
      ]);
    });
  }

  test("a manual deadline before a spot warning's: held at the manual LRM, overridden at the warning's", () => {
    const evac = anEvacuation({
      noticeKind: "manual",
      deadline: T0 + 60 * SECOND,
      certainDeadline: T0 + 120 * SECOND,
      surges: [aSurgeRecord()],
    });
    const early = plan(atLrm(), [evac], T0 + 20 * SECOND);
    assert.deepEqual(removals(early.steps), [heldEvict("web-0"), heldEvict("db-0")]);
    assert.deepEqual(
      stepsWithoutReasons(early.steps.filter((s) => s.kind === "wait" && s.subject === "shop/web-0")),
      [{ kind: "wait", until: LRM, subject: "shop/web-0" }],
    );
    assert.deepEqual(removals(plan(atLrm(), [evac], LRM).steps), [
      deleted("web-0", "web"),
      deleted("db-0", "db"),
    ]);
  });
});

describe("planEvacuations: instance gone, modes, completion", () => {
  /** twoOnA plus a DaemonSet pod, a mirror pod, and db-0 of a StatefulSet (terminating: its eviction ran). */
  const withNodeBound = (): ClusterSnapshot => {
    const snapshot = twoOnA();
    snapshot.pods.push(
      aPod({
        name: "fluent-bit-a",
        namespace: "kube-system",
        owner: ownedBy("DaemonSet", "fluent-bit", "kube-system"),
      }),
      aPod({ name: "kube-proxy-node-a", namespace: "kube-system", owner: null, mirror: true }),
      aPod({ name: "db-0", owner: ownedBy("StatefulSet", "db"), deleting: true }),
    );
    return snapshot;
  };
  const forceDeleted = (steps: readonly Step[]) =>
    steps.filter((s) => s.kind === "force-delete").map((s) => s.pod.name);

  test("once the instance is stopped or terminated every pod is force-deleted, a StatefulSet pod once the node is out of service; DaemonSet and mirror pods never", () => {
    // Issue 19 item 3 changed this: DaemonSet pods were force-deleted too, and StatefulSet pods at once.
    const evac = anEvacuation({
      instanceGone: true,
      instanceState: "terminated",
      surges: [aSurgeRecord({ pods: ["web-0", "web-1"] })],
    });

    const result = plan(withNodeBound(), [evac], T0 + 125 * SECOND);

    assert.deepEqual(
      stepsWithoutReasons(result.steps.filter((s) => s.kind === "force-delete")),
      ["web-0", "web-1"].map((name) => ({
        kind: "force-delete",
        pod: { namespace: "shop", name },
        node: "node-a",
        evacuation: "evac-node-a",
      })),
    );
    // The taint before the release: the StatefulSet's replacement then gets its volumes at once.
    assert.deepEqual(stepsWithoutReasons(result.steps.slice(0, 1)), [
      { kind: "taint-out-of-service", node: "node-a", evacuation: "evac-node-a" },
    ]);
    assert.deepEqual(
      stepsWithoutReasons(result.steps.filter((s) => s.kind === "wait" && s.subject === "shop/db-0")),
      [{ kind: "wait", until: T0 + 130 * SECOND, subject: "shop/db-0" }],
    );
    assert.deepEqual(
      result.skipped.map((s) => withoutReason(s)),
      [
        { pod: { namespace: "kube-system", name: "fluent-bit-a" }, node: "node-a" },
        { pod: { namespace: "kube-system", name: "kube-proxy-node-a" }, node: "node-a" },
      ],
    );
    // No new surge for a dead node's pods: their controllers replace them once they are deleted.
    assert.equal(
      result.steps.some((s) => s.kind === "surge"),
      false,
    );

    // Once the node carries the taint, db-0 is released; nothing taints it again.
    const snapshot = withNodeBound();
    snapshot.nodes[0] = aCordonedNode({
      taints: [{ key: EVACUATING_TAINT_KEY, effect: "NoSchedule" }, { ...OUT_OF_SERVICE_TAINT }],
    });
    const released = plan(snapshot, [evac], T0 + 126 * SECOND).steps;
    assert.deepEqual(forceDeleted(released), ["web-0", "web-1", "db-0"]);
    assert.equal(
      released.some((s) => s.kind === "taint-out-of-service"),
      false,
    );
  });

  test("a record that says the instance is gone but not how far (written before instanceState) releases StatefulSet pods as before, the taint first", () => {
    const evac = anEvacuation({ instanceGone: true, surges: [aSurgeRecord({ pods: ["web-0", "web-1"] })] });
    const steps = plan(withNodeBound(), [evac], T0 + 125 * SECOND).steps;
    assert.deepEqual(forceDeleted(steps), ["web-0", "web-1"]);
    assert.equal(steps[0]?.kind, "taint-out-of-service");
  });

  for (const instanceState of ["stopping", "shutting-down"] as const) {
    test(`at ${instanceState} the OS may still run: a StatefulSet pod is never force-deleted, it leaves the graceful way`, () => {
      const db = aPod({ name: "db-0", owner: ownedBy("StatefulSet", "db"), labels: { app: "db" } });
      const snapshot = aSnapshot({
        nodes: [aCordonedNode()],
        pods: [
          aPod({ name: "web-0" }),
          db,
          aPod({ name: "db-1", owner: ownedBy("StatefulSet", "db"), deleting: true }),
          aPod({
            name: "fluent-bit-a",
            namespace: "kube-system",
            owner: ownedBy("DaemonSet", "fluent-bit", "kube-system"),
          }),
        ],
        pdbs: [aPdb({ name: "db", matchLabels: { app: "db" }, disruptionsAllowed: 0 })],
      });
      const evac = anEvacuation({ instanceGone: true, instanceState, deadline: T0 + 120 * SECOND });

      // Before db-0's LRM (T0 + 80 s): an instance already leaving is past every LRM.
      const steps = plan(snapshot, [evac], T0 + 30 * SECOND).steps;

      assert.deepEqual(forceDeleted(steps), ["web-0"]);
      // The instance is leaving: its death is certain, so the budget is overridden, gracefully (preStop runs;
      // the StatefulSet starts the identity elsewhere only once the kubelet has stopped it).
      assert.deepEqual(stepsWithoutReasons(steps.filter((s) => s.kind === "delete" || s.kind === "evict")), [
        {
          kind: "delete",
          pod: { namespace: "shop", name: "db-0" },
          node: "node-a",
          evacuation: "evac-node-a",
          pdbs: ["shop/db"],
        },
      ]);
      assert.equal(
        steps.some((s) => s.kind === "taint-out-of-service" || s.kind === "complete"),
        false,
        "no taint while the OS may run, and not done while db-1 terminates",
      );
    });
  }

  test("prewarm cordons and surges, then keeps the doomed pods until a deadline is known", () => {
    const prewarm = anEvacuation({
      mode: "prewarm",
      deadline: null,
      noticeKind: "rebalance-recommendation",
      phase: "Pending",
    });
    const fresh = twoOnA({ nodes: [aNode(), aNode({ name: "node-b" })] });
    fresh.pods.push(aPod({ name: "db-0", owner: ownedBy("StatefulSet", "db") }));

    assert.deepEqual(
      plan(fresh, [prewarm], T0).steps.map((s) => s.kind),
      ["cordon", "surge", "mark-doomed", "wait", "wait"],
    );

    const warmed = {
      ...prewarm,
      phase: "Surging" as const,
      surges: [aSurgeRecord({ pods: ["web-0", "web-1"] })],
    };
    const ready = surged([true, true]);
    assert.deepEqual(withoutReasons(plan(ready, [warmed], T0 + 600 * SECOND)), {
      steps: [{ kind: "wait", until: null, subject: "Deployment/shop/web" }],
      skipped: [],
      // No wait has a time, but the prewarm expires 1800 s after its notice: the plan looks again then.
      nextReviewAt: T0 + 1800 * SECOND,
    });

    // The spot warning arrives: same evacuation, now with a deadline: the prewarmed surge is retired at once.
    const warned = { ...warmed, deadline: T0 + 720 * SECOND };
    assert.deepEqual(
      plan(ready, [warned], T0 + 601 * SECOND).steps.map((s) => s.kind),
      ["retire"],
    );
  });

  test("taint-only taints the node PreferNoSchedule once, moves nothing, and is done once the taint is on", () => {
    const evac = anEvacuation({ mode: "taint-only", deadline: null, noticeKind: "rebalance-recommendation" });
    const snapshot = twoOnA({ nodes: [aNode()] });

    assert.deepEqual(withoutReasons(plan(snapshot, [evac], T0)), {
      steps: [{ kind: "taint-prefer-no-schedule", node: "node-a", evacuation: "evac-node-a" }],
      skipped: [],
      nextReviewAt: null,
    });

    const tainted = twoOnA({
      nodes: [aNode({ taints: [{ key: EVACUATING_TAINT_KEY, effect: "PreferNoSchedule" }] })],
    });
    assert.deepEqual(withoutReasons(plan(tainted, [evac], T0 + SECOND)), {
      steps: [{ kind: "complete", evacuation: "evac-node-a" }],
      skipped: [],
      nextReviewAt: null,
    });
    // The node went away before it was tainted: nothing left to do either.
    assert.deepEqual(
      plan(twoOnA({ nodes: [] }), [evac], T0 + SECOND).steps.map((s) => s.kind),
      ["complete"],
    );
  });

  test("complete once only DaemonSet and mirror pods remain and every surge is retired", () => {
    const snapshot = aSnapshot({
      nodes: [aCordonedNode(), aNode({ name: "node-b" })],
      pods: [
        aPod({
          name: "fluent-bit-a",
          namespace: "kube-system",
          owner: ownedBy("DaemonSet", "fluent-bit", "kube-system"),
        }),
        aPod({ name: "kube-proxy-node-a", namespace: "kube-system", owner: null, mirror: true }),
        aPod({ name: "web-2", nodeName: "node-b" }),
      ],
      workloads: [aDeployment({ specReplicas: 1 })],
    });
    const evac = anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0"], retiredAt: T0 + 40 * SECOND })] });

    const steps = plan(snapshot, [evac], T0 + 50 * SECOND).steps;

    assert.deepEqual(stepsWithoutReasons(steps), [{ kind: "complete", evacuation: "evac-node-a" }]);
  });

  test("not complete while a pod is still terminating: completing could let the instance go mid-drain", () => {
    const snapshot = aSnapshot({
      nodes: [aCordonedNode()],
      pods: [aPod({ name: "web-0", deleting: true, ready: false })],
    });
    const evac = anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0"], retiredAt: T0 + 40 * SECOND })] });

    assert.deepEqual(stepsWithoutReasons(plan(snapshot, [evac], T0 + 50 * SECOND).steps), [
      { kind: "wait", until: null, subject: "node-a" },
    ]);
  });

  test("Done and Failed evacuations drive nothing", () => {
    const snapshot = twoOnA({ nodes: [aNode(), aNode({ name: "node-b" })] });
    const done = anEvacuation({ phase: "Done" });
    const failed = anEvacuation({ phase: "Failed" });

    // Their only future is the time to live (86400 s by default; these records carry no finish time, so it
    // counts from the notice).
    assert.deepEqual(plan(snapshot, [done, failed], T0), {
      steps: [],
      skipped: [],
      nextReviewAt: T0 + 86400 * SECOND,
    });
  });
});

describe("planEvacuations: warnings", () => {
  test("preStop shorter than the LB propagation is warned once per workload", () => {
    const snapshot = twoOnA();
    snapshot.pods = snapshot.pods.map((p) =>
      p.nodeName === "node-a" ? { ...p, preStopSeconds: p.name === "web-0" ? 5 : null } : p,
    );

    const warns = plan(snapshot, [anEvacuation()], T0 + 2 * SECOND).steps.filter((s) => s.kind === "warn");

    assert.deepEqual(stepsWithoutReasons(warns), [
      { kind: "warn", code: "ShortPreStop", subject: "Deployment/shop/web" },
    ]);
  });

  test("a surge that cannot be Ready before the LRM, above the HPA max, without room: each is warned", () => {
    const snapshot = aSnapshot({
      nodes: [
        aNode(),
        aNode({ name: "node-b", allocatable: { cpuMilli: 600, memoryBytes: 2 ** 30, pods: 110 } }),
      ],
      pods: [aPod({ name: "web-0" }), aPod({ name: "web-1" }), aPod({ name: "web-2", nodeName: "node-b" })],
      workloads: [aDeployment({ specReplicas: 3, expectedReadySeconds: 100, hpa: { min: 2, max: 4 } })],
    });

    const warns = plan(snapshot, [anEvacuation()], T0 + 2 * SECOND).steps.filter((s) => s.kind === "warn");

    assert.deepEqual(stepsWithoutReasons(warns), [
      { kind: "warn", code: "SurgeAboveHpaMax", subject: "Deployment/shop/web" },
      { kind: "warn", code: "SurgeMissesDeadline", subject: "Deployment/shop/web" },
      { kind: "warn", code: "InsufficientCapacity", subject: "Deployment/shop/web" },
    ]);
  });
  test("headroom placeholders count as room: a surge that fits only by preempting them is not warned", () => {
    const full = { cpuMilli: 1000, memoryBytes: 2 ** 30, pods: 110 };
    const placeholder = aPod({
      name: "headroom-0",
      namespace: "lifeboat-system",
      nodeName: "node-b",
      owner: ownedBy("Deployment", "lifeboat-headroom-ng-spot", "lifeboat-system"),
      labels: { "lifeboat.dev/headroom": "spot" },
      requests: { cpuMilli: 1000, memoryBytes: 2 ** 29 },
    });
    const snapshot = (pods: ReturnType<typeof aPod>[]) =>
      aSnapshot({
        nodes: [aCordonedNode(), aNode({ name: "node-b", allocatable: full })],
        pods: [aPod({ name: "web-0", requests: { cpuMilli: 1000, memoryBytes: 2 ** 29 } }), ...pods],
        workloads: [aDeployment({ specReplicas: 1, expectedReadySeconds: 30 })],
      });
    const codes = (pods: ReturnType<typeof aPod>[]) =>
      plan(snapshot(pods), [anEvacuation()], T0 + 2 * SECOND)
        .steps.filter((s) => s.kind === "warn")
        .map((s) => (s.kind === "warn" ? s.code : ""));

    assert.deepEqual(codes([placeholder]), [], "the placeholder's room is free for the surge");
    const sameButAWorkload = aPod({ ...placeholder, labels: { app: "other" } });
    assert.deepEqual(codes([sameButAWorkload]), ["InsufficientCapacity"], "a real pod there leaves no room");
  });
  test("early node: a surge without room asks the doomed node's group for a node, right after the cordons", () => {
    const snapshot = (withPlaceholder: boolean) =>
      aSnapshot({
        nodes: [
          aCordonedNode(),
          aNode({ name: "node-b", allocatable: { cpuMilli: 1000, memoryBytes: 2 ** 30, pods: 110 } }),
        ],
        pods: [
          aPod({ name: "web-0", requests: { cpuMilli: 1000, memoryBytes: 2 ** 29 } }),
          aPod({
            name: withPlaceholder ? "headroom-0" : "other-0",
            namespace: "lifeboat-system",
            nodeName: "node-b",
            owner: ownedBy("Deployment", "lifeboat-headroom-ng-spot", "lifeboat-system"),
            labels: withPlaceholder ? { "lifeboat.dev/headroom": "spot" } : { app: "other" },
            requests: { cpuMilli: 1000, memoryBytes: 2 ** 29 },
          }),
        ],
        workloads: [aDeployment({ specReplicas: 1, expectedReadySeconds: 30 })],
      });
    const kinds = (withPlaceholder: boolean, earlyNode: boolean) =>
      planEvacuations({
        snapshot: snapshot(withPlaceholder),
        evacuations: [anEvacuation()],
        now: T0 + 2 * SECOND,
        budgets: DEFAULT_BUDGETS,
        policy: { ...DEFAULT_POLICY, earlyNode },
      }).steps.filter((s) => s.kind !== "wait");

    const steps = kinds(false, true);
    assert.deepEqual(
      stepsWithoutReasons(steps).find((s) => s.kind === "request-node"),
      {
        kind: "request-node",
        node: "node-a",
        instanceId: anEvacuation().instanceId,
        evacuation: anEvacuation().name,
        count: 1,
      },
    );
    assert.ok(
      steps.findIndex((s) => s.kind === "request-node") < steps.findIndex((s) => s.kind === "surge"),
      "asked for before the surge is written",
    );
    assert.equal(kinds(false, false).filter((s) => s.kind === "request-node").length, 0, "off by default");
    assert.equal(
      kinds(true, true).filter((s) => s.kind === "request-node").length,
      0,
      "a placeholder is room enough",
    );
  });
  test("one pod per node: nodes that hold a pod of the workload are no room for its replacement", () => {
    // The seed's cluster, full: every node holds one web pod (required anti-affinity on the hostname).
    const pods = (onePerNode: boolean) => [
      aPod({ name: "web-0", onePerNode }),
      aPod({ name: "web-1", nodeName: "node-b", onePerNode }),
      aPod({ name: "web-2", nodeName: "node-c", onePerNode }),
    ];
    const codes = (onePerNode: boolean, earlyNode: boolean) =>
      planEvacuations({
        snapshot: aSnapshot({
          nodes: [aCordonedNode(), aNode({ name: "node-b" }), aNode({ name: "node-c" })],
          pods: pods(onePerNode),
          workloads: [aDeployment({ specReplicas: 3 })],
        }),
        evacuations: [anEvacuation()],
        now: T0 + 2 * SECOND,
        budgets: DEFAULT_BUDGETS,
        policy: { ...DEFAULT_POLICY, earlyNode },
      })
        .steps.filter((s) => s.kind === "warn" || s.kind === "request-node")
        .map((s) => (s.kind === "warn" ? s.code : s.kind));

    assert.deepEqual(codes(false, true), [], "room by requests alone");
    assert.deepEqual(codes(true, false), ["InsufficientCapacity"]);
    assert.deepEqual(codes(true, true), ["request-node", "InsufficientCapacity"]);
  });
});
