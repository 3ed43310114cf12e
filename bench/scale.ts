/**
 * Scale: an AZ-wide spot reclaim in a large cluster, and what it costs the controller.
 *
 *   npm run bench:scale -- [--sizes 100,300,1000] [--pods-per-node 30] [--share 0.1] [--keep-logs]
 *
 * For each size, a fresh lab: the real control plane (etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler; the last two with --kube-api-qps 300 so that 30 pods per node are created in minutes) and
 * KWOK nodes in three zones whose pods KWOK also plays (Ready as soon as bound, gone as soon as deleted: no
 * pod serves HTTP, the data plane is not what is measured). The workloads are Deployments of varied size
 * (3 to 60 replicas; every third with a PodDisruptionBudget, every tenth with preferred anti-affinity on the
 * hostname), a few StatefulSets, 30 pods per node in all, created as Deployments/StatefulSets so that the
 * real controller-manager and scheduler make and place the pods. Then `lifeboat run` (bin/lifeboat.js, a
 * process of its own, the lab's flags at time scale 1) and the cloud simulator's spot reclaims: `--share` of
 * the nodes (10%), all in us-east-1a, warned within 10 s (ten waves, one a second), each warning an
 * EventBridge message put into moto SQS as EC2 would (lab/cloud), each node dying 120 s after its warning.
 *
 * Per reclaimed node, from the bench's own watches on nodes and workloads (times are the bench's clock, from
 * just before the SendMessage call of the node's warning):
 * - notice -> cordon: the node is first seen unschedulable;
 * - notice -> surge: every Deployment with a pod on the node is seen with spec.replicas above its start;
 * - done before the deadline (the final line's done_before_deadline): every pod lifeboat had to move off the
 *   node was leaving (deletionTimestamp set: retired by the scale-down, or evicted at its last responsible
 *   moment) by its Evacuation's deadline, i.e. no pod still served on the node when it died;
 * - Done before the deadline (the table): its Evacuation is also Done (every surge retired: the replacements
 *   Ready) and its doneAt is not after its deadline.
 * And for the controller: peak RSS (VmHWM) and CPU seconds (utime + stime) from /proc of its pid, and its
 * API requests by verb from its own client (`lifeboat_kube_requests_total` on its /metrics).
 * The controller runs with the chart's heap flags (lab/harness/chart-heap.ts): its RSS as under the chart.
 *
 * Prints a table per size and the last line exactly (figures at the largest size run):
 *   scale: nodes=N pods=N reclaimed=N done_before_deadline=N cordon_p99_s=X surge_p99_s=X rss_mb=X cpu_s=X api_requests=N
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { CloudSimulator } from "../lab/cloud/cloud.ts";
import { cloudLabOf, sqsSender } from "../lab/cloud/kube.ts";
import { startLabEnv, type LabEnv } from "../lab/harness/env.ts";
import type { NodeGroupSpec } from "../lab/lab.ts";
import { scenarioSchema, type Scenario } from "../lab/scenarios/schema.ts";
import {
  BENCH_HANDLERS,
  isBenchHandler,
  procStats,
  startBenchHandler,
  type BenchHandler,
} from "./scale/handler.ts";
import {
  emptiedBy,
  evacuationFigures,
  latencies,
  readPlacement,
  requestsBetween,
  RssSampler,
  waitForEvacuations,
  Warnings,
  type Placement,
} from "./scale/measure.ts";
import { printSummary, printTable, type ReclaimFigures, type Result } from "./scale/report.ts";
import { Watcher } from "./scale/watcher.ts";
import { createWorkloads, planWorkloads, waitForPods, type WorkloadPlan } from "./scale/workloads.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "100,300,1000" },
    "pods-per-node": { type: "string", default: "30" },
    share: { type: "string", default: "0.1" },
    handlers: { type: "string", default: "lifeboat,nth" },
    "keep-logs": { type: "boolean", default: false },
  },
});
const handlers = values.handlers.split(",").map((h) => h.trim());
if (handlers.length === 0 || !handlers.every(isBenchHandler))
  throw new Error(`--handlers: a comma-separated list of ${BENCH_HANDLERS.join(", ")}`);
const sizes = values.sizes.split(",").map((s) => Number(s.trim()));
const podsPerNode = Number(values["pods-per-node"]);
const share = Number(values.share);
if (sizes.some((n) => !Number.isInteger(n) || n < 10)) throw new Error("--sizes: whole numbers, each >= 10");
if (!Number.isInteger(podsPerNode) || podsPerNode < 1) throw new Error("--pods-per-node: a positive integer");
if (!(share > 0 && share <= 0.3)) throw new Error("--share must be in (0, 0.3]");
if (values["keep-logs"]) process.env["LIFEBOAT_KEEP_LOGS"] = "1";

const ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"] as const;
/** Waves of warnings, one a second: every reclaimed node is warned within this many seconds. */
const WAVES = 10;
const FIRST_WAVE_AT = 5;
const NOTICE_LEAD_SECONDS = 120;
/** The controller-manager's and scheduler's client rate limit (their defaults, 20 and 50 QPS, take an hour). */
const COMPONENT_QPS = 300;

