/**
 * The chaos benchmark: lifeboat under the failures a production controller meets, with real traffic through
 * the lab's ALB simulator, and the figures that say whether anything was doubled, stranded or faked.
 *
 *   npm run bench:chaos -- [--seed 1] [--time-scale 0.25] [--evacuations 30] [--junk 10000] [--junk-timeout 600] [--keep-logs]
 *
 * One lab (real control plane, KWOK nodes, pod runtime, ALB simulator, load generator, cloud simulator, moto)
 * and two or more `lifeboat run` replicas with leader election, each reaching kube-apiserver and moto through
 * the lab's fault proxies (lab/faults/). Two phases:
 *
 * 1. Reclaims: `--evacuations` spot reclaims of nodes holding pods of the Deployment (one every 20 scenario
 *    seconds, so several evacuations overlap), while
 *    - the leader is SIGKILLed at random moments (seeded; a standby takes over and a new standby starts),
 *    - kube-apiserver is unreachable for 20 scenario seconds (every connection reset) 10 s after a notice,
 *    - moto (SQS, Auto Scaling) is unreachable for 30 scenario seconds, later in the phase.
 * 2. Junk: `--junk` SQS bodies sent straight into the queue: duplicates of the phase's real notices,
 *    replays of their state-change messages in reverse order (terminated before the warning), malformed
 *    JSON, wrong types, 256 KiB bodies, unknown event kinds and foreign instance ids; no replica is killed,
 *    so the leader's /metrics counts every one by outcome.
 *
 * Outages are given in scenario seconds, like every other lab timing: at `--time-scale 1` they last the
 * 20 s and 30 s of issue 7; at 0.25 they last a quarter of that in real time, as the deadlines do.
 * Every figure is defined in docs/benchmarks.md ("Chaos"). The last line is exactly:
 *   chaos: evacuations=N lost_notices=N orphaned_surges=N replica_drift=N errors_5xx=N crashes=N
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import {
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { CoordinationV1Api, type V1Node } from "@kubernetes/client-node";
import { startAlb } from "../lab/alb/alb.ts";
import { MOTO_CREDENTIALS } from "../lab/aws/moto.ts";
import { CloudSimulator, type TimelineEntry } from "../lab/cloud/cloud.ts";
import { cloudLabOf, pendingPods, podsOf, preferNodesHoldingPods, sqsSender } from "../lab/cloud/kube.ts";
import {
  rebalanceRecommendation,
  spotInterruptionWarning,
  stateChange,
  type Ec2State,
} from "../lab/cloud/messages.ts";
import { startAwsFaultProxy } from "../lab/faults/aws.ts";
import { startKubeFaultProxy } from "../lab/faults/kube.ts";
import { runLoad } from "../lab/loadgen/loadgen.ts";
import { LabKubeProxy } from "../lab/harness/kube-proxy.ts";
import { lifeboatArgs } from "../lab/harness/handlers.ts";
import { scaledFixture } from "../lab/harness/workloads.ts";
import { deploymentFixture, scenarioSchema } from "../lab/scenarios/load.ts";
import { deployment, service } from "../lab/workloads.ts";
import { ControllerProcess, LIFEBOAT_BIN } from "../test/helpers/controller-process.ts";
import { listEvacuations, NS, REGION, startControllerLab } from "../test/helpers/lab-env.ts";
import type { EvacuationResource } from "../src/state/evacuation-resource.ts";

const { values } = parseArgs({
  options: {
    seed: { type: "string", default: "1" },
    "time-scale": { type: "string", default: "0.25" },
    evacuations: { type: "string", default: "30" },
    junk: { type: "string", default: "10000" },
    "junk-timeout": { type: "string", default: "600" },
    "keep-logs": { type: "boolean", default: false },
  },
});
const seed = Number(values.seed);
const timeScale = Number(values["time-scale"]);
const reclaims = Number(values.evacuations);
const junkCount = Number(values.junk);
/** Real seconds for sending the junk, and again for the queue to drain. */
const junkTimeout = Number(values["junk-timeout"]);
if (!Number.isInteger(reclaims) || reclaims < 1) throw new Error("--evacuations must be a positive integer");
if (!Number.isInteger(junkCount) || junkCount < 0) throw new Error("--junk must be a whole number");
if (!(timeScale > 0 && timeScale <= 1)) throw new Error("--time-scale must be in (0, 1]");
if (values["keep-logs"]) process.env["LIFEBOAT_KEEP_LOGS"] = "1";

const APP = "app";
const REPLICAS = 6;
/** Scenario seconds between two reclaims: with a 120 s notice, about six evacuations overlap. */
const RECLAIM_EVERY = 20;
const FIRST_RECLAIM = 20;
const RPS = 20;
const LEASE = "lifeboat-chaos";

