/** When a PodDisruptionBudget may be overridden (issue 19 item 1): one rule per notice kind, then per evacuation. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SECOND, T0, anEvacuation } from "../../test/fixtures/snapshot-builders.ts";
import { DEFAULT_BUDGETS, lastResponsibleMoment } from "./budgets.ts";
import { deathIsCertain, pdbRule } from "./death.ts";

describe("deathIsCertain: does a notice's deadline end the node for certain?", () => {
  test("spot interruption warning: yes, EC2 reclaims the instance at the deadline", () => {
    assert.equal(deathIsCertain({ kind: "spot-interruption" }), true);
  });
  test("instance state change (stopping, shutting-down, stopped, terminated): yes, it is leaving now", () => {
    assert.equal(deathIsCertain({ kind: "instance-state-change" }), true);
  });
  test("scheduled retirement (or stop): yes, at its start time", () => {
    assert.equal(deathIsCertain({ kind: "scheduled-change", scheduledChange: "retirement" }), true);
  });
  test("scheduled reboot or maintenance, or a scheduled change of unknown kind: no, the instance comes back", () => {
    assert.equal(deathIsCertain({ kind: "scheduled-change", scheduledChange: "reboot" }), false);
    assert.equal(deathIsCertain({ kind: "scheduled-change", scheduledChange: "maintenance" }), false);
    assert.equal(deathIsCertain({ kind: "scheduled-change" }), false);
  });
  test("ASG lifecycle hook: no, lifeboat heartbeats it and the instance waits for lifeboat", () => {
    assert.equal(deathIsCertain({ kind: "asg-lifecycle-terminate" }), false);
  });
  test("manual deadline (lifeboat evacuate, the annotation): no, an operator can move it", () => {
    assert.equal(deathIsCertain({ kind: "manual" }), false);
  });
  test("rebalance recommendation: no, it has no deadline", () => {
    assert.equal(deathIsCertain({ kind: "rebalance-recommendation" }), false);
  });
});

describe("pdbRule: at a pod's last responsible moment, does a refusing PodDisruptionBudget hold it?", () => {
  const preStop = 25;
  const lrmOf = (deadline: number) => lastResponsibleMoment(deadline, preStop, DEFAULT_BUDGETS) ?? 0;
  const deadline = T0 + 120 * SECOND;

  test("overridden once the pod's LRM before the node's certain end has come", () => {
    const rule = pdbRule(anEvacuation(), preStop, DEFAULT_BUDGETS, lrmOf(deadline));
    assert.equal(rule.override, true);
  });

  test("overridden at once when the instance is already leaving", () => {
    const gone = anEvacuation({ instanceGone: true, noticeKind: "manual", certainDeadline: null });
    assert.equal(pdbRule(gone, preStop, DEFAULT_BUDGETS, T0).override, true);
  });

  for (const noticeKind of ["manual", "asg-lifecycle-terminate", "scheduled-change"] as const) {
    test(`held for as long as it refuses when the deadline is a ${noticeKind} one`, () => {
      const rule = pdbRule(anEvacuation({ noticeKind }), preStop, DEFAULT_BUDGETS, lrmOf(deadline));
      assert.deepEqual(
        { override: rule.override, until: "until" in rule ? rule.until : "-" },
        {
          override: false,
          until: null,
        },
      );
    });
  }

  test("a manual deadline before a spot warning's: held until the pod's LRM before the warning's deadline", () => {
    const manual = anEvacuation({
      noticeKind: "manual",
      deadline: T0 + 60 * SECOND,
      certainDeadline: deadline,
    });
    const held = pdbRule(manual, preStop, DEFAULT_BUDGETS, lrmOf(T0 + 60 * SECOND));
    assert.deepEqual(
      { override: held.override, until: "until" in held ? held.until : "-" },
      {
        override: false,
        until: lrmOf(deadline),
      },
    );
    assert.equal(pdbRule(manual, preStop, DEFAULT_BUDGETS, lrmOf(deadline)).override, true);
  });
});
