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
 * The controller runs with the chart's heap flags (test/helpers/chart-heap.ts): its RSS as under the chart.
 *
 * Prints a table per size and the last line exactly (figures at the largest size run):
 *   scale: nodes=N pods=N reclaimed=N done_before_deadline=N cordon_p99_s=X surge_p99_s=X rss_mb=X cpu_s=X api_requests=N
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { loadavg } from "node:os";
import {
  Watch,
  type V1Deployment,
  type V1Node,
  type V1Pod,
  type V1PodTemplateSpec,
} from "@kubernetes/client-node";
import { LabAsgs } from "../lab/cloud/asg.ts";
import { CloudSimulator } from "../lab/cloud/cloud.ts";
import { cloudLabOf, sqsSender } from "../lab/cloud/kube.ts";
import { scenarioSchema } from "../lab/scenarios/schema.ts";
import type { Lab } from "../lab/lab.ts";
import { startHandler } from "../lab/harness/handlers.ts";
import { chartNodeOptions } from "../test/helpers/chart-heap.ts";
import { startController, type ControllerProcess } from "../test/helpers/controller-process.ts";
import { listEvacuations, NS, startControllerLab, type ControllerLab } from "../test/helpers/lab-env.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "100,300,1000" },
    "pods-per-node": { type: "string", default: "30" },
    share: { type: "string", default: "0.1" },
    handlers: { type: "string", default: "lifeboat,nth" },
    "keep-logs": { type: "boolean", default: false },
  },
});
const BENCH_HANDLERS = ["lifeboat", "nth", "nth-tuned"] as const;
type BenchHandler = (typeof BENCH_HANDLERS)[number];
const isBenchHandler = (h: string): h is BenchHandler => (BENCH_HANDLERS as readonly string[]).includes(h);
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
const DEPLOYMENT_SIZES = [3, 5, 10, 20, 40, 60] as const;
const STATEFULSET_REPLICAS = 5;