/** mulberry32: a small seeded PRNG, so a run is repeated with `--seed`. */
function prng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(seed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;

const log = (line: string): void => {
  process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

// ---- controller replicas ---------------------------------------------------------------------------------

/** Every replica process: none outlives the benchmark. */
const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

interface Replica {
  identity: string;
  process: ControllerProcess;
  /** Killed by the benchmark (not a crash). */
  killed: boolean;
}

/**
 * Starts one `lifeboat run` replica (leader election on, lease timings scaled like every lab timing). It does
 * not wait for leadership: a standby only syncs its informers.
 */
function startReplica(
  identity: string,
  ctx: { kubeconfigPath: string; queueUrl: string; awsEndpoint: string; logDir: string },
): Replica {
  const s = (x: number): string => String(Math.round(x * timeScale * 1000) / 1000);
  const logPath = join(ctx.logDir, `${identity}.log`);
  const args = [
    LIFEBOAT_BIN,
    ...lifeboatArgs({
      kubeconfigPath: ctx.kubeconfigPath,
      queueUrl: ctx.queueUrl,
      awsEndpoint: ctx.awsEndpoint,
      awsRegion: REGION,
      timeScale,
    }),
    "--leader-elect=true",
    `--leader-election-namespace=${NS}`,
    `--lease-name=${LEASE}`,
    // The Lease stores whole seconds.
    `--lease-duration-seconds=${Math.max(2, Math.round(15 * timeScale))}`,
    `--renew-deadline-seconds=${s(10)}`,
    `--retry-period-seconds=${s(2)}`,
    `--identity=${identity}`,
    // Junk is deleted once counted (a production queue would rather redrive it to a dead-letter queue).
    "--malformed-message-policy=delete",
    "--unknown-message-policy=delete",
    "--foreign-instance-policy=delete",
    // Scaled like every lab timing: a message received by a leader that is then killed reappears after it.
    `--sqs-visibility-timeout-seconds=${Math.max(1, Math.round(15 * timeScale))}`,
  ];
  const out = createWriteStream(logPath, { flags: "a" });
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env["PATH"] ?? "",
      HOME: process.env["HOME"] ?? "",
      AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
      AWS_REGION: REGION,
    },
  });
  child.stdout.pipe(out, { end: false });
  child.stderr.pipe(out, { end: false });
  const logDone = once(child, "close").then(() => new Promise<void>((resolve) => out.end(resolve)));
  children.add(child);
  return {
    identity,
    process: new ControllerProcess(child, logPath, [process.execPath, ...args], logDone),
    killed: false,
  };
}

/** Whether a live replica other than `leader` has synced and stands by (logged "standby: ... holds the lease"). */
async function hasStandby(replicas: readonly Replica[], leader: string | undefined): Promise<boolean> {
  for (const r of replicas) {
    if (r.identity === leader || !r.process.running) continue;
    const lines = await r.process.logLines();
    if (lines.some((l) => typeof l.msg === "string" && l.msg.startsWith("standby:"))) return true;
  }
  return false;
}

/** Where a replica serves /metrics (from its log line "serving /metrics..."). */
async function metricsUrl(replica: Replica): Promise<string | null> {
  const line = (await replica.process.logLines()).find(
    (l) => typeof l.msg === "string" && l.msg.startsWith("serving /metrics"),
  );
  return typeof line?.["address"] === "string" ? line["address"] : null;
}

/** `lifeboat_notices_total` and `lifeboat_sqs_messages_total` by outcome, from one scrape. */
async function scrapeOutcomes(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^lifeboat_(notices|sqs_messages)_total\{([^}]*)\} (\S+)$/.exec(line);
    if (m === null) continue;
    const outcome = /outcome="([^"]+)"/.exec(m[2] ?? "")?.[1] ?? "?";
    const key = `${m[1] === "notices" ? "notices" : "sqs"} ${outcome}`;
    out.set(key, (out.get(key) ?? 0) + Number(m[3]));
  }
  return out;
}

// ---- junk ------------------------------------------------------------------------------------------------

type JunkKind =
  | "duplicate warning (node already reclaimed)"
  | "state-change replayed before its warning"
  | "malformed JSON"
  | "wrong types"
  | "256 KiB body"
  | "unknown event kind"
  | "foreign instance: spot warning"
  | "foreign instance: rebalance"
  | "foreign instance: state change"
  | "live node: state change running/pending";

const SQS_MAX_BYTES = 262_144;

function randomInstanceId(): string {
  let id = "i-0f";
  for (let i = 0; i < 15; i++) id += Math.floor(random() * 16).toString(16);
  return id;
}

