/**
 * The cordon and its undo as patches of the node read (issue 20, item 5): the uncordon restores only what
 * lifeboat's cordon changed; an unschedulable flag or an exclude-from-load-balancers label that was there
 * before stays. Each case applies the patches the way the API server applies a JSON merge patch and looks
 * at the node that results. (test/integration/actuators.test.ts runs the same writes against an apiserver.)
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { V1Node } from "@kubernetes/client-node";
import { EVACUATING_TAINT_KEY, EXCLUDE_FROM_LB_LABEL } from "../../domain/plan.ts";
import { cordonPatch, uncordonPatch, type NodePatch } from "./node.ts";

const CORDON = { taintKey: EVACUATING_TAINT_KEY, excludeFromLb: true };
const OTHER_TAINT = { key: "team.example/dedicated", value: "batch", effect: "NoSchedule" };

/** RFC 7386 JSON merge patch: objects merge, null removes, anything else replaces. */
function merge(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const out = new Map<string, unknown>(
    typeof target === "object" && target !== null && !Array.isArray(target) ? Object.entries(target) : [],
  );
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) out.delete(key);
    else out.set(key, merge(out.get(key), value));
  }
  return Object.fromEntries(out);
}

function apply(node: V1Node, patch: NodePatch | null): V1Node {
  return patch === null ? node : (merge(node, patch) as V1Node);
}

function aNode(extra: { unschedulable?: boolean; labels?: Record<string, string> } = {}): V1Node {
  return {
    metadata: { name: "node-a", labels: { "kubernetes.io/hostname": "node-a", ...extra.labels } },
    spec: {
      taints: [OTHER_TAINT],
      ...(extra.unschedulable === undefined ? {} : { unschedulable: extra.unschedulable }),
    },
  };
}

const cordoned = (node: V1Node, options = CORDON): V1Node => apply(node, cordonPatch(node, options));
const uncordoned = (node: V1Node): V1Node => apply(node, uncordonPatch(node, EVACUATING_TAINT_KEY));

/** What an operator sees of a node: is it cordoned, which taints, which LB label. */
function marks(node: V1Node) {
  return {
    unschedulable: node.spec?.unschedulable === true,
    taints: (node.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`),
    excludeLabel: node.metadata?.labels?.[EXCLUDE_FROM_LB_LABEL] ?? null,
  };
}

describe("cordonPatch / uncordonPatch", () => {
  test("a node lifeboat cordoned is given back as it was: schedulable, in the load balancers, others' taints kept", () => {
    const before = aNode();
    const during = cordoned(before);
    assert.deepEqual(marks(during), {
      unschedulable: true,
      taints: ["team.example/dedicated:NoSchedule", `${EVACUATING_TAINT_KEY}:NoSchedule`],
      excludeLabel: "true",
    });
    const after = uncordoned(during);
    assert.deepEqual(marks(after), marks(before));
    assert.deepEqual(after.metadata?.annotations ?? {}, {}, "nothing of lifeboat's is left on the node");
    assert.equal(uncordonPatch(after, EVACUATING_TAINT_KEY), null, "a second uncordon writes nothing");
  });

  test("a node someone else had cordoned stays cordoned after lifeboat's undo", () => {
    const before = aNode({ unschedulable: true });
    const after = uncordoned(cordoned(before));
    assert.deepEqual(marks(after), marks(before));
  });

  test("a node someone else had taken out of the load balancers stays out", () => {
    const before = aNode({ labels: { [EXCLUDE_FROM_LB_LABEL]: "true" } });
    assert.equal(marks(uncordoned(cordoned(before))).excludeLabel, "true");
  });

  test("an exclude label with another value gets that value back (it excludes by its presence)", () => {
    const before = aNode({ labels: { [EXCLUDE_FROM_LB_LABEL]: "" } });
    assert.equal(marks(uncordoned(cordoned(before))).excludeLabel, "");
  });

  test("a label someone changed while lifeboat's cordon was on is theirs: the undo leaves it", () => {
    const during = cordoned(aNode());
    const changed = apply(during, { metadata: { labels: { [EXCLUDE_FROM_LB_LABEL]: "maintenance" } } });
    assert.equal(marks(uncordoned(changed)).excludeLabel, "maintenance");
  });

  test("a cordon repeated after someone removed the label keeps what the first one recorded", () => {
    const before = aNode();
    const during = cordoned(before);
    assert.equal(cordonPatch(during, CORDON), null, "a cordoned node is not written again");
    const relabelled = cordoned(apply(during, { metadata: { labels: { [EXCLUDE_FROM_LB_LABEL]: null } } }));
    assert.deepEqual(marks(uncordoned(relabelled)), marks(before), "unschedulable was still lifeboat's");
  });

  test("a record left behind without lifeboat's taint is stale: a cordon of someone else's is not undone", () => {
    // Cordoned and undone by hand (taint and unschedulable removed, the record left), then cordoned by an
    // operator, then cordoned again by lifeboat.
    const byHand = apply(cordoned(aNode()), {
      spec: { unschedulable: null, taints: [OTHER_TAINT] },
      metadata: { labels: { [EXCLUDE_FROM_LB_LABEL]: null } },
    });
    const operators = apply(byHand, { spec: { unschedulable: true } });
    assert.equal(marks(uncordoned(cordoned(operators))).unschedulable, true);
  });

  test("an uncordon of a node lifeboat did not cordon changes nothing, even when repeated", () => {
    const theirs = aNode({ unschedulable: true, labels: { [EXCLUDE_FROM_LB_LABEL]: "true" } });
    assert.equal(uncordonPatch(theirs, EVACUATING_TAINT_KEY), null);
  });

  test("a cordon from before lifeboat recorded its changes is undone as it was then", () => {
    const old: V1Node = {
      metadata: { name: "node-a", labels: { [EXCLUDE_FROM_LB_LABEL]: "true" } },
      spec: {
        unschedulable: true,
        taints: [OTHER_TAINT, { key: EVACUATING_TAINT_KEY, effect: "NoSchedule" }],
      },
    };
    assert.deepEqual(marks(uncordoned(old)), {
      unschedulable: false,
      taints: ["team.example/dedicated:NoSchedule"],
      excludeLabel: null,
    });
  });

  test("without --exclude-from-load-balancers the label is neither set nor removed", () => {
    const options = { ...CORDON, excludeFromLb: false };
    const before = aNode({ labels: { [EXCLUDE_FROM_LB_LABEL]: "true" } });
    const during = cordoned(before, options);
    assert.equal(marks(during).excludeLabel, "true");
    assert.deepEqual(marks(uncordoned(during)), marks(before));
    assert.equal(marks(uncordoned(cordoned(aNode(), options))).excludeLabel, null);
  });
});
