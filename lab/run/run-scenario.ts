/**
 * Runs a scenario once per handler and writes DIR/report.json and DIR/report.html. Each handler gets a
 * fresh lab: moto (the shipped CloudFormation stack with the queue and its EventBridge rules, and an EC2
 * instance behind every node), control plane, simulated spot nodes, pod runtime, the ALB simulator in front of
 * the workloads, the load generator, and the cloud simulator that reclaims nodes on the scenario's clock and
 * publishes its events with EventBridge PutEvents.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { eventBridgeClient, eventBridgeSender } from "../aws/eventbridge.ts";
import { CloudSimulator, type TimelineEntry } from "../cloud/cloud.ts";
import { cloudLabOf } from "../cloud/kube.ts";
import { backdatedMessageTime, labCloudHooks, scenarioClock, type ScenarioClock } from "../harness/cloud.ts";
import { NS, REGION, startLabEnv, type LabEnv } from "../harness/env.ts";
import { startFrontDoor, targetsHealthy, type FrontDoor } from "../harness/front-door.ts";
import { startHandler, type HandlerName, type RunningHandler } from "../harness/handlers.ts";
import { deployWorkloads, workloadsReady } from "../harness/workloads.ts";
import { handlerReport, formatSummaryTable } from "../report/summary.ts";
import type { HandlerReport, Report } from "../report/types.ts";
import { writeReport } from "../report/write.ts";
import { nodeGroupSpecs, type Scenario } from "../scenarios/load.ts";
import { settledEvacuationPhases } from "./evacuation-phases.ts";
import { EventsLog } from "./events-log.ts";
import { settleHeadroom, HEADROOM_NAMESPACE } from "./headroom.ts";
import { ClusterObserver } from "./observer.ts";
import type { HandlerRun } from "./handler-run.ts";
import { driveTraffic, type Traffic } from "./traffic.ts";
import { pollUntil } from "./poll.ts";
import { WorkloadEvents } from "./workload-events.ts";

export interface RunOptions {
  scenario: Scenario;
  handlers: HandlerName[];
  outDir: string;
  /** Overrides the scenario's time scale. */
  timeScale?: number;
  /** One line at a time: progress and phase changes. */
  progress?: (line: string) => void;
  /** Extra flags for `lifeboat run` (e.g. `--early-node`, `--headroom-nodes=0`), after the lab's own. */
  lifeboatArgs?: readonly string[];
}

export async function runScenario(opts: RunOptions): Promise<Report> {
  const timeScale = opts.timeScale ?? opts.scenario.timeScale;
  const report: Report = { scenario: opts.scenario.name, timeScale, handlers: [] };
  await mkdir(opts.outDir, { recursive: true });
  for (const handler of opts.handlers) {
    report.handlers.push(
      await runHandler({
        scenario: opts.scenario,
        handler,
        timeScale,
        outDir: opts.outDir,
        progress: opts.progress ?? (() => undefined),
        lifeboatArgs: opts.lifeboatArgs ?? [],
      }),
    );
    await writeReport(opts.outDir, report);
  }
  opts.progress?.(formatSummaryTable(report));
  return report;
}

/**
 * The lab up, the workloads Ready behind the ALB, the handler running (and, for lifeboat, its headroom in
 * place); then time zero: the cloud's and other parties' events play while the load generator sends traffic.
 */