/** One junk body of `kind`. `reclaimed` are the instances phase 1 reclaimed; `live` the ones still running. */
function junkBody(kind: JunkKind, reclaimed: readonly string[], live: readonly string[], at: Date): string {
  const ref = (instanceId: string): { instanceId: string; region: string } => ({
    instanceId,
    region: REGION,
  });
  switch (kind) {
    case "duplicate warning (node already reclaimed)":
      return JSON.stringify(spotInterruptionWarning(ref(pick(reclaimed)), at));
    case "state-change replayed before its warning": {
      const state: Ec2State = pick(["terminated", "shutting-down", "stopping", "stopped"]);
      return JSON.stringify(stateChange(ref(pick(reclaimed)), at, state));
    }
    case "malformed JSON":
      return pick([
        '{"version":"0","detail-type":',
        "not json at all",
        "{}}",
        '{"detail":{"instance-id":"i-',
      ]);
    case "wrong types": {
      const event = spotInterruptionWarning(ref(pick(live)), at) as unknown as Record<string, unknown>;
      const mangled = pick([
        { ...event, detail: { "instance-id": 42, "instance-action": "terminate" } },
        { ...event, time: "yesterday" },
        { ...event, detail: null },
        { ...event, "detail-type": ["EC2 Spot Instance Interruption Warning"] },
        [event],
        '"a string"',
      ]);
      return typeof mangled === "string" ? mangled : JSON.stringify(mangled);
    }
    case "256 KiB body": {
      const event = spotInterruptionWarning(ref(randomInstanceId()), at);
      const base = JSON.stringify({ ...event, padding: "" });
      return JSON.stringify({ ...event, padding: "x".repeat(SQS_MAX_BYTES - base.length) });
    }
    case "unknown event kind":
      return JSON.stringify({
        version: "0",
        id: `junk-${Math.floor(random() * 1e9)}`,
        "detail-type": pick(["EC2 AMI State Change", "Scheduled Event", "EBS Volume Notification"]),
        source: pick(["aws.ec2", "aws.ebs", "aws.events"]),
        account: "123456789012",
        time: at.toISOString().replace(/\.\d{3}Z$/, "Z"),
        region: REGION,
        resources: [],
        detail: {},
      });
    case "foreign instance: spot warning":
      return JSON.stringify(spotInterruptionWarning(ref(randomInstanceId()), at));
    case "foreign instance: rebalance":
      return JSON.stringify(rebalanceRecommendation(ref(randomInstanceId()), at));
    case "foreign instance: state change":
      return JSON.stringify(stateChange(ref(randomInstanceId()), at, pick(["shutting-down", "terminated"])));
    case "live node: state change running/pending":
      return JSON.stringify(stateChange(ref(pick(live)), at, pick(["running", "pending"])));
  }
}

/** The mix, by weight: 256 KiB bodies are 1 in 100 (each is a quarter megabyte through moto). */
const JUNK_MIX: readonly [JunkKind, number][] = [
  ["duplicate warning (node already reclaimed)", 12],
  ["state-change replayed before its warning", 12],
  ["malformed JSON", 12],
  ["wrong types", 12],
  ["256 KiB body", 1],
  ["unknown event kind", 11],
  ["foreign instance: spot warning", 10],
  ["foreign instance: rebalance", 10],
  ["foreign instance: state change", 10],
  ["live node: state change running/pending", 10],
];

function pickJunk(): JunkKind {
  const total = JUNK_MIX.reduce((n, [, w]) => n + w, 0);
  let r = random() * total;
  for (const [kind, w] of JUNK_MIX) {
    r -= w;
    if (r < 0) return kind;
  }
  return "malformed JSON";
}

/** Sends `count` junk bodies (batches of 10; the 256 KiB ones alone). Returns how many of each kind. */
/**
 * moto keeps a queue's messages in a list and scans it on every receive and delete: with 3,000 messages
 * waiting it serves about 6 receive+delete per second, with 100 about 120. The junk is therefore sent as the
 * queue drains (at most JUNK_MAX_BACKLOG waiting), so that what is measured is lifeboat, not moto's scan.
 */
const JUNK_MAX_BACKLOG = 200;
const JUNK_BACKLOG_CHECK_EVERY = 50;

/** Waits until fewer than `max` messages are in the queue (visible or in flight), or `deadline`. */
async function backlogBelow(sqs: SQSClient, queueUrl: string, max: number, deadline: number): Promise<void> {
  while (performance.now() < deadline && (await queueDepth(sqs, queueUrl)) >= max) await sleep(250);
}

