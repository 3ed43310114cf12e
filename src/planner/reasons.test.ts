/**
 * The wording of the planner's reasons, pinned once per reason group. A reason becomes the log line and the
 * Kubernetes Event message, so its wording is part of the product: a change of it shows here, and only here.
 * The other planner tests compare plans without their reasons (test/fixtures/plan-assertions.ts) and match a
 * key phrase only where what the reason says is the point of the test.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Evacuation } from "../domain/evacuation.ts";
import type { Plan, Step, StepKind } from "../domain/plan.ts";
import { OUT_OF_SERVICE_TAINT, POD_DELETION_COST_ANNOTATION } from "../domain/plan.ts";
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
import { DEFAULT_BUDGETS } from "./budgets.ts";
import { DEFAULT_POLICY, type PlanPolicy } from "./policy.ts";
import { planEvacuations } from "./planner.ts";

function plan(
  snapshot: ClusterSnapshot,
  evacuations: Evacuation[],
  now: number,
  policy: Partial<PlanPolicy> = {},
): Plan {
  return planEvacuations({
    snapshot,
    evacuations,
    now,
    budgets: DEFAULT_BUDGETS,
    policy: { ...DEFAULT_POLICY, ...policy },
  });
}

type StepOf<K extends StepKind> = Extract<Step, { kind: K }>;

/** The reason of the one step of `kind` in `p` that `which` picks; fails unless there is exactly one. */
function reasonOf<K extends StepKind>(
  p: Plan,
  kind: K,
  which: (s: StepOf<K>) => boolean = () => true,
): string {
  const found = p.steps.filter((s): s is StepOf<K> => s.kind === kind).filter(which);
  assert.equal(found.length, 1, `one ${kind} step among ${p.steps.map((s) => s.kind).join(", ")}`);
  return found[0]!.reason;
}

/** The reason given for skipping the pod `name`. */
function skipReasonOf(p: Plan, name: string): string {
  const skip = p.skipped.find((s) => s.pod.name === name);
  assert.ok(skip !== undefined, `${name} is skipped`);
  return skip.reason;
}

/** `pod` with the pod-deletion-cost a mark-doomed step puts on it. */
function marked(pod: PodView): PodView {
  return {
    ...pod,
    annotations: { ...pod.annotations, [POD_DELETION_COST_ANNOTATION]: String(DEFAULT_BUDGETS.deletionCost) },
  };
}

/** node-a (not cordoned yet) with web-0, web-1, a DaemonSet pod and a mirror pod; node-b with web-2, web-3. */
function freshNotice(): Plan {
  const snapshot = aSnapshot({
    nodes: [aNode(), aNode({ name: "node-b" })],
    pods: [
      aPod({ name: "web-0" }),
      aPod({ name: "web-1" }),
      aPod({ name: "web-2", nodeName: "node-b" }),
      aPod({ name: "web-3", nodeName: "node-b" }),
      aPod({
        name: "fluent-bit-a",
        namespace: "kube-system",
        owner: ownedBy("DaemonSet", "fluent-bit", "kube-system"),
      }),
      aPod({ name: "kube-proxy-node-a", namespace: "kube-system", owner: null, mirror: true }),
    ],
    workloads: [aDeployment()],
  });
  return plan(snapshot, [anEvacuation({ phase: "Pending" })], T0 + 2 * SECOND);
}

/**
 * node-a cordoned with web-0 and web-1 (marked), surged +2 at T0 + 1 s: replicas 6, replacements web-4 and
 * web-5 on node-b, Ready as given.
 */