async function runHandler(run: HandlerRun): Promise<HandlerReport> {
  announce(run);
  await using env = await startScenarioLab(run);
  const desired = await startWorkloads(run, env);
  // Every data-plane and pod event, for whoever wants to know why a request failed.
  const events = new EventsLog(join(run.outDir, `${run.handler}-events.jsonl`), run.timeScale);
  env.lab.runtime.on("*", (e) => {
    events.record("pod", e);
  });
  await using front = await startScenarioFrontDoor(run, env, events);
  await using running = await startScenarioHandler(run, env);
  // A handler that keeps headroom (lifeboat's placeholders) has had it in place long before a reclaim in a
  // real cluster: let the autoscaler add the nodes its placeholders ask for before time zero.
  if (run.handler === "lifeboat") await settleHeadroom(run, env);

  const clock = scenarioClock(run.timeScale);
  const observer = new ClusterObserver({
    core: env.lab.core,
    namespace: NS,
    desired,
    isNodeDead: (n) => env.lab.runtime.isNodeDead(n),
    now: clock.now,
  });
  const cloud = scenarioCloud(run, env, observer, clock);
  await using workloadEvents = scenarioWorkloadEvents(run, env, events, desired, clock);
  const traffic = await driveTraffic(run, { alb: front.alb, observer, cloud, workloadEvents, clock });
  run.progress(`[${run.handler}] done: ${traffic.responses.length} requests, ${traffic.errors} errors`);
  events.end();
  return await report(run, env, desired, observer, running, traffic);
}

function announce(run: HandlerRun): void {
  const nodes = run.scenario.cluster.nodeGroups.reduce((n, g) => n + g.count, 0);
  run.progress(`[${run.handler}] starting the lab (${nodes} nodes, time scale ${run.timeScale})`);
  if (run.handler.startsWith("nth") && run.timeScale !== 1)
    run.progress(
      `[${run.handler}] warning: aws-node-termination-handler's timings are real seconds; at time scale ${run.timeScale} the comparison is unfair to it (use --time-scale 1)`,
    );
}

/**
 * moto with the shipped stack (deploy/cloudformation/lifeboat.yaml: the queue and its rules); every node first
 * an EC2 instance in moto, in a subnet of its zone, with its group's tags; each node group's Auto Scaling
 * group holding the starting instances (what --early-node raises).
 */
async function startScenarioLab(run: HandlerRun): Promise<LabEnv> {
  return startLabEnv({
    nodeGroups: nodeGroupSpecs(run.scenario),
    timeScale: run.timeScale,
    queue: "stack",
    stackClusterName: "lab",
    ec2: true,
    asgs: {
      groups: run.scenario.cluster.nodeGroups,
      maxSize: run.scenario.cloud.autoscaler.maxNodesPerGroup,
    },
    dir: run.outDir,
  });
}

/** Deploys the scenario's workloads and waits until they are Ready; returns the desired replicas by name. */
async function startWorkloads(run: HandlerRun, env: LabEnv): Promise<Map<string, number>> {
  const { scenario, timeScale } = run;
  const serviceType = scenario.cluster.albTargetType === "instance" ? "NodePort" : "ClusterIP";
  const desired = await deployWorkloads(env.lab, scenario.workloads, timeScale, serviceType);
  const startupSeconds = Math.max(
    ...scenario.workloads.map(
      (w) =>
        w.pullSeconds +
        w.startSeconds +
        (w.readiness === null ? 0 : w.readiness.initialDelaySeconds + 3 * w.readiness.periodSeconds),
    ),
  );
  run.progress(
    `[${run.handler}] waiting for ${[...desired.values()].reduce((a, b) => a + b, 0)} pods to become Ready (about ${Math.round(startupSeconds * timeScale)} s)`,
  );
  await pollUntil("workloads Ready", (startupSeconds * timeScale + 60) * 1000, () =>
    workloadsReady(env.lab, desired),
  );
  return desired;
}

/** The ALB in front of the workloads (through the lab's kube-proxy), once every target is healthy. */
async function startScenarioFrontDoor(run: HandlerRun, env: LabEnv, events: EventsLog): Promise<FrontDoor> {
  const { scenario, timeScale } = run;
  const front = await startFrontDoor(env.lab, {
    onTargetEvent: (e) => {
      events.record("alb", e);
    },
    workloads: scenario.workloads,
    targetType: scenario.cluster.albTargetType,
    timeScale,
  });
  try {
    run.progress(`[${run.handler}] ALB up at ${front.alb.url}; waiting for every target to be healthy`);
    await pollUntil("targets healthy", 120_000 * Math.max(timeScale, 0.25), () =>
      Promise.resolve(targetsHealthy(front.alb, scenario.workloads)),
    );
    return front;
  } catch (err) {
    await front[Symbol.asyncDispose]();
    throw err;
  }
}

