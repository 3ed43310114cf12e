/**
 * Property: whatever the interleaving of overlapping reclaims, surges, evictions at the last responsible
 * moment and replacements that become Ready late or never, a Deployment ends at its desired count once every
 * doomed pod is gone, with every surge closed (no pile-up of surges nobody takes back).
 *
 * The planner is driven in a loop against a small model of the parts it talks to: a ReplicaSet that creates
 * pods up to spec.replicas and removes the lowest-ranked ones above it (unready first, then the lowest
 * pod-deletion-cost, then the newest, as the ReplicaSet controller ranks them), and an executor that applies
 * each step to the model at once. Replacements become Ready after a generated delay, or never (no room).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { Evacuation } from "../domain/evacuation.ts";
import { POD_DELETION_COST_ANNOTATION, type Step } from "../domain/plan.ts";
import type { PodView } from "../domain/snapshot.ts";
import {
  SECOND,
  T0,
  aCordonedNode,
  aDeployment,
  aNode,
  aPod,
  aSnapshot,
  anEvacuation,
} from "../../test/fixtures/snapshot-builders.ts";
import { DEFAULT_BUDGETS } from "./budgets.ts";
import { DEFAULT_POLICY } from "./policy.ts";
import { planEvacuations } from "./planner.ts";

const NODES = ["node-0", "node-1", "node-2", "node-3"];

interface Model {
  now: number;
  spec: number;
  pods: PodView[];
  /** When each pod becomes Ready (ms); Infinity for one that never does. */
  readyAt: Map<string, number>;
  evacuations: Evacuation[];
  created: number;
}

interface Scenario {
  desired: number;
  /** Seconds after T0 at which each of the first nodes is reclaimed (120 s warning). */
  reclaims: number[];
  /** Seconds from creation to Ready of each pod the ReplicaSet creates, in order; null: never Ready. */
  readyDelays: (number | null)[];
  /** Seconds between two plans. */
  ticks: number[];
}

function rank(a: PodView, b: PodView): number {
  if (a.ready !== b.ready) return a.ready ? 1 : -1;
  const cost = (p: PodView): number => Number(p.annotations[POD_DELETION_COST_ANNOTATION] ?? "0");
  if (cost(a) !== cost(b)) return cost(a) - cost(b);
  return b.createdAt - a.createdAt;
}

/** The ReplicaSet controller: creates pods up to spec.replicas, removes the lowest-ranked ones above it. */
function reconcileReplicaSet(m: Model, s: Scenario): void {
  const active = m.pods.filter((p) => !p.deleting);
  for (const victim of [...active].sort(rank).slice(0, Math.max(0, active.length - m.spec)))
    m.pods = m.pods.filter((p) => p !== victim);
  for (let i = active.length; i < m.spec; i++) {
    const name = `web-n${m.created}`;
    const delay = s.readyDelays[m.created % s.readyDelays.length] ?? null;
    m.created += 1;
    m.readyAt.set(name, delay === null ? Infinity : m.now + delay * SECOND);
    m.pods.push(aPod({ name, nodeName: "node-z", ready: false, createdAt: m.now }));
  }
}

function updateEvacuation(m: Model, name: string, update: (e: Evacuation) => Evacuation): void {
  m.evacuations = m.evacuations.map((e) => (e.name === name ? update(e) : e));
}

/** The executor, reduced to what the model needs. */
function apply(m: Model, step: Step): void {
  switch (step.kind) {
    case "surge":
      m.spec += step.by;
      for (const r of step.records)
        updateEvacuation(m, r.evacuation, (e) => ({
          ...e,
          phase: "Surging",
          surges: [
            ...e.surges,
            { workload: step.workload, pods: r.pods, by: r.pods.length, issuedAt: m.now, retiredAt: null },
          ],
        }));
      return;
    case "retire":
      m.spec -= step.by;
      for (const ref of step.records)
        updateEvacuation(m, ref.evacuation, (e) => ({
          ...e,
          surges: e.surges.map((r, i) => (i === ref.index ? { ...r, retiredAt: m.now } : r)),
        }));
      return;
    case "mark-doomed":
      m.pods = m.pods.map((p) =>
        step.pods.includes(p.name)
          ? {
              ...p,
              annotations: { ...p.annotations, [POD_DELETION_COST_ANNOTATION]: String(step.deletionCost) },
            }
          : p,
      );
      return;
    case "evict":
    case "delete":
    case "force-delete":
      m.pods = m.pods.map((p) => (p.name === step.pod.name ? { ...p, deleting: true } : p));
      return;
    case "complete":
      updateEvacuation(m, step.evacuation, (e) => ({
        ...e,
        phase: "Done",
        timeline: { ...e.timeline, doneAt: m.now },
      }));
      return;
    case "fail":
      updateEvacuation(m, step.evacuation, (e) => ({
        ...e,
        phase: "Failed",
        timeline: { ...e.timeline, failedAt: m.now },
      }));
      return;
    case "hand-back":
      assert.fail(`nobody else scales the workload here, yet the plan hands a surge back: ${step.reason}`);
      return;
    default:
      return;
  }
}

