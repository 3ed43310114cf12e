/**
 * Properties of every plan, over generated clusters:
 * 1. Before a pod's last responsible moment, while the replacements are not Ready, no plan removes a surged
 *    Deployment pod (no retire, no evict): Ready capacity never drops below desired while a surge can finish.
 * 2. At or after a pod's last responsible moment, every doomed pod still present and not terminating is
 *    covered by a retire, evict or force-delete step: it leaves the load balancer before the node dies. On an
 *    instance already leaving, DaemonSet and mirror pods are never removed, a StatefulSet pod is never
 *    force-deleted before the instance is stopped or terminated and its node out of service, and every other
 *    pod is force-deleted.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { Evacuation, SurgeRecord } from "../domain/evacuation.ts";
import type { Step } from "../domain/plan.ts";
import { EVACUATING_TAINT_KEY, OUT_OF_SERVICE_TAINT } from "../domain/plan.ts";
import type { PodView, WorkloadKind } from "../domain/snapshot.ts";
import {
  SECOND,
  T0,
  aCordonedNode,
  aDeployment,
  aNode,
  aPod,
  aSnapshot,
  anEvacuation,
  ownedBy,
} from "../../test/fixtures/snapshot-builders.ts";
import { DEFAULT_BUDGETS, lastResponsibleMoment } from "./budgets.ts";
import { DEFAULT_POLICY } from "./policy.ts";
import { planEvacuations } from "./planner.ts";

const preStop = fc.option(fc.integer({ min: 0, max: 60 }), { nil: null });

function removes(steps: Step[], pod: PodView): boolean {
  return steps.some(
    (s) =>
      ((s.kind === "evict" || s.kind === "force-delete") &&
        s.pod.namespace === pod.namespace &&
        s.pod.name === pod.name) ||
      (s.kind === "retire" && s.workload.namespace === pod.namespace && s.pods.includes(pod.name)),
  );
}

test("property: before the LRM, surged Deployment pods are never removed while replacements are not Ready", () => {
  const scenario = fc.record({
    doomed: fc.array(preStop, { minLength: 1, maxLength: 4 }),
    healthy: fc.integer({ min: 0, max: 4 }),
    replacements: fc.array(fc.boolean(), { maxLength: 4 }),
    surgedAlready: fc.boolean(),
    hpaExtra: fc.integer({ min: 0, max: 2 }),
    deadlineIn: fc.integer({ min: 30, max: 600 }),
    elapsed: fc.integer({ min: 0, max: 600 }),
  });
  fc.assert(
    fc.property(scenario, (s) => {
      const deadline = T0 + s.deadlineIn * SECOND;
      const now = T0 + Math.min(s.elapsed, s.deadlineIn) * SECOND;
      const doomed = s.doomed.map((p, i) => aPod({ name: `web-d${i}`, preStopSeconds: p }));
      const pods = [
        ...doomed,
        ...Array.from({ length: s.healthy }, (_, i) => aPod({ name: `web-h${i}`, nodeName: "node-b" })),
        ...s.replacements.map((ready, i) =>
          aPod({ name: `web-r${i}`, nodeName: "node-b", ready, createdAt: T0 + 2 * SECOND }),
        ),
      ];
      const k = s.surgedAlready ? doomed.length : 0;
      const spec = doomed.length + s.healthy + k + s.hpaExtra;
      const record: SurgeRecord = {
        workload: ownedBy("Deployment", "web"),
        pods: doomed.map((p) => p.name),
        by: doomed.length,
        issuedAt: T0 + SECOND,
        retiredAt: null,
      };
      const evac = anEvacuation({ deadline, surges: s.surgedAlready ? [record] : [] });
      const snapshot = aSnapshot({
        nodes: [aCordonedNode(), aNode({ name: "node-b" })],
        pods,
        workloads: [aDeployment({ specReplicas: spec })],
      });

      const steps = planEvacuations({
        snapshot,
        evacuations: [evac],
        now,
        budgets: DEFAULT_BUDGETS,
        policy: DEFAULT_POLICY,
      }).steps;

      const readyOutside = pods.filter((p) => p.nodeName === "node-b" && p.ready).length;
      const replacementsReady = k > 0 && readyOutside >= spec - k;
      if (!replacementsReady) {
        assert.equal(
          steps.some((st) => st.kind === "retire"),
          false,
          "retired before the replacements were Ready",
        );
      }
      for (const pod of doomed) {
        const lrm = lastResponsibleMoment(deadline, pod.preStopSeconds, DEFAULT_BUDGETS) ?? Infinity;
        if (now < lrm && !replacementsReady) {
          assert.equal(
            removes(steps, pod),
            false,
            `${pod.name} removed before its LRM with replacements not Ready`,
          );
        }
      }
    }),
    { numRuns: 300 },
  );
});

test("property: at or after the LRM every doomed pod still present and not terminating is removed in the plan", () => {
  const kinds: (WorkloadKind | "bare" | "unknown-deployment")[] = [
    "Deployment",
    "StatefulSet",
    "Job",
    "DaemonSet",
    "Other",
    "bare",
    "unknown-deployment",
  ];
  const doomedPod = fc.record({
    kind: fc.constantFrom(...kinds),
    preStop,
    ready: fc.boolean(),
    deleting: fc.boolean(),
    mirror: fc.boolean(),
    node: fc.constantFrom("node-a", "node-b"),
    record: fc.constantFrom("none", "outstanding", "retired"),
    retiredAgo: fc.integer({ min: 0, max: 30 }),
  });
  const scenario = fc.record({
    pods: fc.array(doomedPod, { minLength: 1, maxLength: 8 }),
    healthy: fc.array(fc.boolean(), { maxLength: 4 }),
    nodeBEvacuating: fc.boolean(),
    instanceGone: fc.boolean(),
    instanceState: fc.constantFrom(null, "stopping", "shutting-down", "stopped", "terminated" as const),
    outOfService: fc.boolean(),
    deadlineIn: fc.integer({ min: 30, max: 600 }),
    elapsed: fc.integer({ min: 0, max: 700 }),
  });
  fc.assert(
    fc.property(scenario, (s) => {
      const deadline = T0 + s.deadlineIn * SECOND;
      const now = T0 + s.elapsed * SECOND;
      const evacNodes = s.nodeBEvacuating ? ["node-a", "node-b"] : ["node-a"];
      const generated = s.pods.map((g, i) => ({
        g,
        pod: aPod({
          name: `p${i}`,
          nodeName: g.node,
          ready: g.ready,
          deleting: g.deleting,
          mirror: g.mirror,
          preStopSeconds: g.preStop,
          owner:
            g.kind === "bare"
              ? null
              : g.kind === "unknown-deployment"
                ? ownedBy("Deployment", "api")
                : g.kind === "Deployment"
                  ? ownedBy("Deployment", "web")
                  : ownedBy(g.kind, `w-${g.kind}`),
        }),
      }));
      const healthy = s.healthy.map((ready, i) =>
        aPod({ name: `web-h${i}`, nodeName: "node-c", ready, createdAt: T0 + 2 * SECOND }),
      );
      const evacuations: Evacuation[] = evacNodes.map((node) => {
        const surges: SurgeRecord[] = generated
          .filter(({ g }) => g.node === node && g.kind === "Deployment" && g.record !== "none")
          .map(({ g, pod }) => ({
            workload: ownedBy("Deployment", "web"),
            pods: [pod.name],
            by: 1,
            issuedAt: T0 + SECOND,
            retiredAt: g.record === "retired" ? now - g.retiredAgo * SECOND : null,
          }));
        return anEvacuation({
          nodeName: node,
          deadline,
          surges,
          instanceGone: node === "node-a" && s.instanceGone,
          instanceState: node === "node-a" && s.instanceGone ? s.instanceState : null,
        });
      });
      const webPods = generated.filter(({ g }) => g.kind === "Deployment").length + healthy.length;
      const snapshot = aSnapshot({
        nodes: [
          s.outOfService
            ? aCordonedNode({
                taints: [{ key: EVACUATING_TAINT_KEY, effect: "NoSchedule" }, { ...OUT_OF_SERVICE_TAINT }],
              })
            : aCordonedNode(),
          aCordonedNode({ name: "node-b" }),
          aNode({ name: "node-c" }),
        ],
        pods: [...generated.map((x) => x.pod), ...healthy],
        workloads: [aDeployment({ specReplicas: webPods })],
      });

      const steps = planEvacuations({
        snapshot,
        evacuations,
        now,
        budgets: DEFAULT_BUDGETS,
        policy: DEFAULT_POLICY,
      }).steps;

      for (const { g, pod } of generated) {
        if (!evacNodes.includes(g.node)) continue;
        const gone = g.node === "node-a" && s.instanceGone;
        if (gone) {
          const forceDeleted = steps.some(
            (x) => x.kind === "force-delete" && x.pod.namespace === pod.namespace && x.pod.name === pod.name,
          );
          if (pod.mirror || g.kind === "DaemonSet") {
            assert.equal(removes(steps, pod), false, `${pod.name} (${g.kind}) removed with its node`);
          } else if (g.kind === "StatefulSet") {
            const down =
              s.instanceState === null || s.instanceState === "stopped" || s.instanceState === "terminated";
            assert.equal(
              forceDeleted,
              down && s.outOfService,
              `${pod.name} (StatefulSet) at ${s.instanceState}`,
            );
            if (down && !s.outOfService)
              assert.ok(steps.some((x) => x.kind === "taint-out-of-service" && x.node === "node-a"));
            const lrm = lastResponsibleMoment(deadline, pod.preStopSeconds, DEFAULT_BUDGETS) ?? Infinity;
            if (!down && !pod.deleting && now >= lrm)
              assert.ok(
                removes(steps, pod),
                `${pod.name} (StatefulSet, ${s.instanceState}) kept past its LRM`,
              );
          } else {
            assert.ok(forceDeleted, `${pod.name} on a gone instance was not force-deleted`);
          }
          continue;
        }
        if (pod.mirror || pod.deleting || g.kind === "DaemonSet") {
          assert.equal(
            removes(steps, pod),
            false,
            `${pod.name} (${g.kind}, mirror ${pod.mirror}) must be left alone`,
          );
          continue;
        }
        const lrm = lastResponsibleMoment(deadline, pod.preStopSeconds, DEFAULT_BUDGETS) ?? Infinity;
        if (now >= lrm) assert.ok(removes(steps, pod), `${pod.name} (${g.kind}) still present at its LRM`);
      }
    }),
    { numRuns: 500 },
  );
});