/** The handler under test, started as a user would run it, with lifeboat's headroom namespace in place. */
async function startScenarioHandler(run: HandlerRun, env: LabEnv): Promise<RunningHandler> {
  await env.lab.core.createNamespace({ body: { metadata: { name: HEADROOM_NAMESPACE } } });
  return startHandler(run.handler, {
    kubeconfigPath: env.lab.kubeconfigPath,
    queueUrl: env.queueUrl,
    awsEndpoint: env.moto.endpoint,
    awsRegion: REGION,
    timeScale: run.timeScale,
    logPath: join(run.outDir, `${run.handler}.log`),
    workDir: env.lab.controlPlane.dir,
    lifeboatArgs: run.lifeboatArgs,
  });
}

/** The cloud simulator on the scenario's clock, publishing with PutEvents; its timeline feeds the observer. */
function scenarioCloud(
  run: HandlerRun,
  env: LabEnv,
  observer: ClusterObserver,
  clock: ScenarioClock,
): CloudSimulator {
  const { scenario, timeScale } = run;
  return new CloudSimulator({
    lab: cloudLabOf(env.lab),
    send: eventBridgeSender(eventBridgeClient(env.moto)),
    hooks: labCloudHooks(env.lab, { victimsOf: scenario.workloads[0]?.name, asg: env.asgs?.hooks }),
    settings: scenario.cloud,
    nodeGroups: scenario.cluster.nodeGroups,
    events: scenario.events,
    timeScale,
    t0: clock.t0,
    messageTime: backdatedMessageTime(clock.wall0, timeScale),
    onEntry: (e: TimelineEntry) => {
      if (e.node === null) return;
      if (e.kind === "notice-issued") observer.noticed(e.node, e.at, e.at + scenario.cloud.noticeLeadSeconds);
      else if (e.kind === "node-killed") observer.died(e.node, e.at);
      else if (e.kind === "rebalance-issued")
        observer.mark(e.node, { at: e.at, kind: "rebalance", detail: e.detail });
    },
  });
}

/** Other parties' changes (scale, rollout): the desired count of the ready ratio follows a scale. */
function scenarioWorkloadEvents(
  run: HandlerRun,
  env: LabEnv,
  events: EventsLog,
  desired: Map<string, number>,
  clock: ScenarioClock,
): WorkloadEvents {
  return new WorkloadEvents({
    apps: env.lab.apps,
    namespace: NS,
    events: run.scenario.events,
    timeScale: run.timeScale,
    t0: clock.t0,
    onApplied: (e, at) => {
      events.record("workload", {
        event: e.kind,
        workload: e.workload,
        at,
        ...(e.kind === "scale" ? { replicas: e.replicas } : {}),
      });
      if (e.kind === "scale") desired.set(e.workload, e.replicas);
    },
  });
}

async function report(
  run: HandlerRun,
  env: LabEnv,
  desired: ReadonlyMap<string, number>,
  observer: ClusterObserver,
  running: RunningHandler,
  traffic: Traffic,
): Promise<HandlerReport> {
  // lifeboat's evacuations may still be retiring their last surge when the traffic ends: the workloads'
  // counts are read once they are finished (or after a minute of scenario time).
  const phases =
    run.handler === "lifeboat"
      ? await settledEvacuationPhases(env.lab.custom, 60_000 * run.timeScale)
      : undefined;
  const workloads = [];
  for (const [name, want] of desired) {
    const d = await env.lab.apps.readNamespacedDeployment({ name, namespace: NS });
    workloads.push({ name, desired: want, replicas: d.spec?.replicas ?? 0 });
  }
  return handlerReport({
    handler: run.handler,
    version: running.version,
    durationSeconds: run.scenario.traffic.durationSeconds,
    responses: traffic.responses,
    ready: observer.ready,
    evacuations: observer.evacuations,
    nodes: observer.lanes,
    workloads,
    placeholders: observer.placeholders,
    ...(phases === undefined ? {} : { evacuationPhases: phases }),
  });
}