const log = (line: string): void => {
  process.stderr.write(`[scale ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

// ---- the workloads ---------------------------------------------------------------------------------------

interface WorkloadPlan {
  kind: "Deployment" | "StatefulSet";
  name: string;
  replicas: number;
  pdb: boolean;
  antiAffinity: boolean;
}

/** Deployments of varied size and a few StatefulSets, `total` pods in all. */
export function planWorkloads(total: number, nodes: number): WorkloadPlan[] {
  const out: WorkloadPlan[] = [];
  const statefulSets = Math.max(3, Math.round(nodes / 100));
  for (let i = 0; i < statefulSets; i++)
    out.push({
      kind: "StatefulSet",
      name: `db-${i}`,
      replicas: STATEFULSET_REPLICAS,
      pdb: true,
      antiAffinity: true,
    });
  let left = total - statefulSets * STATEFULSET_REPLICAS;
  for (let i = 0; left > 0; i++) {
    const replicas = Math.min(left, DEPLOYMENT_SIZES[i % DEPLOYMENT_SIZES.length] ?? 10);
    out.push({
      kind: "Deployment",
      name: `app-${i}`,
      replicas,
      pdb: i % 3 === 0,
      antiAffinity: i % 10 === 0,
    });
    left -= replicas;
  }
  return out;
}

function podTemplate(w: WorkloadPlan): V1PodTemplateSpec {
  return {
    metadata: { labels: { app: w.name, bench: "scale" } },
    spec: {
      containers: [
        {
          name: "app",
          image: "lab/app:1",
          resources: { requests: { cpu: "100m", memory: "128Mi" } },
          // What an ALB-fronted app carries (the seed's): a preStop sleep as long as the deregistration takes.
          // KWOK runs no preStop; the planner reads it for the last responsible moment.
          lifecycle: { preStop: { sleep: { seconds: 20 } } },
        },
      ],
      terminationGracePeriodSeconds: 30,
      ...(w.antiAffinity
        ? {
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  {
                    weight: 100,
                    podAffinityTerm: {
                      topologyKey: "kubernetes.io/hostname",
                      labelSelector: { matchLabels: { app: w.name } },
                    },
                  },
                ],
              },
            },
          }
        : {}),
    },
  };
}

async function createWorkloads(lab: Lab, plan: readonly WorkloadPlan[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < plan.length) {
      const w = plan[next++];
      if (w === undefined) return;
      const selector = { matchLabels: { app: w.name } };
      if (w.kind === "Deployment") {
        await lab.apps.createNamespacedDeployment({
          namespace: NS,
          body: {
            metadata: { name: w.name, labels: { bench: "scale" } },
            spec: { replicas: w.replicas, selector, template: podTemplate(w) },
          },
        });
      } else {
        await lab.apps.createNamespacedStatefulSet({
          namespace: NS,
          body: {
            metadata: { name: w.name, labels: { bench: "scale" } },
            spec: {
              replicas: w.replicas,
              serviceName: w.name,
              podManagementPolicy: "Parallel",
              selector,
              template: podTemplate(w),
            },
          },
        });
      }
      if (w.pdb) {
        await lab.policy.createNamespacedPodDisruptionBudget({
          namespace: NS,
          body: { metadata: { name: w.name }, spec: { maxUnavailable: 1, selector } },
        });
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

/** Every pod, paged (30,000 pods in one response is a few hundred MB of JSON). */
async function listPods(lab: Lab): Promise<V1Pod[]> {
  const out: V1Pod[] = [];
  let cont: string | undefined;
  do {
    const page = await lab.core.listNamespacedPod({
      namespace: NS,
      limit: 2000,
      ...(cont === undefined ? {} : { _continue: cont }),
    });
    out.push(...page.items);
    cont = page.metadata?._continue;
  } while (cont !== undefined && cont !== "");
  return out;
}

async function waitForPods(lab: Lab, total: number, timeoutMs: number): Promise<void> {
  const start = performance.now();
  let lastLog = 0;
  for (;;) {
    const [deployments, statefulSets] = await Promise.all([
      lab.apps.listNamespacedDeployment({ namespace: NS }),
      lab.apps.listNamespacedStatefulSet({ namespace: NS }),
    ]);
    const ready =
      deployments.items.reduce((n, d) => n + (d.status?.readyReplicas ?? 0), 0) +
      statefulSets.items.reduce((n, s) => n + (s.status?.readyReplicas ?? 0), 0);
    if (ready >= total) return;
    const elapsed = performance.now() - start;
    if (elapsed > timeoutMs)
      throw new Error(`only ${ready} of ${total} pods Ready after ${timeoutMs / 1000} s`);
    if (elapsed - lastLog > 15_000) {
      lastLog = elapsed;
      log(`${ready}/${total} pods Ready (${(elapsed / 1000).toFixed(0)} s)`);
    }
    lab.controlPlane.assertRunning();
    await sleep(3_000);
  }
}

// ---- what the bench watches ------------------------------------------------------------------------------

/** First times (performance.now()) a node was seen unschedulable and a Deployment seen surged. */
class Watcher {
  readonly cordonedAt = new Map<string, number>();
  readonly surgedAt = new Map<string, number>();
  /** Pod uid -> when it started to leave (deletionTimestamp seen, or deleted), epoch ms. */
  readonly leftAt = new Map<string, number>();
  readonly #initialReplicas = new Map<string, number>();
  readonly #aborts: AbortController[] = [];
  /** Deployment name -> status.readyReplicas as last seen, and their sum. */
  readonly #ready = new Map<string, number>();
  #readyTotal = 0;
  #armed = false;
  /** The lowest sum of the Deployments' Ready replicas seen since `arm`. */
  minReady = Infinity;

  constructor(initialReplicas: ReadonlyMap<string, number>) {
    for (const [k, v] of initialReplicas) this.#initialReplicas.set(k, v);
  }

  async start(lab: Lab): Promise<void> {
    const watch = new Watch(lab.kubeConfig);
    const open = async (path: string, onObject: (obj: unknown, type: string) => void): Promise<void> => {
      const reopen = async (): Promise<void> => {
        const abort = await watch.watch(
          path,
          {},
          (type, obj) => {
            onObject(obj, type);
          },
          () => {
            if (!stopped) void sleep(200).then(reopen);
          },
        );
        this.#aborts.push(abort);
      };
      await reopen();
    };
    let stopped = false;
    this.#stop = () => {
      stopped = true;
    };
    await open("/api/v1/nodes", (obj) => {
      const n = obj as V1Node;
      const name = n.metadata?.name ?? "";
      if (n.spec?.unschedulable === true && !this.cordonedAt.has(name))
        this.cordonedAt.set(name, performance.now());
    });
    await open(`/api/v1/namespaces/${NS}/pods`, (obj, type) => {
      const p = obj as V1Pod;
      const uid = p.metadata?.uid ?? "";
      if ((type === "DELETED" || p.metadata?.deletionTimestamp != null) && !this.leftAt.has(uid))
        this.leftAt.set(uid, Date.now());
    });
    await open(`/apis/apps/v1/namespaces/${NS}/deployments`, (obj) => {
      const d = obj as V1Deployment;
      const name = d.metadata?.name ?? "";
      const initial = this.#initialReplicas.get(name);
      if (initial !== undefined && (d.spec?.replicas ?? 0) > initial && !this.surgedAt.has(name))
        this.surgedAt.set(name, performance.now());
      const ready = d.status?.readyReplicas ?? 0;
      this.#readyTotal += ready - (this.#ready.get(name) ?? 0);
      this.#ready.set(name, ready);
      if (this.#armed) this.minReady = Math.min(this.minReady, this.#readyTotal);
    });
  }

  /** Starts tracking the lowest Ready sum once the watch has reported `total` Ready (its initial list is in). */
  async arm(total: number): Promise<void> {
    const start = performance.now();
    while (this.#readyTotal < total) {
      if (performance.now() - start > 60_000)
        throw new Error(`the Deployments watch reports ${this.#readyTotal} of ${total} pods Ready`);
      await sleep(100);
    }
    this.#armed = true;
    this.minReady = this.#readyTotal;
  }

  #stop: () => void = () => undefined;

  stop(): void {
    this.#stop();
    for (const a of this.#aborts) a.abort();
  }
}

// ---- the controller process ------------------------------------------------------------------------------

const CLOCK_TICKS = 100;

/** Peak RSS (MB) and CPU seconds of a live process, from /proc. */
function procStats(pid: number): { rssPeakMb: number; rssMb: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string): number =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command (which may hold spaces) start after the last ')': utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpu = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  return { rssPeakMb: kb("VmHWM") / 1024, rssMb: kb("VmRSS") / 1024, cpuSeconds: cpu };
}