function surged(replacementsReady: [boolean, boolean]): ClusterSnapshot {
  return aSnapshot({
    nodes: [aCordonedNode(), aNode({ name: "node-b" })],
    pods: [
      marked(aPod({ name: "web-0" })),
      marked(aPod({ name: "web-1" })),
      aPod({ name: "web-2", nodeName: "node-b" }),
      aPod({ name: "web-3", nodeName: "node-b" }),
      aPod({ name: "web-4", nodeName: "node-b", createdAt: T0 + 2 * SECOND, ready: replacementsReady[0] }),
      aPod({ name: "web-5", nodeName: "node-b", createdAt: T0 + 2 * SECOND, ready: replacementsReady[1] }),
    ],
    workloads: [
      aDeployment({ specReplicas: 6, readyReplicas: 4 + replacementsReady.filter(Boolean).length }),
    ],
  });
}

const surgedEvacuation = (): Evacuation =>
  anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0", "web-1"] })] });

describe("reasons: nodes", () => {
  test("cordon", () => {
    assert.equal(
      reasonOf(freshNotice(), "cordon"),
      "spot-interruption for i-0dea0000 (deadline in 118 s): cordon, taint lifeboat.dev/evacuating:NoSchedule and label node.kubernetes.io/exclude-from-external-load-balancers=true so nothing new lands here and instance-mode target groups let the node go",
    );
  });

  test("taint-only: the taint, then done", () => {
    const evac = anEvacuation({ mode: "taint-only", deadline: null, noticeKind: "rebalance-recommendation" });

    assert.equal(
      reasonOf(plan(aSnapshot({ nodes: [aNode()] }), [evac], T0), "taint-prefer-no-schedule"),
      "rebalance-recommendation for node-a (policy taint-only): taint lifeboat.dev/evacuating:PreferNoSchedule so the scheduler avoids the node while it is at risk; nothing is moved",
    );
    const tainted = aSnapshot({
      nodes: [aNode({ taints: [{ key: "lifeboat.dev/evacuating", effect: "PreferNoSchedule" }] })],
    });
    assert.equal(
      reasonOf(plan(tainted, [evac], T0 + SECOND), "complete"),
      "node-a carries lifeboat.dev/evacuating:PreferNoSchedule (policy taint-only): nothing else to do",
    );
  });
});

describe("reasons: surges", () => {
  test("surge", () => {
    assert.equal(
      reasonOf(freshNotice(), "surge"),
      "2 pods of Deployment/shop/web on evacuating node(s) node-a: add 2 replica(s) elsewhere before any is removed (make before break)",
    );
  });

  test("mark-doomed", () => {
    assert.equal(
      reasonOf(freshNotice(), "mark-doomed"),
      "mark 2 doomed pods of Deployment/shop/web with pod-deletion-cost -100000 so that scaling back removes them, not their replacements",
    );
  });

  test("retire with its replacements Ready", () => {
    assert.equal(
      reasonOf(plan(surged([true, true]), [surgedEvacuation()], T0 + 30 * SECOND), "retire"),
      "replacements Ready (4 Ready outside evacuating nodes, 4 wanted): scale -2 so the ReplicaSet removes the doomed pods (lowest pod-deletion-cost)",
    );
  });

  test("retire of a surge whose doomed pods are gone", () => {
    const snapshot = surged([true, false]);
    snapshot.pods = snapshot.pods.map((p) =>
      p.nodeName === "node-a" ? { ...p, deleting: true, ready: false } : p,
    );

    assert.equal(
      reasonOf(plan(snapshot, [surgedEvacuation()], T0 + 90 * SECOND), "retire", (s) => !s.replacementsReady),
      "the doomed 2 pods of 1 surge of Deployment/shop/web (web-0, web-1) are gone: scale -2 back now (the ReplicaSet removes the unready extra pods first, so Ready capacity does not drop)",
    );
  });

  test("hand-back", () => {
    // Surged +1 (lifeboat wrote 5), then an HPA scaled to 7.
    const snapshot = aSnapshot({
      nodes: [aCordonedNode(), aNode({ name: "node-b" })],
      pods: [
        marked(aPod({ name: "web-0" })),
        aPod({ name: "web-2", nodeName: "node-b" }),
        aPod({ name: "web-3", nodeName: "node-b" }),
        aPod({ name: "web-4", nodeName: "node-b", createdAt: T0 + 2 * SECOND }),
      ],
      workloads: [aDeployment({ specReplicas: 7, ledgerReplicas: 5 })],
    });
    const evac = anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0"] })], phase: "Surging" });

    assert.equal(
      reasonOf(plan(snapshot, [evac], T0 + 20 * SECOND), "hand-back"),
      "Deployment/shop/web: someone (an HPA, a person) scaled it to 7 since lifeboat wrote 5; a -1 now would cut below their count: close the surge of +1 without scaling back (the replica count is theirs now, lifeboat takes nothing from it)",
    );
  });
});

