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
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { cloudLabOf, sqsSender } from "../lab/cloud/kube.ts";
import { CloudSimulator, type TimelineEntry } from "../lab/cloud/cloud.ts";
import { startAwsFaultProxy } from "../lab/faults/aws.ts";
import type { FaultProxy } from "../lab/faults/proxy.ts";
import { startKubeFaultProxy, type KubeFaultProxy } from "../lab/faults/kube.ts";
import {
  backdatedMessageTime,
  labCloudHooks,
  scenarioClock,
  type ScenarioClock,
} from "../lab/harness/cloud.ts";
import { NS, startLabEnv, type LabEnv } from "../lab/harness/env.ts";
import { listEvacuations } from "../lab/harness/evacuations.ts";
import { startFrontDoor, targetsHealthy, type FrontDoor } from "../lab/harness/front-door.ts";
import { deployWorkloads, workloadsReady } from "../lab/harness/workloads.ts";
import { scenarioSchema, type Scenario } from "../lab/scenarios/load.ts";
import { errorMessage } from "../src/domain/error-message.ts";
import { chaosPlan, runChaos, type ReclaimSchedule } from "./chaos/driver.ts";
import { printFigures, readFigures, type JunkResult, type Noticed } from "./chaos/figures.ts";
import { Fleet, metricsUrl, scrapeOutcomes } from "./chaos/fleet.ts";
import { queueDepth, sendJunk } from "./chaos/junk.ts";
import { Seen } from "./chaos/observe.ts";
import { Random } from "./chaos/random.ts";
import { ChaosTraffic } from "./chaos/traffic.ts";

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
const SCHEDULE: ReclaimSchedule = { first: FIRST_RECLAIM, every: RECLAIM_EVERY, count: reclaims };
const GROUPS = [
  { name: "spot-a", zone: "us-east-1a", count: 10 },
  { name: "spot-b", zone: "us-east-1b", count: 10 },
];

const rng = new Random(seed);