/** `lifeboat_kube_requests_total` summed by verb, from the controller's /metrics. */
async function requestsByVerb(controller: ControllerProcess): Promise<Map<string, number>> {
  const line = (await controller.logLines()).find((l) => l.msg.startsWith("serving /metrics"));
  const url = typeof line?.["address"] === "string" ? line["address"] : null;
  if (url === null) throw new Error("the controller logged no /metrics address");
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const l of text.split("\n")) {
    const m = /^lifeboat_kube_requests_total\{([^}]*)\} (\S+)$/.exec(l);
    if (m === null) continue;
    const verb = /verb="([^"]+)"/.exec(m[1] ?? "")?.[1] ?? "?";
    out.set(verb, (out.get(verb) ?? 0) + Number(m[2]));
  }
  return out;
}

// ---- one size --------------------------------------------------------------------------------------------

interface Result {
  handler: BenchHandler;
  nodes: number;
  pods: number;
  deployments: number;
  statefulSets: number;
  pdbs: number;
  reclaimed: number;
  /** lifeboat only: its Evacuations of the reclaimed nodes, and how many were Done before the deadline. */
  evacuations: number | null;
  doneBeforeDeadline: number | null;
  emptiedBeforeDeadline: number;
  cordonS: number[];
  surgeS: number[];
  missingCordon: number;
  missingSurge: number;
  /** Pods of the Deployments: Ready before the event, and the lowest sum seen during it. */
  deploymentPods: number;
  minReady: number;
  rssPeakMb: number;
  cpuSeconds: number;
  cpuEventSeconds: number;
  syncSeconds: number;
  /** lifeboat only (its own client's counts): API requests by verb, all and during the event. */
  requests: Map<string, number> | null;
  eventRequests: Map<string, number> | null;
  setupSeconds: number;
  load: string;
  notes: string[];
}