describe("reasons: pods", () => {
  test("evict at once (StatefulSet)", () => {
    const snapshot = aSnapshot({
      nodes: [aCordonedNode()],
      pods: [aPod({ name: "db-0", owner: ownedBy("StatefulSet", "db"), labels: { app: "db" } })],
    });

    assert.equal(
      reasonOf(plan(snapshot, [anEvacuation()], T0 + 2 * SECOND), "evict"),
      "StatefulSet db replaces a pod only once the old one is gone (same identity): evict at once so the replacement gets the most time before the deadline",
    );
  });

  test("evict at the last responsible moment, replacements not Ready", () => {
    const lrm = T0 + 80 * SECOND;

    assert.equal(
      reasonOf(
        plan(surged([true, false]), [surgedEvacuation()], lrm),
        "evict",
        (s) => s.pod.name === "web-0",
      ),
      "last responsible moment was now (deadline in 40 s - drain 30 s - margin 10 s): evict now so the pod leaves the load balancer before the node dies; replacements not Ready yet (3 Ready outside evacuating nodes, 4 wanted): capacity dips by one until they are",
    );
  });

  test("a PodDisruptionBudget that allows no disruption: said in the wait, overridden at the LRM", () => {
    // web-0 surged +1; its replacement web-4 is not Ready; the PDB of web allows nothing.
    const snapshot = aSnapshot({
      nodes: [aCordonedNode(), aNode({ name: "node-b" })],
      pods: [
        marked(aPod({ name: "web-0" })),
        aPod({ name: "web-1", nodeName: "node-b" }),
        aPod({ name: "web-2", nodeName: "node-b" }),
        aPod({ name: "web-3", nodeName: "node-b" }),
        aPod({ name: "web-4", nodeName: "node-b", createdAt: T0 + 2 * SECOND, ready: false }),
      ],
      workloads: [aDeployment({ specReplicas: 5, readyReplicas: 4 })],
      pdbs: [aPdb({ disruptionsAllowed: 0 })],
    });
    const evac = anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0"] })], phase: "Surging" });

    assert.equal(
      reasonOf(plan(snapshot, [evac], T0 + 70 * SECOND), "wait"),
      "waiting for replacements of Deployment/shop/web to be Ready (3 Ready outside evacuating nodes, 4 wanted) before removing 1 doomed pod; last responsible moment in 10 s; PodDisruptionBudget shop/web allows no disruption now: if it still allows none at the last responsible moment, the pods are deleted anyway (graceful, Warning PdbOverridden), since the node dies whatever the budget says",
    );
    assert.equal(
      reasonOf(plan(snapshot, [evac], T0 + 80 * SECOND), "delete"),
      "last responsible moment was now (deadline in 40 s - drain 30 s - margin 10 s): evict now so the pod leaves the load balancer before the node dies; replacements not Ready yet (3 Ready outside evacuating nodes, 4 wanted): capacity dips by one until they are; PodDisruptionBudget shop/web allows no disruption now, but at the last responsible moment the disruption is no longer voluntary (the spot interruption warning ends the node in 40 s whatever the budget says): delete the pod with its own grace period instead of evicting it",
    );
  });

  test("a PodDisruptionBudget that allows no disruption and a manual deadline: said in the wait, held at the LRM", () => {
    const snapshot = aSnapshot({
      nodes: [aCordonedNode(), aNode({ name: "node-b" })],
      pods: [
        marked(aPod({ name: "web-0" })),
        aPod({ name: "web-1", nodeName: "node-b" }),
        aPod({ name: "web-2", nodeName: "node-b" }),
        aPod({ name: "web-3", nodeName: "node-b" }),
        aPod({ name: "web-4", nodeName: "node-b", createdAt: T0 + 2 * SECOND, ready: false }),
      ],
      workloads: [aDeployment({ specReplicas: 5, readyReplicas: 4 })],
      pdbs: [aPdb({ disruptionsAllowed: 0 })],
    });
    const evac = anEvacuation({
      noticeKind: "manual",
      surges: [aSurgeRecord({ pods: ["web-0"] })],
      phase: "Surging",
    });

    assert.equal(
      reasonOf(plan(snapshot, [evac], T0 + 70 * SECOND), "wait"),
      "waiting for replacements of Deployment/shop/web to be Ready (3 Ready outside evacuating nodes, 4 wanted) before removing 1 doomed pod; last responsible moment in 10 s; PodDisruptionBudget shop/web allows no disruption now and will hold the pods at the last responsible moment too (the deadline is set by an operator with lifeboat evacuate or the lifeboat.dev/evacuate annotation; it can be moved, so the disruption stays voluntary)",
    );
    const atLrm = plan(snapshot, [evac], T0 + 80 * SECOND);
    assert.equal(
      reasonOf(atLrm, "evict"),
      "last responsible moment was now (deadline in 40 s - drain 30 s - margin 10 s): evict now so the pod leaves the load balancer before the node dies; replacements not Ready yet (3 Ready outside evacuating nodes, 4 wanted): capacity dips by one until they are; PodDisruptionBudget shop/web allows no disruption now and holds the pod at its last responsible moment too (the deadline is set by an operator with lifeboat evacuate or the lifeboat.dev/evacuate annotation; it can be moved, so the disruption stays voluntary): the eviction is retried until the budget allows one",
    );
    assert.equal(
      reasonOf(atLrm, "wait", (s) => s.subject === "shop/web-0"),
      "PodDisruptionBudget shop/web allows no disruption now and holds the pod at its last responsible moment too (the deadline is set by an operator with lifeboat evacuate or the lifeboat.dev/evacuate annotation; it can be moved, so the disruption stays voluntary): evicting again until it allows one",
    );
  });

  test("force-delete once the instance is gone; a mirror pod goes with the node", () => {
    const snapshot = aSnapshot({
      nodes: [aCordonedNode()],
      pods: [
        aPod({ name: "web-0" }),
        aPod({ name: "kube-proxy-node-a", namespace: "kube-system", owner: null, mirror: true }),
      ],
    });
    const result = plan(snapshot, [anEvacuation({ instanceGone: true })], T0 + 125 * SECOND);

    assert.equal(
      reasonOf(result, "force-delete"),
      "instance i-0dea0000 is shutting down or terminated: the pod cannot run (or run its preStop) any more; delete it now so endpoints and its controller let go at once instead of after the node-monitor grace period",
    );
    assert.equal(
      skipReasonOf(result, "kube-proxy-node-a"),
      "mirror pod of a static pod: it disappears with the node",
    );
  });

  test("a StatefulSet pod of a stopped instance: the out-of-service taint first, then its release", () => {
    const db = aPod({ name: "db-0", owner: ownedBy("StatefulSet", "db") });
    const evac = anEvacuation({ instanceGone: true, instanceState: "stopped" });
    const untainted = plan(aSnapshot({ nodes: [aCordonedNode()], pods: [db] }), [evac], T0 + 125 * SECOND);

    assert.equal(
      reasonOf(untainted, "taint-out-of-service"),
      "instance i-0dea0000 is stopped: taint node-a node.kubernetes.io/out-of-service=nodeshutdown:NoExecute so the volumes of its StatefulSet pods detach at once (instead of after the attach-detach controller's 6-minute wait) when they are released",
    );
    assert.equal(
      reasonOf(untainted, "wait"),
      "instance i-0dea0000 is stopped: StatefulSet pod released once node-a carries node.kubernetes.io/out-of-service=nodeshutdown:NoExecute",
    );
    const tainted = aCordonedNode();
    tainted.taints.push({ ...OUT_OF_SERVICE_TAINT });
    assert.equal(
      reasonOf(plan(aSnapshot({ nodes: [tainted], pods: [db] }), [evac], T0 + 126 * SECOND), "force-delete"),
      "instance i-0dea0000 is stopped: nothing runs this StatefulSet identity any more; release it (delete with grace period 0) so the StatefulSet starts it elsewhere, its volumes free at once (the node carries node.kubernetes.io/out-of-service=nodeshutdown:NoExecute)",
    );
  });

  test("skip of a DaemonSet pod and of a mirror pod", () => {
    const result = freshNotice();

    assert.equal(
      skipReasonOf(result, "fluent-bit-a"),
      "DaemonSet pod (fluent-bit): it runs on every node and goes with this one",
    );
    assert.equal(
      skipReasonOf(result, "kube-proxy-node-a"),
      "mirror pod of a static pod: the kubelet owns it, the API cannot move it",
    );
  });

  test("a bare pod serves until its last responsible moment, then is evicted", () => {
    const snapshot = aSnapshot({
      nodes: [aCordonedNode()],
      pods: [aPod({ name: "debug", owner: null, labels: {} })],
    });

    assert.equal(
      reasonOf(plan(snapshot, [anEvacuation()], T0 + 10 * SECOND), "wait"),
      "bare pod: nothing replaces it; it keeps serving until its last responsible moment in 70 s (deadline in 110 s - drain 30 s - margin 10 s)",
    );
    assert.equal(
      reasonOf(plan(snapshot, [anEvacuation()], T0 + 80 * SECOND), "evict"),
      "bare pod: nothing replaces it; it served until its last responsible moment (now: deadline in 40 s - drain 30 s - margin 10 s): evict now",
    );
  });
});