async function sendJunk(
  sqs: SQSClient,
  queueUrl: string,
  count: number,
  reclaimed: readonly string[],
  live: readonly string[],
  deadline: number,
): Promise<Map<JunkKind, number>> {
  const sent = new Map<JunkKind, number>();
  /** Up to 8 sends in flight: moto answers each slowly on a loaded machine, but in parallel. */
  const inflight = new Set<Promise<void>>();
  const submit = async (call: () => Promise<void>): Promise<void> => {
    const p = call().finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= 8) await Promise.race(inflight);
  };
  let batch: { kind: JunkKind; body: string }[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const mine = batch;
    batch = [];
    await submit(async () => {
      const entries = mine.map((m, i) => ({ Id: String(i), MessageBody: m.body }));
      const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      if ((out.Failed ?? []).length > 0)
        throw new Error(
          `SendMessageBatch refused ${out.Failed?.length} junk bodies: ${out.Failed?.[0]?.Message}`,
        );
      for (const m of mine) sent.set(m.kind, (sent.get(m.kind) ?? 0) + 1);
    });
  };
  const add = async (kind: JunkKind, body: string): Promise<void> => {
    if (Buffer.byteLength(body) > SQS_MAX_BYTES / 10) {
      await submit(async () => {
        await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
        sent.set(kind, (sent.get(kind) ?? 0) + 1);
      });
      return;
    }
    batch.push({ kind, body });
    if (batch.length === 10) await flush();
  };
  const instances = reclaimed.length > 0 ? reclaimed : [randomInstanceId()];
  for (let i = 0; i < count && performance.now() < deadline; i++) {
    if (i % JUNK_BACKLOG_CHECK_EVERY === 0) await backlogBelow(sqs, queueUrl, JUNK_MAX_BACKLOG, deadline);
    const kind = pickJunk();
    if (kind === "state-change replayed before its warning" && i + 1 < count) {
      // Reordered: the instance's terminated notice first, then its warning again, back to back.
      const instance = pick(instances);
      await add(kind, junkBody(kind, [instance], live, new Date()));
      await add(
        "duplicate warning (node already reclaimed)",
        junkBody("duplicate warning (node already reclaimed)", [instance], live, new Date()),
      );
      i++;
      continue;
    }
    await add(kind, junkBody(kind, instances, live, new Date()));
  }
  await flush();
  await Promise.all(inflight);
  return sent;
}

async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return (
    Number(out.Attributes?.["ApproximateNumberOfMessages"] ?? NaN) +
    Number(out.Attributes?.["ApproximateNumberOfMessagesNotVisible"] ?? NaN)
  );
}

// ---- what the cluster shows ------------------------------------------------------------------------------

const isMarked = (node: V1Node): boolean =>
  node.spec?.unschedulable === true ||
  (node.spec?.taints ?? []).some((t) => t.key === "lifeboat.dev/evacuating");

interface Seen {
  /** Evacuation name -> node name, every Evacuation ever observed. */
  evacuations: Map<string, string>;
  /** Evacuations observed in phase Done or Failed. */
  finished: Map<string, "Done" | "Failed">;
  /** Nodes ever observed cordoned or tainted lifeboat.dev/evacuating. */
  marked: Set<string>;
  /** Pod IP -> node, for every pod of the app ever observed (to say where a 5xx came from). */
  podNodes: Map<string, string>;
  /** The latest copy of every Evacuation observed. */
  latest: Map<string, EvacuationResource>;
}

async function observe(env: Awaited<ReturnType<typeof startControllerLab>>, seen: Seen): Promise<void> {
  for (const e of await listEvacuations(env.lab)) {
    seen.evacuations.set(e.metadata.name, e.spec.nodeName);
    seen.latest.set(e.metadata.name, e);
    const phase = e.status?.phase;
    if (phase === "Done" || phase === "Failed") seen.finished.set(e.metadata.name, phase);
  }
  for (const n of (await env.lab.core.listNode()).items)
    if (isMarked(n)) seen.marked.add(n.metadata?.name ?? "");
  const pods = await env.lab.core.listNamespacedPod({ namespace: NS, labelSelector: `app=${APP}` });
  for (const p of pods.items)
    if (p.status?.podIP !== undefined && p.spec?.nodeName !== undefined)
      seen.podNodes.set(p.status.podIP, p.spec.nodeName);
}