/** The handler under test, started on the lab once every pod is Ready. */
interface StartedHandler extends AsyncDisposable {
  pid: number;
  syncSeconds: number;
  /** lifeboat's API requests by verb (its /metrics); null for NTH (its Prometheus server is off by default). */
  requests(): Promise<Map<string, number> | null>;
  /** lifeboat: every reclaimed node's Evacuation is Done or Failed. NTH: nothing more to wait for. */
  finished(reclaimed: number): Promise<boolean>;
}

async function startBenchHandler(
  handler: BenchHandler,
  env: ControllerLab,
  nodes: number,
): Promise<StartedHandler> {
  const t = performance.now();
  if (handler === "lifeboat") {
    const controller = await startController({
      ...env.handlerContext(`controller-${nodes}.log`),
      // No managed headroom: the bench measures the evacuations, and a whole-node placeholder per node group
      // would only add a node and a Deployment to the lab (docs/design.md, "Capacity").
      extraArgs: ["--headroom-nodes", "0"],
      nodeOptions: chartNodeOptions(),
      startTimeoutMs: 600_000,
    });
    const pid = controller.pid;
    if (pid === undefined) throw new Error("the controller has no pid");
    return {
      pid,
      syncSeconds: (performance.now() - t) / 1000,
      requests: () => requestsByVerb(controller),
      finished: async (reclaimed) =>
        (await listEvacuations(env.lab)).filter(
          (e) => e.status?.phase === "Done" || e.status?.phase === "Failed",
        ).length >= reclaimed,
      [Symbol.asyncDispose]: () => controller.stop(),
    };
  }
  // The real aws-node-termination-handler, queue-processor mode, its chart's defaults (lab/handlers/nth.ts).
  const nth = await startHandler(handler, env.handlerContext(`${handler}-${nodes}.log`));
  if (nth.pid === undefined) throw new Error(`${handler} has no pid`);
  return {
    pid: nth.pid,
    syncSeconds: (performance.now() - t) / 1000,
    requests: () => Promise.resolve(null),
    finished: () => Promise.resolve(true),
    [Symbol.asyncDispose]: () => nth[Symbol.asyncDispose](),
  };
}