describe("reasons: waits", () => {
  test("wait for replacements", () => {
    assert.equal(
      reasonOf(plan(surged([true, false]), [surgedEvacuation()], T0 + 30 * SECOND), "wait"),
      "waiting for replacements of Deployment/shop/web to be Ready (3 Ready outside evacuating nodes, 4 wanted) before removing 2 doomed pods; last responsible moment in 50 s",
    );
  });

  test("the retire check, then the evict of a doomed pod the ReplicaSet kept", () => {
    const retiredAt = T0 + 40 * SECOND;
    const evac = anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0", "web-1"], retiredAt })] });
    const snapshot = surged([true, true]);
    snapshot.workloads = [aDeployment({ specReplicas: 4 })];

    assert.equal(
      reasonOf(plan(snapshot, [evac], retiredAt + 2 * SECOND), "wait", (s) => s.subject === "shop/web-0"),
      "scaled Deployment/shop/web -2 2 s ago: checking that the ReplicaSet removes this doomed pod",
    );
    assert.equal(
      reasonOf(plan(snapshot, [evac], retiredAt + 6 * SECOND), "evict", (s) => s.pod.name === "web-0"),
      "scaled Deployment/shop/web -2 6 s ago but the ReplicaSet kept this doomed pod (it removes unready pods before low deletion-cost ones): evict it",
    );
  });

  test("a prewarm keeps its doomed pods", () => {
    const prewarm = anEvacuation({
      mode: "prewarm",
      deadline: null,
      noticeKind: "rebalance-recommendation",
      phase: "Surging",
      surges: [aSurgeRecord({ pods: ["web-0", "web-1"] })],
    });

    assert.equal(
      reasonOf(plan(surged([true, true]), [prewarm], T0 + 600 * SECOND), "wait"),
      "prewarm: 2 replacements of Deployment/shop/web surged; the doomed pods stay until a deadline is known",
    );
  });

  test("a node whose pods are still terminating", () => {
    const snapshot = aSnapshot({
      nodes: [aCordonedNode()],
      pods: [aPod({ name: "web-0", deleting: true, ready: false })],
    });
    const evac = anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0"], retiredAt: T0 + 40 * SECOND })] });

    assert.equal(
      reasonOf(plan(snapshot, [evac], T0 + 50 * SECOND), "wait"),
      "1 pod on node-a still terminating (preStop and grace period running)",
    );
  });
});

