import assert from "node:assert/strict";
import { test } from "node:test";
import type { Plan } from "../domain/plan.ts";
import {
  SECOND,
  T0,
  aDeployment,
  aNode,
  aPod,
  aSnapshot,
  anEvacuation,
  ownedBy,
} from "../../test/fixtures/snapshot-builders.ts";
import { DEFAULT_BUDGETS } from "./budgets.ts";
import { DEFAULT_POLICY } from "./policy.ts";
import { describePlan } from "./describe.ts";
import { planEvacuations } from "./planner.ts";

test("describePlan prints one line per step with its reason, the skipped pods and the next review", () => {
  const now = T0 + 2 * SECOND;
  const snapshot = aSnapshot({
    nodes: [aNode(), aNode({ name: "node-b" })],
    pods: [
      aPod({ name: "web-0", preStopSeconds: null }),
      aPod({ name: "web-1", nodeName: "node-b" }),
      aPod({ name: "db-0", owner: ownedBy("StatefulSet", "db") }),
      aPod({ name: "kube-proxy-node-a", namespace: "kube-system", owner: null, mirror: true }),
    ],
    workloads: [aDeployment({ specReplicas: 2 })],
  });
  const plan = planEvacuations({
    snapshot,
    evacuations: [anEvacuation()],
    now,
    budgets: DEFAULT_BUDGETS,
    policy: DEFAULT_POLICY,
  });

  assert.deepEqual(describePlan(plan, now), [
    "cordon node-a: spot-interruption for i-0dea0000 (deadline in 118 s): cordon, taint lifeboat.dev/evacuating:NoSchedule and label node.kubernetes.io/exclude-from-external-load-balancers=true so nothing new lands here and instance-mode target groups let the node go",
    "surge Deployment/shop/web +1 (web-0): 1 pod of Deployment/shop/web on evacuating node(s) node-a: add 1 replica(s) elsewhere before any is removed (make before break)",
    "mark web-0 of Deployment/shop/web with pod-deletion-cost -100000: mark 1 doomed pod of Deployment/shop/web with pod-deletion-cost -100000 so that scaling back removes them, not their replacements",
    "evict shop/db-0 on node-a: StatefulSet db replaces a pod only once the old one is gone (same identity): evict at once so the replacement gets the most time before the deadline",
    "warn ShortPreStop Deployment/shop/web: no preStop sleep on web-0, shorter than the load balancer propagation (20 s): after deletion the ALB keeps sending new requests for up to 20 s and they hit a closed socket (502); add a preStop sleep of at least 20 s",
    "wait Deployment/shop/web until in 5 s: waiting for replacements of Deployment/shop/web to be Ready (surge of 1 just issued) before removing 1 doomed pod; last responsible moment in 83 s",
    "skip kube-system/kube-proxy-node-a on node-a: mirror pod of a static pod: the kubelet owns it, the API cannot move it",
    "next review: in 5 s",
  ]);
});

test("describePlan without a clock prints absolute times, and says when there is nothing to do", () => {
  const plan: Plan = {
    steps: [{ kind: "wait", until: T0, subject: "shop/debug", reason: "bare pod keeps serving" }],
    skipped: [],
    nextReviewAt: T0,
  };
  assert.deepEqual(describePlan(plan), [
    "wait shop/debug until 2026-11-24T12:00:00.000Z: bare pod keeps serving",
    "next review: 2026-11-24T12:00:00.000Z",
  ]);
  assert.deepEqual(describePlan({ steps: [], skipped: [], nextReviewAt: null }), [
    "nothing to do",
    "next review: when the cluster changes",
  ]);
});