async function runSize(nodes: number, handler: BenchHandler): Promise<Result> {
  const t0 = performance.now();
  const notes: string[] = [];
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
  log(
    `[${handler}] ${nodes} nodes (${perZone.join("/")} in ${ZONES.join(", ")}), ${podsPerNode} pods per node: starting the lab`,
  );
  await using env: ControllerLab = await startControllerLab({
    nodeGroups: groups,
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
  });
  const lab = env.lab;
  // The node groups' Auto Scaling groups, holding their instances, as EKS managed node groups have them.
  await using _asgs = await LabAsgs.create(env.moto, scenario.cluster.nodeGroups, lab.nodes, nodes);
  log(`lab up in ${((performance.now() - t0) / 1000).toFixed(0)} s; creating the workloads`);
  const total = nodes * podsPerNode;
  const plan = planWorkloads(total, nodes);
  await createWorkloads(lab, plan);
  await waitForPods(lab, total, 3_600_000);
  const setupSeconds = (performance.now() - t0) / 1000;
  log(`${total} pods Ready ${setupSeconds.toFixed(0)} s after the start; starting ${handler}`);

  await using running = await startBenchHandler(handler, env, nodes);
  const pid = running.pid;
  log(
    `${handler} started in ${running.syncSeconds.toFixed(1)} s (rss ${procStats(pid).rssMb.toFixed(0)} MB)`,
  );

  // Where every pod runs, and each Deployment's replicas before the event.
  const pods = await listPods(lab);
  const deploymentsOnNode = new Map<string, Set<string>>();
  /** The pods a handler must move off each node (not DaemonSet or mirror pods), by uid. */
  const movableOnNode = new Map<string, string[]>();
  for (const p of pods) {
    const on = p.spec?.nodeName;
    const owner = p.metadata?.ownerReferences?.[0]?.kind;
    if (on !== undefined && owner !== "DaemonSet" && owner !== "Node")
      movableOnNode.set(on, [...(movableOnNode.get(on) ?? []), p.metadata?.uid ?? ""]);
  }
  for (const p of pods) {
    const node = p.spec?.nodeName;
    const rs = p.metadata?.ownerReferences?.find((o) => o.kind === "ReplicaSet")?.name;
    if (node === undefined || rs === undefined) continue;
    const deployment = rs.replace(/-[a-z0-9]+$/, "");
    let set = deploymentsOnNode.get(node);
    if (set === undefined) deploymentsOnNode.set(node, (set = new Set()));
    set.add(deployment);
  }
  const initialReplicas = new Map(
    (await lab.apps.listNamespacedDeployment({ namespace: NS })).items.map((d) => [
      d.metadata?.name ?? "",
      d.spec?.replicas ?? 0,
    ]),
  );
  const deploymentPods = [...initialReplicas.values()].reduce((a, b) => a + b, 0);
  const watcher = new Watcher(initialReplicas);
  await watcher.start(lab);
  await watcher.arm(deploymentPods);
  const before = await running.requests();
  const cpuBefore = procStats(pid).cpuSeconds;
  /** When each warning was sent: performance.now() for latencies, epoch ms for its deadline. */
  const sentAt = new Map<string, number>();
  const sentEpoch = new Map<string, number>();
  const send = sqsSender(env.sqs, env.queueUrl);
  const cloud = new CloudSimulator({
    lab: cloudLabOf(lab),
    send: async (body) => {
      const id = (JSON.parse(body) as { detail?: { "instance-id"?: string } }).detail?.["instance-id"];
      if (id !== undefined && !sentAt.has(id)) {
        sentAt.set(id, performance.now());
        sentEpoch.set(id, Date.now());
      }
      await send(body);
    },
    hooks: { killNode: () => undefined },
    settings: scenario.cloud,
    nodeGroups: scenario.cluster.nodeGroups,
    events: scenario.events,
    timeScale: 1,
  });
  const loadAtEvent = loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
  log(`reclaiming ${reclaimedCount} nodes of ${ZONES[0]} in ${WAVES} waves (load ${loadAtEvent})`);
  let rssPeakMb = 0;
  const sampler = setInterval(() => {
    try {
      rssPeakMb = Math.max(rssPeakMb, procStats(pid).rssPeakMb);
    } catch {
      // the process is gone
    }
  }, 1_000);
  cloud.start();
  const lastDeadline = FIRST_WAVE_AT + WAVES + NOTICE_LEAD_SECONDS;
  const byInstance = new Map(lab.nodes.map((n) => [n.instanceId, n.name]));
  // Emptied: every pod the handler had to move was leaving (retired by a scale-down, evicted, deleted) by the
  // node's deadline (its warning's time plus the two minutes).
  const emptiedBy = (node: string, deadline: number): boolean =>
    (movableOnNode.get(node) ?? []).every((uid) => {
      const left = watcher.leftAt.get(uid);
      return left !== undefined && left <= deadline;
    });
  const emptiedNow = (): number =>
    [...sentAt.keys()].filter((i) => emptiedBy(byInstance.get(i) ?? "", Infinity)).length;
  // Until every reclaimed node is emptied and (lifeboat) its Evacuation finished, or 30 s after the last deadline.
  const tEvent = performance.now();
  for (;;) {
    await sleep(5_000);
    const elapsed = (performance.now() - tEvent) / 1000;
    const emptied = emptiedNow();
    const finished = await running.finished(reclaimedCount);
    if (sentAt.size === reclaimedCount && emptied === reclaimedCount && finished) break;
    if (elapsed > lastDeadline + 30) {
      if (emptied < reclaimedCount)
        notes.push(`${reclaimedCount - emptied} nodes not emptied 30 s after the last deadline`);
      if (!finished) notes.push("Evacuations not all Done or Failed 30 s after the last deadline");
      break;
    }
    if (Math.round(elapsed) % 30 < 5)
      log(
        `t=${elapsed.toFixed(0)} s: ${sentAt.size} warnings sent, ${emptied} nodes emptied, ${watcher.cordonedAt.size} cordoned, Deployment pods Ready min ${watcher.minReady}/${deploymentPods}`,
      );
  }
  const after = await running.requests();
  const end = procStats(pid);
  clearInterval(sampler);
  rssPeakMb = Math.max(rssPeakMb, end.rssPeakMb);
  watcher.stop();
  await cloud.stop();

  // Per reclaimed node.
  const cordonS: number[] = [];
  const surgeS: number[] = [];
  let missingCordon = 0;
  let missingSurge = 0;
  for (const [instance, at] of sentAt) {
    const node = byInstance.get(instance);
    if (node === undefined) continue;
    const cordoned = watcher.cordonedAt.get(node);
    if (cordoned === undefined) missingCordon++;
    else cordonS.push((cordoned - at) / 1000);
    if (handler !== "lifeboat") continue;
    const deployments = [...(deploymentsOnNode.get(node) ?? [])];
    const surged = deployments.map((d) => watcher.surgedAt.get(d));
    if (surged.some((s) => s === undefined)) missingSurge++;
    else if (surged.length > 0) surgeS.push((Math.max(...(surged as number[])) - at) / 1000);
  }
  const emptiedBeforeDeadline = [...sentEpoch].filter(([instance, at]) =>
    emptiedBy(byInstance.get(instance) ?? "", at + NOTICE_LEAD_SECONDS * 1000),
  ).length;
  let evacuations: number | null = null;
  let doneBeforeDeadline: number | null = null;
  if (handler === "lifeboat") {
    const reclaimedNodes = new Set([...sentAt.keys()].map((i) => byInstance.get(i)));
    const ofReclaimed = (await listEvacuations(lab)).filter((e) => reclaimedNodes.has(e.spec.nodeName));
    evacuations = ofReclaimed.length;
    // Done: every surge retired too, i.e. the replacements Ready.
    doneBeforeDeadline = ofReclaimed.filter((e) => {
      const done = e.status?.timeline?.doneAt;
      return (
        e.status?.phase === "Done" &&
        done !== undefined &&
        e.spec.deadline !== undefined &&
        Date.parse(done) <= Date.parse(e.spec.deadline)
      );
    }).length;
  }
  let eventRequests: Map<string, number> | null = null;
  if (after !== null) {
    eventRequests = new Map<string, number>();
    for (const [verb, n] of after) eventRequests.set(verb, n - (before?.get(verb) ?? 0));
  }
  return {
    handler,
    nodes,
    pods: total,
    deployments: plan.filter((w) => w.kind === "Deployment").length,
    statefulSets: plan.filter((w) => w.kind === "StatefulSet").length,
    pdbs: plan.filter((w) => w.pdb).length,
    reclaimed: sentAt.size,
    evacuations,
    doneBeforeDeadline,
    emptiedBeforeDeadline,
    cordonS,
    surgeS,
    missingCordon,
    missingSurge,
    deploymentPods,
    minReady: watcher.minReady,
    rssPeakMb,
    cpuSeconds: end.cpuSeconds,
    cpuEventSeconds: end.cpuSeconds - cpuBefore,
    syncSeconds: running.syncSeconds,
    requests: after,
    eventRequests,
    setupSeconds,
    load: loadAtEvent,
    notes,
  };
}

