/**
 * Headroom placeholders on a reclaimed node (issue 20, item 1): they are room, not a workload. The planner
 * never surges, evicts or warns about them and does not wait for them to leave; the headroom keeper puts
 * them back on another node.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Evacuation } from "../domain/evacuation.ts";
import { HEADROOM_LABEL } from "../domain/headroom.ts";
import type { Plan } from "../domain/plan.ts";
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
  ownedBy,
} from "../../test/fixtures/snapshot-builders.ts";
import { DEFAULT_BUDGETS } from "./budgets.ts";
import { DEFAULT_POLICY } from "./policy.ts";
import { planEvacuations } from "./planner.ts";

const HEADROOM = ownedBy("Deployment", "lifeboat-headroom-ng-spot", "lifeboat-system");

/** A placeholder as the keeper runs it: a pause pod of lifeboat's headroom Deployment, no preStop. */
const placeholder = aPod({
  namespace: "lifeboat-system",
  name: "lifeboat-headroom-ng-spot-7c9d-x2x4q",
  owner: HEADROOM,
  labels: { "app.kubernetes.io/name": "lifeboat-headroom", [HEADROOM_LABEL]: "spot" },
  preStopSeconds: null,
  terminationGracePeriodSeconds: 0,
  requests: { cpuMilli: 1000, memoryBytes: 2 * 2 ** 30 },
});

/** node-a reclaimed with web-0 and a placeholder; node-b has room; the headroom Deployment is in the snapshot. */
function snapshot(pods = [aPod({ name: "web-0" }), placeholder]): ClusterSnapshot {
  return aSnapshot({
    nodes: [aCordonedNode(), aNode({ name: "node-b" })],
    pods: [...pods, aPod({ name: "web-1", nodeName: "node-b" })],
    workloads: [aDeployment(), aDeployment({ ref: HEADROOM, specReplicas: 1, readyReplicas: 1 })],
  });
}

function plan(s: ClusterSnapshot, evacuations: Evacuation[], now: number): Plan {
  return planEvacuations({
    snapshot: s,
    evacuations,
    now,
    budgets: DEFAULT_BUDGETS,
    policy: DEFAULT_POLICY,
  });
}

const mentions = (plan: Plan, text: string): string[] =>
  plan.steps.map((s) => JSON.stringify(s)).filter((s) => s.includes(text));

describe("headroom placeholders on a reclaimed node", () => {
  test("are not surged, evicted or warned about; the workload beside them is surged as usual", () => {
    const p = plan(snapshot(), [anEvacuation()], T0 + 2 * SECOND);
    const surges = p.steps.filter((s) => s.kind === "surge");
    assert.deepEqual(
      surges.map((s) => [s.workload, s.pods]),
      [[ownedBy("Deployment", "web"), ["web-0"]]],
    );
    assert.deepEqual(mentions(p, "lifeboat-headroom"), [], "no step names the placeholder or its Deployment");
    assert.deepEqual(
      p.skipped.map((s) => s.pod),
      [{ namespace: "lifeboat-system", name: placeholder.name }],
      "the plan says it leaves the placeholder alone",
    );
  });

  test("at the last responsible moment the placeholder is still not evicted", () => {
    const evac = anEvacuation({ surges: [aSurgeRecord({ pods: ["web-0"] })] });
    const p = plan(snapshot(), [evac], T0 + 119 * SECOND);
    assert.deepEqual(
      p.steps.filter((s) => s.kind === "evict" || s.kind === "delete").map((s) => s.pod.name),
      ["web-0"],
    );
  });

  test("a node left holding only a placeholder is done once every surge is retired", () => {
    const evac = anEvacuation({
      surges: [aSurgeRecord({ pods: ["web-0"], retiredAt: T0 + 40 * SECOND })],
    });
    const p = plan(snapshot([placeholder]), [evac], T0 + 50 * SECOND);
    assert.deepEqual(
      p.steps.filter((s) => s.kind === "complete").map((s) => s.evacuation),
      [evac.name],
    );
  });

  test("a prewarm surges no placeholder either", () => {
    const prewarm = anEvacuation({ mode: "prewarm", deadline: null, noticeKind: "rebalance-recommendation" });
    const p = plan(snapshot(), [prewarm], T0 + 2 * SECOND);
    assert.deepEqual(mentions(p, "lifeboat-headroom"), []);
  });
});