const log = (line: string): void => {
  process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

async function main(): Promise<void> {
  const t0Wall = Date.now();
  log(`seed ${seed}, time scale ${timeScale}, ${reclaims} reclaims, ${junkCount} junk bodies`);
  const scenario = chaosScenario();
  await using env = await startLabEnv({ nodeGroups: GROUPS, timeScale });
  await using front = await startApp(env, scenario);
  // The controllers reach kube-apiserver and moto only through the fault proxies.
  await using apiFaults = await startKubeFaultProxy(env.lab.controlPlane);
  await using awsFaults = await startAwsFaultProxy(env.moto.endpoint);
  const fleet = await startFleet(env, apiFaults, awsFaults);

  // ---- phase 1: reclaims with kills and outages ----
  const seen = new Seen(env.lab, APP);
  const noticed = new Map<string, { node: string; at: number }>();
  const clock = scenarioClock(timeScale);
  await using cloud = reclaimCloud(env, scenario, clock, noticed);
  const traffic = new ChaosTraffic(front.alb, APP, RPS, clock, timeScale);
  const stopObserving = seen.watch();
  cloud.start();
  const plan = chaosPlan(rng, SCHEDULE);
  const chaosLog = await runChaos(plan, { clock, timeScale, fleet, apiFaults, awsFaults, log });
  await endReclaims(env, cloud, clock, seen);
  const reclaimedNodes = new Set([...noticed.values()].map((n) => n.node));
  await logReclaims(env, seen, noticed, clock, traffic);

  // ---- phase 2: junk ----
  const junk = await junkPhase(env, fleet, seen, noticed, reclaimedNodes);
  await traffic.stop();
  await stopObserving();

  const record = {
    settings: { seed, timeScale, junkCount, junkTimeout, t0Wall },
    app: { name: APP, replicas: REPLICAS },
    noticed,
    reclaimedNodes,
    seen,
    replicas: fleet.replicas,
    chaosLog,
    traffic,
    junk,
    timeline: cloud.timeline,
  };
  const figures = await readFigures(env.lab, record);
  await fleet.stop();
  printFigures(record, figures);
}

/** The workload behind the ALB: a fast app (Ready in seconds) with the seed's 20 s preStop. */
function chaosScenario(): Scenario {
  return scenarioSchema.parse({
    name: "chaos",
    description: "bench/chaos.ts: overlapping spot reclaims of nodes holding the app's pods",
    timeScale,
    cluster: { nodeGroups: GROUPS },
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
}

/** The app Ready, behind the ALB with every target healthy. */
async function startApp(env: LabEnv, scenario: Scenario): Promise<FrontDoor> {
  const desired = await deployWorkloads(env.lab, scenario.workloads, timeScale, "ClusterIP");
  await until("the Deployment Ready", 120_000, () => workloadsReady(env.lab, desired));
  const front = await startFrontDoor(env.lab, { workloads: scenario.workloads, targetType: "ip", timeScale });
  try {
    await until("every target healthy", 120_000, () =>
      Promise.resolve(targetsHealthy(front.alb, [{ name: APP, replicas: REPLICAS }])),
    );
    return front;
  } catch (err) {
    await front[Symbol.asyncDispose]();
    throw err;
  }
}

/** Two replicas through the fault proxies, one of them the leader. */
async function startFleet(env: LabEnv, apiFaults: KubeFaultProxy, awsFaults: FaultProxy): Promise<Fleet> {
  const fleet = new Fleet(
    {
      kubeconfigPath: apiFaults.kubeconfigPath,
      queueUrl: awsFaults.rewrite(env.queueUrl),
      awsEndpoint: awsFaults.url,
      logDir: env.dir,
      timeScale,
    },
    env.lab,
  );
  fleet.add();
  fleet.add();
  await until("a leader", 60_000, async () => (await fleet.holder()) !== undefined);
  log(`leader ${await fleet.holder()}; traffic and reclaims start`);
  return fleet;
}

/** The cloud simulator's reclaims, sent straight into the queue; every notice recorded in `noticed`. */
function reclaimCloud(
  env: LabEnv,
  scenario: Scenario,
  clock: ScenarioClock,
  noticed: Map<string, { node: string; at: number }>,
): CloudSimulator {
  const { lab } = env;
  return new CloudSimulator({
    lab: cloudLabOf(lab),
    send: sqsSender(env.sqs, env.queueUrl),
    hooks: labCloudHooks(lab, { victimsOf: APP }),
    settings: scenario.cloud,
    nodeGroups: scenario.cluster.nodeGroups,
    events: scenario.events,
    timeScale,
    t0: clock.t0,
    messageTime: backdatedMessageTime(clock.wall0, timeScale),
    onEntry: (e: TimelineEntry) => {
      if (e.kind === "notice-issued" && e.node !== null) {
        const instance = lab.nodes.find((n) => n.name === e.node)?.instanceId ?? e.node;
        noticed.set(instance, { node: e.node, at: e.at });
      }
    },
  });
}

/** Until the last notice's node is dead and a minute more, then until every evacuation finished. */
async function endReclaims(
  env: LabEnv,
  cloud: CloudSimulator,
  clock: ScenarioClock,
  seen: Seen,
): Promise<void> {
  const lastNotice = FIRST_RECLAIM + (reclaims - 1) * RECLAIM_EVERY;
  const phaseEnd = lastNotice + 120 + 60;
  const remaining = (phaseEnd - clock.now()) * timeScale * 1000;
  if (remaining > 0) await sleep(remaining);
  await cloud.settled().catch((err: unknown) => {
    log(`cloud simulator: ${errorMessage(err)}`);
  });
  // Let every evacuation finish (or give up) before judging.
  await until("every evacuation finished", 120_000 * Math.max(timeScale, 0.5), async () => {
    const all = await listEvacuations(env.lab);
    return all.every((e) => e.status?.phase === "Done" || e.status?.phase === "Failed");
  }).catch((err: unknown) => {
    log(String(err));
  });
  await seen.observe();
}

async function logReclaims(
  env: LabEnv,
  seen: Seen,
  noticed: Noticed,
  clock: ScenarioClock,
  traffic: ChaosTraffic,
): Promise<void> {
  const evacuated = new Set(seen.evacuations.values());
  const lostSoFar = [...noticed.values()].filter((n) => !evacuated.has(n.node)).length;
  const open = (await listEvacuations(env.lab)).flatMap((e) =>
    (e.status?.surges ?? []).filter((x) => x.retiredAt === undefined),
  ).length;
  const replicasNow =
    (await env.lab.apps.readNamespacedDeployment({ name: APP, namespace: NS })).spec?.replicas ?? 0;
  log(
    `phase 1 over at t=${clock.now().toFixed(0)} s: ${seen.evacuations.size} evacuations seen, ${noticed.size} warnings, lost ${lostSoFar}, open surges ${open}, spec.replicas ${replicasNow}, 5xx ${traffic.errors5xx}`,
  );
}

/**
 * `--junk` bodies into the queue as it drains, counted by the leader's /metrics before and after; which nodes
 * the junk touched.
 */
async function junkPhase(
  env: LabEnv,
  fleet: Fleet,
  seen: Seen,
  noticed: Noticed,
  reclaimedNodes: ReadonlySet<string>,
): Promise<JunkResult> {
  const leader = await fleet.leader();
  const url = leader === undefined ? null : await metricsUrl(leader);
  const before = url === null ? new Map<string, number>() : await scrapeOutcomes(url);
  const markedBefore = new Set(seen.marked);
  const existing = new Set((await env.lab.core.listNode()).items.map((n) => n.metadata?.name ?? ""));
  const live = env.lab.nodes
    .filter((n) => existing.has(n.name) && !reclaimedNodes.has(n.name))
    .map((n) => n.instanceId);
  const junkStart = performance.now();
  const sent = await sendJunk({
    sqs: env.sqs,
    queueUrl: env.queueUrl,
    rng,
    count: junkCount,
    reclaimed: [...noticed.keys()],
    live,
    deadline: junkStart + junkTimeout * 1000,
  });
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
  await seen.observe();
  return {
    sent,
    sendSeconds,
    junkSeconds,
    left,
    before,
    after,
    foreignTouched: [...seen.marked].filter((n) => !reclaimedNodes.has(n)),
    touchedByJunk: [...seen.marked].filter((n) => !markedBefore.has(n)),
    evacuationsOfForeign: [...seen.evacuations.values()].filter((n) => !reclaimedNodes.has(n)),
  };
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const start = performance.now();
  while (!(await check().catch(() => false))) {
    if (performance.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

await main();
