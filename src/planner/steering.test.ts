import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { NodeView } from "../domain/snapshot.ts";
import type { SteeringSettings } from "../domain/steering.ts";
import { POOL_TAINT_KEY } from "../domain/steering.ts";
import { SECOND, T0, aNode, anEvacuation } from "../../test/fixtures/snapshot-builders.ts";
import { planSteering } from "./steering.ts";

const SETTINGS: SteeringSettings = { threshold: 2, windowSeconds: 300, taintSeconds: 1800 };

function node(name: string, zone: string, type = "m5.xlarge", extra: Partial<NodeView> = {}): NodeView {
  return aNode({ name, zone, labels: { "node.kubernetes.io/instance-type": type }, ...extra });
}

/** The lab's az-reclaim: four m5.xlarge nodes per zone in three zones. */
const NODES = ["a", "b", "c"].flatMap((z) => [1, 2, 3, 4].map((i) => node(`${z}${i}`, `us-east-1${z}`)));

const notice = (nodeName: string, at: number, phase: "Cordoned" | "Done" = "Cordoned") =>
  anEvacuation({ name: `evac-${nodeName}`, nodeName, noticedAt: at, phase });

describe("planSteering", () => {
  test("two notices in one pool within the window: the pool's other nodes are tainted until the latest + 30 min", () => {
    const steps = planSteering({
      nodes: NODES,
      evacuations: [notice("a1", T0), notice("a2", T0 + 2 * SECOND)],
      now: T0 + 3 * SECOND,
      settings: SETTINGS,
    });
    const until = Math.ceil((T0 + 2 * SECOND + 1800 * SECOND) / 1000);
    assert.deepEqual(
      steps.map((s) => [s.kind, s.node, s.kind === "taint" ? s.until : null]),
      [
        ["taint", "a3", until],
        ["taint", "a4", until],
      ],
      "the doomed nodes themselves are left alone; other zones untouched",
    );
  });

  test("one notice, or two further apart than the window, or in different pools: no steering", () => {
    const cases = [
      [notice("a1", T0)],
      [notice("a1", T0), notice("a2", T0 + 301 * SECOND)],
      [notice("a1", T0), notice("b1", T0 + 1 * SECOND)],
    ];
    for (const evacuations of cases)
      assert.deepEqual(
        planSteering({ nodes: NODES, evacuations, now: T0 + 400 * SECOND, settings: SETTINGS }),
        [],
      );
  });

  test("another instance type in the same zone is another pool", () => {
    const nodes = [...NODES, node("a5", "us-east-1a", "c5.xlarge")];
    const steps = planSteering({
      nodes,
      evacuations: [notice("a1", T0), notice("a2", T0)],
      now: T0,
      settings: SETTINGS,
    });
    assert.ok(!steps.some((s) => s.node === "a5"));
  });

  test("finished evacuations still count; a node already tainted until then is left alone", () => {
    const until = Math.ceil((T0 + 1800 * SECOND) / 1000);
    const tainted = node("a3", "us-east-1a", "m5.xlarge", {
      taints: [{ key: POOL_TAINT_KEY, value: String(until), effect: "PreferNoSchedule" }],
    });
    const nodes = NODES.map((n) => (n.name === "a3" ? tainted : n));
    const steps = planSteering({
      nodes,
      evacuations: [notice("a1", T0, "Done"), notice("a2", T0, "Done")],
      now: T0 + 600 * SECOND,
      settings: SETTINGS,
    });
    assert.deepEqual(
      steps.map((s) => [s.kind, s.node]),
      [
        ["taint", "a1"],
        ["taint", "a2"],
        ["taint", "a4"],
      ],
      "Done nodes that are still there are steered too; a3 already carries the taint",
    );
  });

  test("a later notice of the same burst does not rewrite every taint for seconds; one that gains a tenth of the time does", () => {
    const first = Math.ceil((T0 + 2 * SECOND + 1800 * SECOND) / 1000);
    const tainted = NODES.map((n) =>
      n.name === "a3" || n.name === "a4"
        ? {
            ...n,
            taints: [{ key: POOL_TAINT_KEY, value: String(first), effect: "PreferNoSchedule" as const }],
          }
        : n,
    );
    const plan = (latest: number) =>
      planSteering({
        nodes: tainted,
        evacuations: [notice("a1", T0), notice("a2", T0 + 2 * SECOND), notice("a3", latest)],
        now: latest + SECOND,
        settings: SETTINGS,
      }).map((s) => `${s.kind} ${s.node}`);
    assert.deepEqual(plan(T0 + 10 * SECOND), [], "8 s later: the taint stays as written");
    assert.deepEqual(plan(T0 + 190 * SECOND), ["taint a4"], "188 s later (over 180 s): rewritten");
  });

  test("the taint is removed once it expired, and not before", () => {
    const until = Math.ceil((T0 + 1800 * SECOND) / 1000);
    const tainted = node("a3", "us-east-1a", "m5.xlarge", {
      taints: [{ key: POOL_TAINT_KEY, value: String(until), effect: "PreferNoSchedule" }],
    });
    const evacuations = [notice("a1", T0, "Done"), notice("a2", T0, "Done")];
    const at = (now: number) => planSteering({ nodes: [tainted], evacuations, now, settings: SETTINGS });
    assert.deepEqual(at(T0 + 1799 * SECOND), []);
    assert.deepEqual(
      at(T0 + 1800 * SECOND).map((s) => [s.kind, s.node]),
      [["untaint", "a3"]],
    );
  });

  test("threshold 0 plans nothing but still removes expired taints", () => {
    const tainted = node("a3", "us-east-1a", "m5.xlarge", {
      taints: [{ key: POOL_TAINT_KEY, value: "1", effect: "PreferNoSchedule" }],
    });
    const steps = planSteering({
      nodes: [...NODES, tainted],
      evacuations: [notice("a1", T0), notice("a2", T0)],
      now: T0,
      settings: { ...SETTINGS, threshold: 0 },
    });
    assert.deepEqual(
      steps.map((s) => [s.kind, s.node]),
      [["untaint", "a3"]],
    );
  });
  test("state changes of the reclaimed nodes neither make a burst nor extend one", () => {
    const stateChange = (nodeName: string, at: number) =>
      anEvacuation({
        name: `sc-${nodeName}`,
        nodeName,
        noticedAt: at,
        noticeKind: "instance-state-change",
        phase: "Done",
      });
    const steps = planSteering({
      nodes: NODES,
      evacuations: [
        notice("a1", T0),
        notice("a2", T0),
        stateChange("a1", T0 + 120 * SECOND),
        stateChange("a3", T0),
      ],
      now: T0 + 121 * SECOND,
      settings: SETTINGS,
    });
    const until = Math.ceil((T0 + 1800 * SECOND) / 1000);
    assert.deepEqual(
      steps.map((s) => [s.kind, s.node, s.kind === "taint" ? s.until : null]),
      [
        ["taint", "a3", until],
        ["taint", "a4", until],
      ],
    );
  });
});