// ---- the run ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const t0Wall = Date.now();
  const groups = [
    { name: "spot-a", zone: "us-east-1a", count: 10 },
    { name: "spot-b", zone: "us-east-1b", count: 10 },
  ];
  log(`seed ${seed}, time scale ${timeScale}, ${reclaims} reclaims, ${junkCount} junk bodies`);

  // The workload behind the ALB: a fast app (Ready in seconds) with the seed's 20 s preStop.
  const scenario = scenarioSchema.parse({
    name: "chaos",
    description: "bench/chaos.ts: overlapping spot reclaims of nodes holding the app's pods",
    timeScale,
    cluster: { nodeGroups: groups },
    workloads: [
      {
        name: APP,
        replicas: REPLICAS,
        preStopSeconds: 20,
        readiness: { initialDelaySeconds: 2, periodSeconds: 2, failureThreshold: 2, timeoutSeconds: 1 },
        terminationGracePeriodSeconds: 45,
        pullSeconds: 2,
        startSeconds: 1,
        requestMs: 20,
        onePerNode: true,
        cpuRequest: "500m",
      },
    ],
    traffic: { rps: RPS, durationSeconds: FIRST_RECLAIM + reclaims * RECLAIM_EVERY + 180, warmupSeconds: 10 },
    events: Array.from({ length: reclaims }, (_, i) => ({
      at: FIRST_RECLAIM + i * RECLAIM_EVERY,
      kind: "spot-reclaim",
      nodes: { count: 1 },
    })),
  });
  await using env = await startControllerLab({ nodeGroups: groups, timeScale });
  const lab = env.lab;
  const workload = scenario.workloads[0];
  if (workload === undefined) throw new Error("no workload");
  await lab.apps.createNamespacedDeployment({
    namespace: NS,
    body: deployment(scaledFixture(deploymentFixture(workload), timeScale)),
  });
  await lab.core.createNamespacedService({ namespace: NS, body: service(APP, NS, "ClusterIP") });
  await until("the Deployment Ready", 120_000, async () => {
    const d = await lab.apps.readNamespacedDeployment({ name: APP, namespace: NS });
    return (d.status?.readyReplicas ?? 0) >= REPLICAS;
  });
  await using kubeProxy = new LabKubeProxy({
    kubeConfig: lab.kubeConfig,
    core: lab.core,
    resolvePod: (ip, port) => lab.runtime.resolve(ip, port),
    isNodeDead: (n) => lab.runtime.isNodeDead(n),
  });
  await kubeProxy.start();
  await using alb = await startAlb({
    kubeConfig: lab.kubeConfig,
    resolve: kubeProxy.resolve,
    bindings: [
      {
        name: APP,
        namespace: NS,
        serviceName: APP,
        servicePort: 80,
        targetType: "ip",
        host: `${APP}.lab`,
        healthCheck: { path: "/api/health" },
      },
    ],
    timeScale,
  });
  await until("every target healthy", 120_000, () =>
    Promise.resolve(
      (alb.targetGroups.get(APP)?.describeTargetHealth() ?? []).filter((h) => h.state === "healthy").length >=
        REPLICAS,
    ),
  );

  // The controllers reach kube-apiserver and moto only through the fault proxies.
  await using apiFaults = await startKubeFaultProxy(lab.controlPlane);
  await using awsFaults = await startAwsFaultProxy(env.moto.endpoint);
  const ctx = {
    kubeconfigPath: apiFaults.kubeconfigPath,
    queueUrl: awsFaults.rewrite(env.queueUrl),
    awsEndpoint: awsFaults.url,
    logDir: env.dir,
  };
  const replicas: Replica[] = [];
  let serial = 0;
  const addReplica = (): Replica => {
    const r = startReplica(`replica-${++serial}`, ctx);
    replicas.push(r);
    return r;
  };
  addReplica();
  addReplica();
  const leases = lab.kubeConfig.makeApiClient(CoordinationV1Api);
  const holder = async (): Promise<string | undefined> =>
    (await leases.readNamespacedLease({ name: LEASE, namespace: NS }).catch(() => null))?.spec
      ?.holderIdentity ?? undefined;
  await until("a leader", 60_000, async () => (await holder()) !== undefined);
  log(`leader ${await holder()}; traffic and reclaims start`);

  // ---- phase 1: reclaims with kills and outages ----
  const seen: Seen = {
    evacuations: new Map(),
    finished: new Map(),
    marked: new Set(),
    podNodes: new Map(),
    latest: new Map(),
  };
  const noticed = new Map<string, { node: string; at: number }>();
  const t0 = performance.now();
  const wall0 = Date.now();
  const now = (): number => (performance.now() - t0) / 1000 / timeScale;
  await using cloud = new CloudSimulator({
    lab: cloudLabOf(lab),
    send: sqsSender(env.sqs, env.queueUrl),
    hooks: {
      killNode: (name, mode) => {
        lab.runtime.killNode(name, mode);
      },
      chooseVictims: preferNodesHoldingPods(() => podsOf(lab.core, NS, `app=${APP}`)),
      pendingPods: () => pendingPods(lab.core),
    },
    settings: scenario.cloud,
    nodeGroups: scenario.cluster.nodeGroups,
    events: scenario.events,
    timeScale,
    t0,
    messageTime: (at) => new Date(wall0 + at * timeScale * 1000 - 120_000 * (1 - timeScale)),
    onEntry: (e: TimelineEntry) => {
      if (e.kind === "notice-issued" && e.node !== null) {
        const instance = lab.nodes.find((n) => n.name === e.node)?.instanceId ?? e.node;
        noticed.set(instance, { node: e.node, at: e.at });
      }
    },
  });
  const lastNotice = FIRST_RECLAIM + (reclaims - 1) * RECLAIM_EVERY;
  const phaseEnd = lastNotice + 120 + 60;
  let errors5xx = 0;
  let requests = 0;
  const statuses = new Map<string, number>();
  /** Every failed request: scenario second it was sent, status, target. */
  const failures: { t: number; status: string; target: string }[] = [];
  const stopLoad = new AbortController();
  const load = runLoad({
    url: `${alb.url}/`,
    rps: RPS,
    durationSeconds: 100_000,
    timeScale,
    headers: { host: `${APP}.lab` },
    connections: 2048,
    signal: stopLoad.signal,
    onRecord: (r) => {
      requests++;
      const status = r.status === 0 ? `error ${r.error ?? ""}` : String(r.status);
      if (r.status === 0 || r.status >= 500) {
        errors5xx++;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        failures.push({ t: (r.at - wall0) / 1000 / timeScale, status, target: r.target ?? "none" });
      }
    },
  });
  const stopObserving = new AbortController();
  const observing = (async () => {
    while (!stopObserving.signal.aborted) {
      await observe(env, seen).catch(() => undefined);
      await sleep(500);
    }
  })();
  cloud.start();

  // Chaos driver: kill times (seeded), the API outage 10 s after a notice in the first third, moto's outage
  // 10 s after a notice in the second third.
  const kills: number[] = [];
  for (let t = 30 + random() * 30; t < lastNotice + 60; t += 15 + random() * 40) kills.push(t);
  const apiOutageAt = FIRST_RECLAIM + Math.floor(reclaims / 3) * RECLAIM_EVERY + 10;
  const motoOutageAt = FIRST_RECLAIM + Math.floor((2 * reclaims) / 3) * RECLAIM_EVERY + 10;
  const chaosLog: string[] = [];
  const driver = (async () => {
    const plan = [
      ...kills.map((at) => ({ at, what: "kill" as const })),
      { at: apiOutageAt, what: "api" as const },
      { at: motoOutageAt, what: "moto" as const },
    ].sort((a, b) => a.at - b.at);
    for (const step of plan) {
      const wait = (step.at - now()) * timeScale * 1000;
      if (wait > 0) await sleep(wait);
      if (step.what === "api") {
        apiFaults.proxy.unreachable(20_000 * timeScale);
        chaosLog.push(`t=${now().toFixed(0)} s kube-apiserver unreachable for 20 s`);
      } else if (step.what === "moto") {
        awsFaults.unreachable(30_000 * timeScale);
        chaosLog.push(`t=${now().toFixed(0)} s moto unreachable for 30 s`);
      } else {
        // "With a standby running": kill only once another replica has synced and watches the Lease (a
        // replica takes seconds to start, longer on a loaded machine; killing before would leave none).
        const standbyBy = performance.now() + 120_000;
        let id = await holder();
        while (performance.now() < standbyBy && !(await hasStandby(replicas, id))) {
          await sleep(250);
          id = await holder();
        }
        const leader = replicas.find((r) => r.identity === id && r.process.running);
        if (leader === undefined) {
          chaosLog.push(`t=${now().toFixed(0)} s no live leader to kill (lease holder ${id ?? "none"})`);
          continue;
        }
        leader.killed = true;
        await leader.process.kill();
        addReplica();
        chaosLog.push(`t=${now().toFixed(0)} s SIGKILL leader ${leader.identity}; started replica-${serial}`);
      }
      log(chaosLog.at(-1) ?? "");
    }
  })();

  await driver;
  const remaining = (phaseEnd - now()) * timeScale * 1000;
  if (remaining > 0) await sleep(remaining);
  await cloud.settled().catch((err: unknown) => {
    log(`cloud simulator: ${err instanceof Error ? err.message : String(err)}`);
  });
  // Let every evacuation finish (or give up) before judging.
  await until("every evacuation finished", 120_000 * Math.max(timeScale, 0.5), async () => {
    const all = await listEvacuations(lab);
    return all.every((e) => e.status?.phase === "Done" || e.status?.phase === "Failed");
  }).catch((err: unknown) => {
    log(String(err));
  });
  await observe(env, seen);
  const reclaimedNodes = new Set([...noticed.values()].map((n) => n.node));
  {
    const evacuated = new Set(seen.evacuations.values());
    const lostSoFar = [...noticed.values()].filter((n) => !evacuated.has(n.node)).length;
    const open = (await listEvacuations(lab)).flatMap((e) =>
      (e.status?.surges ?? []).filter((x) => x.retiredAt === undefined),
    ).length;
    const replicasNow =
      (await lab.apps.readNamespacedDeployment({ name: APP, namespace: NS })).spec?.replicas ?? 0;
    log(
      `phase 1 over at t=${now().toFixed(0)} s: ${seen.evacuations.size} evacuations seen, ${noticed.size} warnings, lost ${lostSoFar}, open surges ${open}, spec.replicas ${replicasNow}, 5xx ${errors5xx}`,
    );
  }

  // ---- phase 2: junk ----
  const leaderId = await holder();
  const leader = replicas.find((r) => r.identity === leaderId && r.process.running);
  const url = leader === undefined ? null : await metricsUrl(leader);
  const before = url === null ? new Map<string, number>() : await scrapeOutcomes(url);
  const markedBefore = new Set(seen.marked);
  const existing = new Set((await lab.core.listNode()).items.map((n) => n.metadata?.name ?? ""));
  const live = lab.nodes
    .filter((n) => existing.has(n.name) && !reclaimedNodes.has(n.name))
    .map((n) => n.instanceId);
  const junkStart = performance.now();
  const sent = await sendJunk(
    env.sqs,
    env.queueUrl,
    junkCount,
    [...noticed.keys()],
    live,
    junkStart + junkTimeout * 1000,
  );
  const sentCount = [...sent.values()].reduce((a, b) => a + b, 0);
  const sendSeconds = (performance.now() - junkStart) / 1000;
  log(`${sentCount} junk bodies sent in ${sendSeconds.toFixed(0)} s; waiting for the queue to drain`);
  await until(
    "the queue drained",
    junkTimeout * 1000,
    async () => (await queueDepth(env.sqs, env.queueUrl)) === 0,
  ).catch((err: unknown) => {
    log(String(err));
  });
  const junkSeconds = (performance.now() - junkStart) / 1000;
  const left = await queueDepth(env.sqs, env.queueUrl).catch(() => NaN);
  await sleep(2_000);
  const after = url === null ? new Map<string, number>() : await scrapeOutcomes(url);
  await observe(env, seen);
  const foreignTouched = [...seen.marked].filter((n) => !reclaimedNodes.has(n));
  const touchedByJunk = [...seen.marked].filter((n) => !markedBefore.has(n));
  const evacuationsOfForeign = [...seen.evacuations.values()].filter((n) => !reclaimedNodes.has(n));

  stopLoad.abort();
  await load;
  stopObserving.abort();
  await observing;

  // ---- figures ----
  const final = await listEvacuations(lab);
  const orphaned = final.flatMap((e) =>
    (e.status?.surges ?? [])
      .filter((s) => s.retiredAt === undefined)
      .map((s) => `${e.metadata.name}: ${s.workload.kind}/${s.workload.name} +${s.by} (${e.status?.phase})`),
  );
  const specReplicas =
    (await lab.apps.readNamespacedDeployment({ name: APP, namespace: NS })).spec?.replicas ?? 0;
  const drift = Math.abs(specReplicas - REPLICAS);
  const evacuatedNodes = new Set(seen.evacuations.values());
  const lost = [...noticed.values()].filter((n) => !evacuatedNodes.has(n.node));
  const crashed = replicas.filter((r) => !r.killed && !r.process.running);
  const done = [...seen.finished.values()].filter((p) => p === "Done").length;
  /** The figure: reclaimed nodes whose evacuation reached Done. */
  const evacuatedOk = new Set(
    [...seen.finished].filter(([, p]) => p === "Done").map(([name]) => seen.evacuations.get(name)),
  );
  const evacuationsFigure = [...reclaimedNodes].filter((n) => evacuatedOk.has(n)).length;
  const failed = [...seen.finished.values()].filter((p) => p === "Failed").length;
  for (const r of replicas) if (r.process.running) await r.process.stop();

  const rows: [string, string][] = [
    ["seed / time scale", `${seed} / ${timeScale}`],
    ["wall time", `${((Date.now() - t0Wall) / 1000).toFixed(0)} s`],
    ["spot warnings sent (phase 1)", String(noticed.size)],
    ["evacuations seen / Done / Failed", `${seen.evacuations.size} / ${done} / ${failed}`],
    ["leader kills", String(replicas.filter((r) => r.killed).length)],
    ["chaos", chaosLog.filter((l) => !l.includes("SIGKILL")).join("; ") || "-"],
    ["requests / 5xx or errors", `${requests} / ${errors5xx}`],
    ["5xx by status", [...statuses].map(([s, n]) => `${s}: ${n}`).join(", ") || "-"],
    ["lost notices", lost.map((n) => `${n.node} (t=${n.at.toFixed(0)} s)`).join(", ") || "0"],
    ["orphaned surges", orphaned.join("; ") || "0"],
    ["Deployment spec.replicas at the end", `${specReplicas} (desired ${REPLICAS})`],
    ["replicas that crashed", crashed.map((r) => `${r.identity} (${r.process.logPath})`).join(", ") || "0"],
    [
      "junk bodies sent",
      `${sentCount} of ${junkCount} (sent in ${sendSeconds.toFixed(0)} s, --junk-timeout ${junkTimeout} s); ${left} still in the queue after ${junkSeconds.toFixed(0)} s`,
    ],
    ...[...sent].sort().map(([k, n]): [string, string] => [`  sent: ${k}`, String(n)]),
    ...[...new Set([...before.keys(), ...after.keys()])]
      .sort()
      .map((k): [string, string] => [
        `  counted by the leader: ${k}`,
        String((after.get(k) ?? 0) - (before.get(k) ?? 0)),
      ]),
    ["nodes touched that got no notice", foreignTouched.join(", ") || "0"],
    ["nodes touched during the junk phase", touchedByJunk.join(", ") || "0"],
    ["Evacuations of nodes that got no notice", evacuationsOfForeign.join(", ") || "0"],
  ];
  for (const w of errorWindows(failures, seen, noticed, cloud.timeline)) rows.push(["5xx window", w]);
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log("");
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  console.log(
    `chaos: evacuations=${evacuationsFigure} lost_notices=${lost.length} orphaned_surges=${orphaned.length} replica_drift=${drift} errors_5xx=${errors5xx} crashes=${crashed.length}`,
  );
}