describe("reasons: warnings and the early node", () => {
  /** web-0 and web-1 doomed on node-a; node-b has room for one replacement; Ready in 100 s; HPA max 4. */
  function tightSurge(policy: Partial<PlanPolicy> = {}): Plan {
    const snapshot = aSnapshot({
      nodes: [
        aNode(),
        aNode({ name: "node-b", allocatable: { cpuMilli: 600, memoryBytes: 2 ** 30, pods: 110 } }),
      ],
      pods: [aPod({ name: "web-0" }), aPod({ name: "web-1" }), aPod({ name: "web-2", nodeName: "node-b" })],
      workloads: [aDeployment({ specReplicas: 3, expectedReadySeconds: 100, hpa: { min: 2, max: 4 } })],
    });
    return plan(snapshot, [anEvacuation()], T0 + 2 * SECOND, policy);
  }
  const warning = (code: string) => (s: StepOf<"warn">) => s.code === code;

  test("warn ShortPreStop", () => {
    const snapshot = aSnapshot({
      nodes: [aCordonedNode(), aNode({ name: "node-b" })],
      pods: [
        aPod({ name: "web-0", preStopSeconds: 5 }),
        aPod({ name: "web-1", preStopSeconds: null }),
        aPod({ name: "web-2", nodeName: "node-b" }),
        aPod({ name: "web-3", nodeName: "node-b" }),
      ],
      workloads: [aDeployment()],
    });

    assert.equal(
      reasonOf(plan(snapshot, [anEvacuation()], T0 + 2 * SECOND), "warn", warning("ShortPreStop")),
      "no preStop sleep on web-0, web-1, shorter than the load balancer propagation (20 s): after deletion the ALB keeps sending new requests for up to 20 s and they hit a closed socket (502); add a preStop sleep of at least 20 s",
    );
  });

  test("warn PdbBlocksEviction", () => {
    const snapshot = aSnapshot({
      nodes: [aCordonedNode()],
      pods: [aPod({ name: "db-0", owner: ownedBy("StatefulSet", "db"), labels: { app: "db" } })],
      pdbs: [aPdb({ name: "db", matchLabels: { app: "db" }, disruptionsAllowed: 0 })],
    });

    assert.equal(
      reasonOf(plan(snapshot, [anEvacuation()], T0 + 2 * SECOND), "warn", warning("PdbBlocksEviction")),
      "allows 0 disruptions now: evicting db-0 will be refused (429) and retried until it allows one",
    );
  });

  test("warn SurgeAboveHpaMax", () => {
    assert.equal(
      reasonOf(tightSurge(), "warn", warning("SurgeAboveHpaMax")),
      "surge takes replicas to 5, above the HPA max 4: the HPA will scale back and remove doomed pods before their replacements are Ready",
    );
  });

  test("warn SurgeMissesDeadline", () => {
    assert.equal(
      reasonOf(tightSurge(), "warn", warning("SurgeMissesDeadline")),
      "replacements take about 100 s to be Ready but the last responsible moment is in 78 s: the doomed pods will be evicted first and capacity will dip until the replacements are Ready",
    );
  });

  test("warn InsufficientCapacity", () => {
    assert.equal(
      reasonOf(tightSurge(), "warn", warning("InsufficientCapacity")),
      "1 of 2 replacements do not fit on the schedulable nodes outside the evacuation (requests and one-per-node anti-affinity counted, tolerations ignored): they stay Pending until a node joins",
    );
  });

  test("request-node", () => {
    assert.equal(
      reasonOf(tightSurge({ earlyNode: true }), "request-node"),
      "no room for 1 replacement of node-a's pods (headroom included): ask its Auto Scaling group for a node like it now instead of waiting for the autoscaler to see the Pending pods",
    );
  });
});

