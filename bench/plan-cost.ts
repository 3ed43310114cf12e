/**
 * What one plan costs the controller at cluster sizes the lab cannot run: the pure planner
 * (src/planner/planner.ts) on a synthetic snapshot, no API server.
 *
 *   npm run bench:plan -- [--sizes 1000,3000,10000] [--pods-per-node 30] [--share 0.1] [--rounds 5]
 *
 * Per size: N nodes in three zones, 30 pods per node from Deployments of 3 to 60 replicas (the scale
 * bench's mix), 10% of the us-east-1a nodes under a spot warning. Two plans are timed: the first (every
 * node to cordon) and a later one (nodes cordoned, every workload surged, replacements Pending). Prints
 * the median milliseconds per plan and the steps it carries, and the last line:
 *   plan-cost: nodes=N pods=N evacuations=N first_ms=X later_ms=X
 */
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { planEvacuations } from "../src/planner/planner.ts";
import { DEFAULT_BUDGETS } from "../src/planner/budgets.ts";
import { DEFAULT_POLICY } from "../src/planner/policy.ts";
import type { Evacuation } from "../src/domain/evacuation.ts";
import type { ClusterSnapshot, NodeView, PodView, WorkloadView } from "../src/domain/snapshot.ts";
import { EVACUATING_TAINT_KEY, EXCLUDE_FROM_LB_LABEL } from "../src/domain/plan.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "1000,3000,10000" },
    "pods-per-node": { type: "string", default: "30" },
    share: { type: "string", default: "0.1" },
    rounds: { type: "string", default: "5" },
  },
});
const sizes = values.sizes.split(",").map(Number);
const podsPerNode = Number(values["pods-per-node"]);
const share = Number(values.share);
const rounds = Number(values.rounds);
const ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"];
const SIZES = [3, 5, 10, 20, 40, 60];
const NOW = Date.parse("2026-11-29T12:00:00Z");

function cluster(n: number): { snapshot: ClusterSnapshot; evacuations: Evacuation[] } {
  const nodes: NodeView[] = Array.from({ length: n }, (_, i) => ({
    name: `node-${i}`,
    instanceId: `i-${i.toString(16).padStart(17, "0")}`,
    nodeGroup: "spot",
    zone: ZONES[i % 3] ?? "us-east-1a",
    ready: true,
    unschedulable: false,
    taints: [],
    labels: {},
    allocatable: { cpuMilli: 64_000, memoryBytes: 256 * 2 ** 30, pods: 110 },
    evacuateRequest: null,
  }));
  const workloads: WorkloadView[] = [];
  const pods: PodView[] = [];
  let slot = 0;
  for (let w = 0; pods.length < n * podsPerNode; w++) {
    const replicas = Math.min(SIZES[w % SIZES.length] ?? 3, n * podsPerNode - pods.length);
    const ref = { kind: "Deployment" as const, namespace: `ns-${w % 20}`, name: `app-${w}` };
    workloads.push({
      ref,
      specReplicas: replicas,
      readyReplicas: replicas,
      statusReplicas: replicas,
      expectedReadySeconds: 5,
      hpa: null,
      rollingOut: false,
      surgeLedger: [],
      ledgerReplicas: null,
    });
    for (let r = 0; r < replicas; r++, slot++) {
      pods.push({
        namespace: ref.namespace,
        name: `app-${w}-${r}`,
        uid: `uid-${w}-${r}`,
        nodeName: `node-${(slot * 7919) % n}`,
        phase: "Running",
        ready: true,
        createdAt: NOW - 3_600_000,
        readyAt: NOW - 3_595_000,
        deleting: false,
        owner: ref,
        mirror: false,
        labels: { app: `app-${w}` },
        annotations: {},
        preStopSeconds: 5,
        terminationGracePeriodSeconds: 30,
        requests: { cpuMilli: 100, memoryBytes: 128 * 2 ** 20 },
        onePerNode: false,
      });
    }
  }
  const doomed = nodes.filter((x) => x.zone === "us-east-1a").slice(0, Math.round(n * share));
  const evacuations: Evacuation[] = doomed.map((x, i) => ({
    name: `evac-${x.name}`,
    nodeName: x.name,
    instanceId: x.instanceId,
    mode: "evacuate",
    noticeIds: [`notice-${i}`],
    noticeKind: "spot-interruption",
    deadline: NOW + 120_000,
    certainDeadline: NOW + 120_000,
    instanceState: null,
    noticedAt: NOW,
    phase: "Pending",
    surges: [],
    evictions: [],
    timeline: { noticedAt: NOW },
    instanceGone: false,
  }));
  return { snapshot: { takenAt: NOW, nodes, pods, workloads, pdbs: [] }, evacuations };
}

function timed(input: Parameters<typeof planEvacuations>[0]): { ms: number; steps: number } {
  const samples: number[] = [];
  let steps = 0;
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    steps = planEvacuations(input).steps.length;
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return { ms: samples[Math.floor(samples.length / 2)] ?? 0, steps };
}

let last = "";
for (const n of sizes) {
  const { snapshot, evacuations } = cluster(n);
  const base = { now: NOW, budgets: DEFAULT_BUDGETS, policy: DEFAULT_POLICY };
  const first = timed({ ...base, snapshot, evacuations });
  // Later: the doomed nodes cordoned, the plan's surges applied (replicas up, records written).
  const plan = planEvacuations({ ...base, snapshot, evacuations });
  const doomedNodes = new Set(evacuations.map((e) => e.nodeName));
  const nodes = snapshot.nodes.map((x) =>
    doomedNodes.has(x.name)
      ? {
          ...x,
          unschedulable: true,
          taints: [{ key: EVACUATING_TAINT_KEY, effect: "NoSchedule" as const }],
          labels: { [EXCLUDE_FROM_LB_LABEL]: "true" },
        }
      : x,
  );
  const surged = new Map<string, number>();
  const byName = new Map(
    evacuations.map((e) => [
      e.name,
      { ...e, phase: "Cordoned" as const, surges: [] as Evacuation["surges"] },
    ]),
  );
  for (const step of plan.steps) {
    if (step.kind !== "surge") continue;
    const key = `${step.workload.namespace}/${step.workload.name}`;
    surged.set(key, step.by);
    for (const r of step.records) {
      byName.get(r.evacuation)?.surges.push({
        id: `${r.evacuation}-${key}`,
        workload: step.workload,
        pods: r.pods,
        by: r.pods.length,
        issuedAt: NOW,
        retiredAt: null,
      });
    }
  }
  const workloads = snapshot.workloads.map((w) => {
    const by = surged.get(`${w.ref.namespace}/${w.ref.name}`) ?? 0;
    return { ...w, specReplicas: w.specReplicas + by };
  });
  const later = timed({
    ...base,
    now: NOW + 2000,
    snapshot: { ...snapshot, nodes, workloads },
    evacuations: [...byName.values()],
  });
  const surges = plan.steps.filter((s) => s.kind === "surge").length;
  process.stdout.write(
    `${n} nodes, ${snapshot.pods.length} pods, ${evacuations.length} evacuations: first plan ${first.ms.toFixed(1)} ms (${first.steps} steps, ${surges} surges), later plan ${later.ms.toFixed(1)} ms (${later.steps} steps)\n`,
  );
  last = `plan-cost: nodes=${n} pods=${snapshot.pods.length} evacuations=${evacuations.length} first_ms=${first.ms.toFixed(1)} later_ms=${later.ms.toFixed(1)}`;
}
process.stdout.write(`${last}\n`);