/**
 * Failed requests grouped into windows (no gap over 5 scenario seconds), each with its statuses, the nodes
 * of the targets that failed, and what the cloud and lifeboat did to those nodes: where a 5xx came from.
 */
function errorWindows(
  failures: readonly { t: number; status: string; target: string }[],
  seen: Seen,
  noticed: ReadonlyMap<string, { node: string; at: number }>,
  timeline: readonly TimelineEntry[],
): string[] {
  const sorted = [...failures].sort((a, b) => a.t - b.t);
  const windows: (typeof sorted)[] = [];
  for (const f of sorted) {
    const last = windows.at(-1);
    if (last !== undefined && f.t - (last.at(-1)?.t ?? 0) <= 5) last.push(f);
    else windows.push([f]);
  }
  return windows.map((w) => {
    const count = new Map<string, number>();
    for (const f of w) count.set(f.status, (count.get(f.status) ?? 0) + 1);
    const nodes = new Set(
      w.map((f) => seen.podNodes.get(f.target.split(":")[0] ?? "") ?? `target ${f.target}`),
    );
    const about = [...nodes].map((node) => {
      const notice = [...noticed.values()].find((n) => n.node === node);
      const died = timeline.find((e) => e.node === node && e.kind === "node-killed");
      const evac = [...seen.latest.values()].filter((e) => e.spec.nodeName === node);
      const tl = evac.map((e) => {
        const at = (iso: string | undefined): string =>
          iso === undefined ? "-" : ((Date.parse(iso) - Date.parse(e.spec.noticedAt)) / 1000).toFixed(1);
        const t = e.status?.timeline ?? {};
        return `${e.metadata.name} ${e.status?.phase ?? "?"} cordon +${at(t.cordonedAt)} surge +${at(t.surgeCreatedAt)} ready +${at(t.replacementsReadyAt)} retired +${at(t.retiredAt)} done +${at(t.doneAt)} (s after notice received)`;
      });
      return `${node}: notice t=${notice?.at.toFixed(0) ?? "-"}, died t=${died?.at.toFixed(0) ?? "-"}; ${tl.join("; ") || "no Evacuation"}`;
    });
    return `t=${w[0]?.t.toFixed(0)}..${w.at(-1)?.t.toFixed(0)} s: ${[...count].map(([s, n]) => `${n} x ${s}`).join(", ")}; ${about.join(" | ")}`;
  });
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const start = performance.now();
  while (!(await check().catch(() => false))) {
    if (performance.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

await main();
