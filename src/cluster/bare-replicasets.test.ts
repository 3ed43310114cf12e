import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1ReplicaSet } from "@kubernetes/client-node";
import { DEFAULT_BUDGETS } from "../planner/budgets.ts";
import { planEvacuations } from "../planner/planner.ts";
import { DEFAULT_POLICY } from "../planner/policy.ts";
import {
  aCordonedNode,
  aNode,
  aPod,
  aSnapshot,
  anEvacuation,
  ownedBy,
  T0,
} from "../../test/fixtures/snapshot-builders.ts";
import { bareReplicaSets, workloadView } from "./views.ts";

function rs(name: string, owner?: string): V1ReplicaSet {
  return {
    metadata: {
      name,
      namespace: "shop",
      ...(owner === undefined
        ? {}
        : { ownerReferences: [{ apiVersion: "x/v1", kind: owner, name: "o", uid: "u", controller: true }] }),
    },
    spec: { replicas: 2, selector: {} },
    status: { replicas: 2, readyReplicas: 2 },
  };
}

test("only ReplicaSets with no owner are scaled by lifeboat (not a Deployment's, not an Argo Rollout's)", () => {
  const kept = bareReplicaSets([rs("bare"), rs("web-7d9f8", "Deployment"), rs("canary-5c6d7", "Rollout")]);
  assert.deepEqual(
    kept.map((r) => r.metadata?.name),
    ["bare"],
  );
});

test("a bare ReplicaSet's pods are surged make-before-break, not left for the last responsible moment", () => {
  const workload = workloadView({ kind: "ReplicaSet", object: rs("bare") }, [], []);
  assert.deepEqual(workload.ref, { kind: "ReplicaSet", namespace: "shop", name: "bare" });
  const plan = planEvacuations({
    snapshot: aSnapshot({
      nodes: [aCordonedNode(), aNode({ name: "node-b" })],
      pods: [
        aPod({ name: "bare-a", owner: ownedBy("ReplicaSet", "bare") }),
        aPod({ name: "bare-b", nodeName: "node-b", owner: ownedBy("ReplicaSet", "bare") }),
      ],
      workloads: [workload],
    }),
    evacuations: [anEvacuation()],
    now: T0 + 1_000,
    budgets: DEFAULT_BUDGETS,
    policy: DEFAULT_POLICY,
  });
  const surge = plan.steps.find((s) => s.kind === "surge");
  assert.ok(surge !== undefined && surge.kind === "surge", JSON.stringify(plan.steps));
  assert.deepEqual(surge.workload, { kind: "ReplicaSet", namespace: "shop", name: "bare" });
  assert.deepEqual(surge.pods, ["bare-a"]);
});