describe("reasons: endings", () => {
  test("complete", () => {
    const snapshot = aSnapshot({
      nodes: [aCordonedNode(), aNode({ name: "node-b" })],
      pods: [aPod({ name: "web-2", nodeName: "node-b" })],
      workloads: [aDeployment({ specReplicas: 1 })],
    });
    const evac = anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0"], retiredAt: T0 + 40 * SECOND })] });

    assert.equal(
      reasonOf(plan(snapshot, [evac], T0 + 50 * SECOND), "complete"),
      "node-a holds no pod lifeboat must move and every surge is retired",
    );
  });

  test("fail (give up)", () => {
    const snapshot = aSnapshot({
      nodes: [aCordonedNode()],
      pods: [aPod({ name: "db-0", owner: ownedBy("StatefulSet", "db"), deleting: true })],
    });
    const giveUp = T0 + (120 + 900) * SECOND;

    assert.equal(
      reasonOf(plan(snapshot, [anEvacuation()], giveUp), "fail"),
      "evacuation of node-a is still not done 900 s after its deadline (900 s ago): give up: every surge is retired or handed back; node still there, 1 pod left on it (shop/db-0)",
    );
  });

  test("uncordon (an expired prewarm)", () => {
    const expiry = T0 + 1800 * SECOND;
    const prewarm = anEvacuation({
      mode: "prewarm",
      deadline: null,
      noticeKind: "rebalance-recommendation",
      phase: "Surging",
      surges: [aSurgeRecord({ pods: ["web-0"], retiredAt: expiry })],
    });

    assert.equal(
      reasonOf(plan(aSnapshot({ nodes: [aCordonedNode()] }), [prewarm], expiry + 60 * SECOND), "uncordon"),
      "prewarm of node-a saw no interruption warning within 1800 s of the rebalance recommendation (1860 s ago): undo it: every surge is retired; uncordon node-a: remove lifeboat.dev/evacuating:NoSchedule, and unschedulable and node.kubernetes.io/exclude-from-external-load-balancers where lifeboat's cordon set them, so it serves again",
    );
  });

  test("clear-request", () => {
    const request = { value: "10m", noticeId: "annotation/node-a/10m" };
    const done = anEvacuation({
      name: "done",
      phase: "Done",
      noticeKind: "manual",
      noticeIds: [request.noticeId],
      timeline: { noticedAt: T0, doneAt: T0 + 100 * SECOND },
    });
    const annotated = aSnapshot({ nodes: [aCordonedNode({ evacuateRequest: request })] });

    assert.equal(
      reasonOf(plan(annotated, [done], T0 + 101 * SECOND), "clear-request"),
      "the request lifeboat.dev/evacuate=10m on node node-a was served by evacuation done (Done): remove it, so that it is not taken as a new request once the record is forgotten",
    );
  });

  test("forget", () => {
    const done = anEvacuation({
      name: "done",
      phase: "Done",
      timeline: { noticedAt: T0, doneAt: T0 + 100 * SECOND },
    });

    assert.equal(
      reasonOf(
        plan(aSnapshot({ nodes: [aNode()] }), [done], T0 + 3700 * SECOND, { ttlSecondsAfterFinished: 3600 }),
        "forget",
      ),
      "Done 3600 s ago, longer ago than --evacuation-ttl-seconds (3600 s): delete the record",
    );
  });
});