const log = (line: string): void => {
  process.stderr.write(`[scale ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

/** One size: its node groups (a third of the nodes in each zone) and its reclaim (`--share`, in waves). */
interface Size {
  nodes: number;
  groups: NodeGroupSpec[];
  perZone: number[];
  reclaimedCount: number;
  scenario: Scenario;
}

function planSize(nodes: number): Size {
  const perZone = ZONES.map((_, i) => Math.floor(nodes / 3) + (i < nodes % 3 ? 1 : 0));
  const groups = ZONES.map((zone, i) => ({ name: `spot-${zone.slice(-1)}`, zone, count: perZone[i] ?? 0 }));
  const reclaimedCount = Math.round(nodes * share);
  const perWave = Array.from(
    { length: WAVES },
    (_, i) => Math.floor(reclaimedCount / WAVES) + (i < reclaimedCount % WAVES ? 1 : 0),
  );
  const scenario = scenarioSchema.parse({
    name: "scale",
    description: "bench/scale.ts: an AZ-wide reclaim",
    timeScale: 1,
    cluster: { nodeGroups: groups },
    workloads: [{ name: "unused", replicas: 1 }],
    // The scenario format wants traffic; the bench sends none (no pod serves HTTP).
    traffic: { rps: 1, durationSeconds: FIRST_WAVE_AT + WAVES + NOTICE_LEAD_SECONDS, warmupSeconds: 0 },
    cloud: { eventDeliverySeconds: 0, noticeLeadSeconds: NOTICE_LEAD_SECONDS, nodeJoinSeconds: 70 },
    events: perWave
      .map((count, i) => ({ at: FIRST_WAVE_AT + i, kind: "spot-reclaim", nodes: { zone: ZONES[0], count } }))
      .filter((e) => e.nodes.count > 0),
  });
  return { nodes, groups, perZone, reclaimedCount, scenario };
}

/** The lab of one size: KWOK plays the pods, the control plane's components get a higher rate limit. */
async function startSizeLab(size: Size): Promise<LabEnv> {
  return startLabEnv({
    nodeGroups: size.groups,
    timeScale: 1,
    // Every node an EC2 instance in moto: NTH asks EC2 which node a warned instance is.
    ec2: true,
    lab: {
      podRuntime: false,
      kwokPods: true,
      componentQps: COMPONENT_QPS,
      // A /24 per node out of a /12: 4,096 nodes.
      clusterCidr: { cidr: "10.128.0.0/12", nodeMaskSize: 24 },
      nodeConcurrency: 50,
    },
    // The node groups' Auto Scaling groups, holding their instances, as EKS managed node groups have them.
    asgs: { groups: size.scenario.cluster.nodeGroups, maxSize: size.nodes },
  });
}

async function runSize(nodes: number, handler: BenchHandler): Promise<Result> {
  const t0 = performance.now();
  const size = planSize(nodes);
  log(
    `[${handler}] ${nodes} nodes (${size.perZone.join("/")} in ${ZONES.join(", ")}), ${podsPerNode} pods per node: starting the lab`,
  );
  await using env = await startSizeLab(size);
  log(`lab up in ${((performance.now() - t0) / 1000).toFixed(0)} s; creating the workloads`);
  const total = nodes * podsPerNode;
  const plan = planWorkloads(total, nodes);
  await createWorkloads(env.lab, plan);
  await waitForPods(env.lab, total, 3_600_000, log);
  const setupSeconds = (performance.now() - t0) / 1000;
  log(`${total} pods Ready ${setupSeconds.toFixed(0)} s after the start; starting ${handler}`);

  await using running = await startBenchHandler(handler, env, nodes);
  log(
    `${handler} started in ${running.syncSeconds.toFixed(1)} s (rss ${procStats(running.pid).rssMb.toFixed(0)} MB)`,
  );
  const placement = await readPlacement(env.lab);
  const watcher = new Watcher(placement.initialReplicas);
  await watcher.start(env.lab);
  await watcher.arm(placement.deploymentPods);
  const event = await reclaim(env, size, { handler, running, watcher, placement });
  return {
    handler,
    nodes,
    pods: total,
    ...workloadCounts(plan),
    setupSeconds,
    deploymentPods: placement.deploymentPods,
    minReady: watcher.minReady,
    syncSeconds: running.syncSeconds,
    ...event,
  };
}

function workloadCounts(
  plan: readonly WorkloadPlan[],
): Pick<Result, "deployments" | "statefulSets" | "pdbs"> {
  return {
    deployments: plan.filter((w) => w.kind === "Deployment").length,
    statefulSets: plan.filter((w) => w.kind === "StatefulSet").length,
    pdbs: plan.filter((w) => w.pdb).length,
  };
}

interface Measured {
  handler: BenchHandler;
  running: Awaited<ReturnType<typeof startBenchHandler>>;
  watcher: Watcher;
  placement: Placement;
}

/** The reclaim, from the first warning until the handler is done with every node, and what it cost. */
async function reclaim(
  env: LabEnv,
  size: Size,
  { handler, running, watcher, placement }: Measured,
): Promise<ReclaimFigures> {
  const { pid } = running;
  const before = await running.requests();
  const cpuBefore = procStats(pid).cpuSeconds;
  const warnings = new Warnings();
  const cloud = new CloudSimulator({
    lab: cloudLabOf(env.lab),
    send: warnings.sender(sqsSender(env.sqs, env.queueUrl)),
    hooks: { killNode: () => undefined },
    settings: size.scenario.cloud,
    nodeGroups: size.scenario.cluster.nodeGroups,
    events: size.scenario.events,
    timeScale: 1,
  });
  const loadAtEvent = loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
  log(`reclaiming ${size.reclaimedCount} nodes of ${ZONES[0]} in ${WAVES} waves (load ${loadAtEvent})`);
  const rss = new RssSampler(pid);
  cloud.start();
  const byInstance = new Map(env.lab.nodes.map((n) => [n.instanceId, n.name]));
  const seen = { warnings, watcher, placement, byInstance };
  const notes = await waitForEvacuations({
    ...seen,
    running,
    reclaimedCount: size.reclaimedCount,
    lastDeadline: FIRST_WAVE_AT + WAVES + NOTICE_LEAD_SECONDS,
    log,
  });
  const after = await running.requests();
  const end = procStats(pid);
  const rssPeakMb = rss.stop(end.rssPeakMb);
  watcher.stop();
  await cloud.stop();
  const reclaimedNodes = new Set([...warnings.sentAt.keys()].map((i) => byInstance.get(i)));
  return {
    reclaimed: warnings.sentAt.size,
    ...(handler === "lifeboat"
      ? await evacuationFigures(env.lab, reclaimedNodes)
      : { evacuations: null, doneBeforeDeadline: null }),
    emptiedBeforeDeadline: [...warnings.sentEpoch].filter(([instance, at]) =>
      emptiedBy(placement, watcher, byInstance.get(instance) ?? "", at + NOTICE_LEAD_SECONDS * 1000),
    ).length,
    ...latencies(seen, handler === "lifeboat"),
    rssPeakMb,
    cpuSeconds: end.cpuSeconds,
    cpuEventSeconds: end.cpuSeconds - cpuBefore,
    requests: after,
    eventRequests: requestsBetween(before, after),
    load: loadAtEvent,
    notes,
  };
}

async function main(): Promise<void> {
  const results: Result[] = [];
  for (const n of [...sizes].sort((a, b) => a - b))
    for (const h of handlers) {
      const r = await runSize(n, h as BenchHandler);
      results.push(r);
      printTable(r);
    }
  printSummary(results);
}

await main();