// ---- output ----------------------------------------------------------------------------------------------

function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? NaN;
}

const sum = (m: ReadonlyMap<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
const verbs = (m: ReadonlyMap<string, number>): string =>
  [...m]
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([v, n]) => `${v} ${n}`)
    .join(", ");

function printTable(r: Result): void {
  const f = (x: number): string => (Number.isNaN(x) ? "-" : x.toFixed(2));
  const spread = (xs: readonly number[]): string =>
    `${f(percentile(xs, 50))} / ${f(percentile(xs, 90))} / ${f(percentile(xs, 99))} / ${f(percentile(xs, 100))} s`;
  const lifeboat = r.handler === "lifeboat";
  const rows: [string, string][] = [
    ["nodes / pods", `${r.nodes} / ${r.pods}`],
    ["workloads", `${r.deployments} Deployments, ${r.statefulSets} StatefulSets, ${r.pdbs} PDBs`],
    ["setup (lab, pods Ready)", `${r.setupSeconds.toFixed(0)} s`],
    ["load average at the event", r.load],
    [
      lifeboat ? "controller start to informers synced" : "start to monitoring SQS",
      `${r.syncSeconds.toFixed(1)} s`,
    ],
    [
      "reclaimed (warned within 10 s)",
      `${r.reclaimed}${r.evacuations === null ? "" : `; ${r.evacuations} Evacuations`}`,
    ],
    [
      "emptied before the deadline",
      `${r.emptiedBeforeDeadline} of ${r.reclaimed} (every pod ${lifeboat ? "retired, or evicted at its last responsible moment" : "evicted"})`,
    ],
    ...(r.doneBeforeDeadline === null
      ? []
      : [
          [
            "Done before the deadline",
            `${r.doneBeforeDeadline} of ${r.reclaimed} (also every surge retired: replacements Ready)`,
          ] as [string, string],
        ]),
    [
      "notice -> cordon  p50 / p90 / p99 / max",
      `${spread(r.cordonS)}${r.missingCordon > 0 ? ` (${r.missingCordon} never cordoned)` : ""}`,
    ],
    ...(lifeboat
      ? [
          [
            "notice -> surge   p50 / p90 / p99 / max",
            `${spread(r.surgeS)}${r.missingSurge > 0 ? ` (${r.missingSurge} with a Deployment never surged)` : ""}`,
          ] as [string, string],
        ]
      : []),
    [
      "Deployment pods Ready, lowest",
      `${r.minReady} of ${r.deploymentPods} (${r.deploymentPods - r.minReady} below)`,
    ],
    [`${lifeboat ? "controller" : r.handler} peak RSS`, `${r.rssPeakMb.toFixed(0)} MB`],
    [
      `${lifeboat ? "controller" : r.handler} CPU (all / during the event)`,
      `${r.cpuSeconds.toFixed(1)} / ${r.cpuEventSeconds.toFixed(1)} s`,
    ],
    ...(r.requests === null || r.eventRequests === null
      ? []
      : [
          ["API requests (all)", `${sum(r.requests)}: ${verbs(r.requests)}`] as [string, string],
          [
            "API requests during the event",
            `${sum(r.eventRequests)} (${(sum(r.eventRequests) / Math.max(1, r.reclaimed)).toFixed(1)} per evacuation): ${verbs(r.eventRequests)}`,
          ] as [string, string],
        ]),
    ...r.notes.map((n): [string, string] => ["note", n]),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\nscale at ${r.nodes} nodes: ${r.handler}`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
}

async function main(): Promise<void> {
  const results: Result[] = [];
  for (const n of [...sizes].sort((a, b) => a - b))
    for (const h of handlers) {
      const r = await runSize(n, h as BenchHandler);
      results.push(r);
      printTable(r);
    }
  const largest = Math.max(...results.map((r) => r.nodes));
  console.log("");
  const last = results.find((r) => r.nodes === largest && r.handler === "lifeboat");
  if (last !== undefined)
    console.log(
      `scale: nodes=${last.nodes} pods=${last.pods} reclaimed=${last.reclaimed} done_before_deadline=${last.emptiedBeforeDeadline} cordon_p99_s=${percentile(last.cordonS, 99).toFixed(2)} surge_p99_s=${percentile(last.surgeS, 99).toFixed(2)} rss_mb=${last.rssPeakMb.toFixed(0)} cpu_s=${last.cpuSeconds.toFixed(1)} api_requests=${sum(last.requests ?? new Map())}`,
    );
  for (const r of results.filter((x) => x.nodes === largest && x.handler !== "lifeboat"))
    console.log(
      `scale-${r.handler}: nodes=${r.nodes} pods=${r.pods} reclaimed=${r.reclaimed} drained_before_deadline=${r.emptiedBeforeDeadline} cordon_p99_s=${percentile(r.cordonS, 99).toFixed(2)} min_ready=${r.minReady}/${r.deploymentPods}`,
    );
}

await main();