function tick(m: Model, s: Scenario): void {
  // Terminating pods are gone by the next plan; pods become Ready when their time comes.
  m.pods = m.pods
    .filter((p) => !p.deleting)
    .map((p) => (!p.ready && (m.readyAt.get(p.name) ?? Infinity) <= m.now ? { ...p, ready: true } : p));
  for (const [i, at] of s.reclaims.entries()) {
    const nodeName = NODES[i] as string;
    if (T0 + at * SECOND > m.now || m.evacuations.some((e) => e.nodeName === nodeName)) continue;
    m.evacuations.push(
      anEvacuation({
        name: `evac-${nodeName}`,
        nodeName,
        noticedAt: T0 + at * SECOND,
        deadline: T0 + (at + 120) * SECOND,
        phase: "Pending",
      }),
    );
  }
  const reclaimed = new Set(m.evacuations.map((e) => e.nodeName));
  const snapshot = aSnapshot({
    takenAt: m.now,
    nodes: [
      ...NODES.map((name) => (reclaimed.has(name) ? aCordonedNode({ name }) : aNode({ name }))),
      aNode({ name: "node-z" }),
    ],
    pods: m.pods,
    workloads: [aDeployment({ specReplicas: m.spec, readyReplicas: m.pods.filter((p) => p.ready).length })],
  });
  const { steps } = planEvacuations({
    snapshot,
    evacuations: m.evacuations,
    now: m.now,
    budgets: DEFAULT_BUDGETS,
    policy: DEFAULT_POLICY,
  });
  for (const step of steps) apply(m, step);
  reconcileReplicaSet(m, s);
}

test("property: overlapping surges settle at the desired count once every doomed pod is gone", () => {
  const scenario = fc.record({
    desired: fc.integer({ min: 2, max: 8 }),
    reclaims: fc.array(fc.integer({ min: 0, max: 90 }), { minLength: 1, maxLength: 4 }),
    readyDelays: fc.array(fc.option(fc.integer({ min: 1, max: 150 }), { nil: null, freq: 3 }), {
      minLength: 1,
      maxLength: 12,
    }),
    ticks: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 8 }),
  });
  fc.assert(
    fc.property(scenario, (s) => {
      // The desired pods spread over the four spot nodes; node-z (never reclaimed) takes every new pod.
      const pods = Array.from({ length: s.desired }, (_, i) =>
        aPod({ name: `web-${i}`, nodeName: NODES[i % NODES.length] as string }),
      );
      const m: Model = {
        now: T0,
        spec: s.desired,
        pods,
        readyAt: new Map(),
        evacuations: [],
        created: 0,
      };
      const end = T0 + (Math.max(...s.reclaims) + 120 + 60) * SECOND;
      for (let i = 0; m.now <= end; i++) {
        tick(m, s);
        m.now += (s.ticks[i % s.ticks.length] as number) * SECOND;
      }
      const doomedLeft = m.pods.filter(
        (p) => /^web-\d+$/.test(p.name) && m.evacuations.some((e) => e.nodeName === p.nodeName),
      );
      assert.deepEqual(
        doomedLeft.map((p) => p.name),
        [],
        "doomed pods still there after every deadline",
      );
      const open = m.evacuations.flatMap((e) =>
        e.surges.filter((r) => r.retiredAt === null).map((r) => `${e.name}:${r.pods.join()}`),
      );
      assert.deepEqual(open, [], "surges never taken back");
      assert.equal(m.spec, s.desired, "spec.replicas is not the desired count");
    }),
    { numRuns: 300 },
  );
});
