/**
 * Runs a scenario once per handler and writes DIR/report.json and DIR/report.html. Each handler gets a
 * fresh lab: moto (the shipped CloudFormation stack with the queue and its EventBridge rules, and an EC2
 * instance behind every node), control plane, simulated spot nodes, pod runtime, the ALB simulator in front of
 * the workloads, the load generator, and the cloud simulator that reclaims nodes on the scenario's clock and
 * publishes its events with EventBridge PutEvents.
 */
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startAlb } from "../alb/alb.ts";
import { eventBridgeClient, eventBridgeSender } from "../aws/eventbridge.ts";
import { startMoto, type Moto } from "../aws/moto.ts";
import { deployInterruptionStack } from "../aws/stack.ts";
import { LabEc2 } from "../cloud/ec2.ts";
import { CloudSimulator, type AsgHooks, type TimelineEntry } from "../cloud/cloud.ts";
import { LabAsgs } from "../cloud/asg.ts";
import { cloudLabOf, pendingPods, podsOf, preferNodesHoldingPods } from "../cloud/kube.ts";
import { startLab } from "../lab.ts";
import { runLoad, type ResponseRecord } from "../loadgen/loadgen.ts";
import { handlerReport, formatProgress, formatSummaryTable } from "../report/summary.ts";
import type { HandlerReport, Report } from "../report/types.ts";
import { writeReport } from "../report/write.ts";
import { deploymentFixture, nodeGroupSpecs, type Scenario } from "../scenarios/load.ts";
import { deployment, pdb, service, type DeploymentFixture } from "../workloads.ts";
import { startHandler, type HandlerName } from "./handlers.ts";
import { settledEvacuationPhases } from "./evacuation-phases.ts";
import { ClusterObserver, PLACEHOLDER_LABEL } from "./observer.ts";
import { WorkloadEvents } from "./workload-events.ts";
import { LabKubeProxy } from "./kube-proxy.ts";

const NAMESPACE = "default";
/** Where lifeboat keeps its headroom placeholders (its --headroom-namespace default, the chart's namespace). */
const HEADROOM_NAMESPACE = "lifeboat-system";
const REGION = "us-east-1";
/** The EventBridge notice says "2 minutes"; consumers compute the deadline as the event's time + 120 s. */
const NOTICE_LEAD_MS = 120_000;
/**
 * Client connections of the load generator. Open loop means a stuck request never delays the next one: at
 * 40 rps with requests hanging up to the ALB's 60 s idle timeout on a dead target, a few hundred can be
 * outstanding at once, and a small pool would queue the rest behind them (and hide the errors).
 */
const LOAD_CONNECTIONS = 2048;

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
      await runHandler(
        opts.scenario,
        handler,
        timeScale,
        opts.outDir,
        opts.progress ?? (() => undefined),
        opts.lifeboatArgs ?? [],
      ),
    );
    await writeReport(opts.outDir, report);
  }
  opts.progress?.(formatSummaryTable(report));
  return report;
}

/**
 * A workload's pod spec in real seconds at `timeScale`: preStop, probe timings, grace period, pull, start and
 * request times multiplied by it (probe fields rounded to whole seconds, at least 1, as the API requires).
 */
export function scaledFixture(f: DeploymentFixture, timeScale: number): DeploymentFixture {
  const s = (x: number): number => Math.round(x * timeScale * 100) / 100;
  const whole = (x: number, min: number): number => Math.max(min, Math.round(x * timeScale));
  const out: DeploymentFixture = { ...f };
  if (f.preStopSeconds !== undefined && f.preStopSeconds !== null) out.preStopSeconds = s(f.preStopSeconds);
  if (f.readiness !== undefined && f.readiness !== null) {
    out.readiness = {
      initialDelaySeconds: whole(f.readiness.initialDelaySeconds, 0),
      periodSeconds: whole(f.readiness.periodSeconds, 1),
      failureThreshold: f.readiness.failureThreshold,
      ...(f.readiness.timeoutSeconds === undefined
        ? {}
        : { timeoutSeconds: whole(f.readiness.timeoutSeconds, 1) }),
    };
  }
  if (f.terminationGracePeriodSeconds !== undefined)
    out.terminationGracePeriodSeconds = whole(f.terminationGracePeriodSeconds, 1);
  if (f.timings !== undefined) {
    out.timings = {
      ...(f.timings.pullSeconds === undefined ? {} : { pullSeconds: s(f.timings.pullSeconds) }),
      ...(f.timings.startSeconds === undefined ? {} : { startSeconds: s(f.timings.startSeconds) }),
      ...(f.timings.requestMs === undefined ? {} : { requestMs: s(f.timings.requestMs) }),
    };
  }
  return out;
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > timeoutMs)
      throw new Error(`${what}: not reached within ${Math.round(timeoutMs / 1000)} s`);
    await sleep(200);
  }
}

async function runHandler(
  scenario: Scenario,
  handler: HandlerName,
  timeScale: number,
  outDir: string,
  progress: (line: string) => void,
  lifeboatArgs: readonly string[],
): Promise<HandlerReport> {
  progress(
    `[${handler}] starting the lab (${scenario.cluster.nodeGroups.reduce((n, g) => n + g.count, 0)} nodes, time scale ${timeScale})`,
  );
  if (handler.startsWith("nth") && timeScale !== 1)
    progress(
      `[${handler}] warning: aws-node-termination-handler's timings are real seconds; at time scale ${timeScale} the comparison is unfair to it (use --time-scale 1)`,
    );
  // moto with the shipped stack (deploy/cloudformation/lifeboat.yaml: the queue and its rules).
  const { moto: motoServer, queueUrl } = await startAwsSide();
  await using moto = motoServer;
  const eventBus = eventBridgeClient(moto);
  // Every node is first an EC2 instance in moto, in a subnet of its zone, with its group's tags.
  const ec2 = await LabEc2.create(moto.ec2Client(), {
    zones: scenario.cluster.nodeGroups.map((g) => g.zone),
  });
  // Pod specs are written in real (scaled) seconds and the pod runtime runs them as written, so a handler
  // that reads a pod's preStop or probe sees exactly what will happen.
  await using lab = await startLab({
    nodeGroups: nodeGroupSpecs(scenario),
    timeScale,
    runtime: { timeScale: 1 },
    instances: ec2,
  });
  await lab.installEvacuationCrd();
  // Each node group's Auto Scaling group in moto, holding the starting instances (what --early-node raises).
  await using asgs = await LabAsgs.create(
    moto,
    scenario.cluster.nodeGroups,
    lab.nodes,
    scenario.cloud.autoscaler.maxNodesPerGroup,
  );

  const desired = new Map<string, number>();
  for (const w of scenario.workloads) {
    desired.set(w.name, w.replicas);
    await lab.apps.createNamespacedDeployment({
      namespace: NAMESPACE,
      body: deployment(scaledFixture(deploymentFixture(w), timeScale)),
    });
    await lab.core.createNamespacedService({
      namespace: NAMESPACE,
      body: service(
        w.name,
        NAMESPACE,
        scenario.cluster.albTargetType === "instance" ? "NodePort" : "ClusterIP",
      ),
    });
    if (w.pdb !== undefined) {
      const spec: { minAvailable?: number; maxUnavailable?: number } = {};
      if (w.pdb.minAvailable !== undefined) spec.minAvailable = w.pdb.minAvailable;
      if (w.pdb.maxUnavailable !== undefined) spec.maxUnavailable = w.pdb.maxUnavailable;
      await lab.policy.createNamespacedPodDisruptionBudget({ namespace: NAMESPACE, body: pdb(w.name, spec) });
    }
  }
  const startupSeconds = Math.max(
    ...scenario.workloads.map(
      (w) =>
        w.pullSeconds +
        w.startSeconds +
        (w.readiness === null ? 0 : w.readiness.initialDelaySeconds + 3 * w.readiness.periodSeconds),
    ),
  );
  progress(
    `[${handler}] waiting for ${[...desired.values()].reduce((a, b) => a + b, 0)} pods to become Ready (about ${Math.round(startupSeconds * timeScale)} s)`,
  );
  await waitFor("workloads Ready", (startupSeconds * timeScale + 60) * 1000, async () => {
    for (const [name, want] of desired) {
      const d = await lab.apps.readNamespacedDeployment({ name, namespace: NAMESPACE });
      if ((d.status?.readyReplicas ?? 0) < want) return false;
    }
    return true;
  });

  // Every data-plane and pod event, for whoever wants to know why a request failed.
  const events = createWriteStream(join(outDir, `${handler}-events.jsonl`));
  const t00 = performance.now();
  const at = (): number => Math.round(((performance.now() - t00) / 1000 / timeScale) * 100) / 100;
  const record = (source: string, e: object): void => {
    events.write(`${JSON.stringify({ t: at(), source, ...e })}\n`);
  };
  lab.runtime.on("*", (e) => {
    record("pod", e);
  });
  // Instance-mode targets are node IP + NodePort: the lab's kube-proxy forwards them to the Service's pods.
  await using proxy = new LabKubeProxy({
    kubeConfig: lab.kubeConfig,
    core: lab.core,
    resolvePod: (ip, port) => lab.runtime.resolve(ip, port),
    isNodeDead: (n) => lab.runtime.isNodeDead(n),
  });
  await proxy.start();
  await using alb = await startAlb({
    onTargetEvent: (e) => {
      record("alb", e);
    },
    kubeConfig: lab.kubeConfig,
    resolve: proxy.resolve,
    bindings: scenario.workloads.map((w) => ({
      name: w.name,
      namespace: NAMESPACE,
      serviceName: w.name,
      servicePort: 80,
      targetType: scenario.cluster.albTargetType,
      host: `${w.name}.lab`,
      healthCheck: { path: "/api/health" },
    })),
    timeScale,
  });
  progress(`[${handler}] ALB up at ${alb.url}; waiting for every target to be healthy`);
  await waitFor("targets healthy", 120_000 * Math.max(timeScale, 0.25), () =>
    Promise.resolve(
      scenario.workloads.every((w) => {
        const health = alb.targetGroups.get(w.name)?.describeTargetHealth() ?? [];
        return health.filter((h) => h.state === "healthy").length >= w.replicas;
      }),
    ),
  );

  await lab.core.createNamespace({ body: { metadata: { name: HEADROOM_NAMESPACE } } });
  await using running = await startHandler(handler, {
    kubeconfigPath: lab.kubeconfigPath,
    queueUrl,
    awsEndpoint: moto.endpoint,
    awsRegion: REGION,
    timeScale,
    logPath: join(outDir, `${handler}.log`),
    workDir: lab.controlPlane.dir,
    lifeboatArgs,
  });

  // A handler that keeps headroom (lifeboat's placeholders) has had it in place long before a reclaim in a
  // real cluster: let the autoscaler add the nodes its placeholders ask for before time zero.
  if (handler === "lifeboat") await settleHeadroom(lab, scenario, timeScale, progress, asgs.hooks);

  const t0 = performance.now();
  const wall0 = Date.now();
  const now = (): number => (performance.now() - t0) / 1000 / timeScale;
  const observer = new ClusterObserver({
    core: lab.core,
    namespace: NAMESPACE,
    desired,
    isNodeDead: (n) => lab.runtime.isNodeDead(n),
    now,
  });
  const first = scenario.workloads[0];
  const cloud = new CloudSimulator({
    lab: cloudLabOf(lab),
    send: eventBridgeSender(eventBus),
    hooks: {
      killNode: (name, mode) => {
        lab.runtime.killNode(name, mode);
      },
      ...(first === undefined
        ? {}
        : { chooseVictims: preferNodesHoldingPods(() => podsOf(lab.core, NAMESPACE, `app=${first.name}`)) }),
      pendingPods: () => pendingPods(lab.core),
      asg: asgs.hooks,
    },
    settings: scenario.cloud,
    nodeGroups: scenario.cluster.nodeGroups,
    events: scenario.events,
    timeScale,
    t0,
    // At a time scale below 1 the lab's deadline is 120 s x scale after the notice, but a consumer computes
    // it as the message's time + 120 s: back-date the time so that both agree.
    messageTime: (at) => new Date(wall0 + at * timeScale * 1000 - NOTICE_LEAD_MS * (1 - timeScale)),
    onEntry: (e: TimelineEntry) => {
      if (e.node === null) return;
      if (e.kind === "notice-issued") observer.noticed(e.node, e.at, e.at + scenario.cloud.noticeLeadSeconds);
      else if (e.kind === "node-killed") observer.died(e.node, e.at);
      else if (e.kind === "rebalance-issued")
        observer.mark(e.node, { at: e.at, kind: "rebalance", detail: e.detail });
    },
  });

  // Other parties' changes (scale, rollout): the desired count of the ready ratio follows a scale.
  await using workloadEvents = new WorkloadEvents({
    apps: lab.apps,
    namespace: NAMESPACE,
    events: scenario.events,
    timeScale,
    t0,
    onApplied: (e, at) => {
      record("workload", {
        event: e.kind,
        workload: e.workload,
        at,
        ...(e.kind === "scale" ? { replicas: e.replicas } : {}),
      });
      if (e.kind === "scale") desired.set(e.workload, e.replicas);
    },
  });

  const responses: { at: number; status: number | "error" }[] = [];
  let errors = 0;
  let lastProgress = 0;
  const stopSampling = new AbortController();
  const sampling = (async () => {
    while (!stopSampling.signal.aborted) {
      await observer.sample().catch(() => undefined);
      const t = now();
      if (t - lastProgress >= 10) {
        lastProgress = t;
        progress(
          formatProgress({
            handler,
            elapsed: t,
            total: scenario.traffic.durationSeconds,
            rps: scenario.traffic.rps,
            errors,
          }),
        );
      }
      await sleep(200);
    }
  })();
  await observer.sample();
  cloud.start();
  workloadEvents.start();
  const loads = scenario.workloads.map((w) =>
    runLoad({
      url: `${alb.url}/`,
      rps: scenario.traffic.rps / scenario.workloads.length,
      durationSeconds: scenario.traffic.durationSeconds,
      timeScale,
      headers: { host: `${w.name}.lab` },
      // Many independent clients: requests stuck on a dead target must not hold back everyone else's.
      connections: LOAD_CONNECTIONS,
      onRecord: (r: ResponseRecord) => {
        const status = r.status === 0 ? "error" : r.status;
        if (status === "error" || status >= 500) errors++;
        responses.push({ at: Math.max(0, (r.at - wall0) / 1000 / timeScale), status });
      },
    }),
  );
  await Promise.all(loads);
  await cloud.settled().catch((err: unknown) => {
    progress(`[${handler}] cloud simulator: ${err instanceof Error ? err.message : String(err)}`);
  });
  await cloud.stop();
  await workloadEvents.settled();
  for (const err of workloadEvents.errors) progress(`[${handler}] workload event failed: ${err}`);
  stopSampling.abort();
  await sampling;
  progress(`[${handler}] done: ${responses.length} requests, ${errors} errors`);
  events.end();
  // lifeboat's evacuations may still be retiring their last surge when the traffic ends: the workloads'
  // counts are read once they are finished (or after a minute of scenario time).
  const phases =
    handler === "lifeboat" ? await settledEvacuationPhases(lab.custom, 60_000 * timeScale) : undefined;
  const workloads = [];
  for (const [name, want] of desired) {
    const d = await lab.apps.readNamespacedDeployment({ name, namespace: NAMESPACE });
    workloads.push({ name, desired: want, replicas: d.spec?.replicas ?? 0 });
  }
  return handlerReport({
    handler,
    version: running.version,
    durationSeconds: scenario.traffic.durationSeconds,
    responses,
    ready: observer.ready,
    evacuations: observer.evacuations,
    nodes: observer.lanes,
    workloads,
    placeholders: observer.placeholders,
    ...(phases === undefined ? {} : { evacuationPhases: phases }),
  });
}

/**
 * Before time zero: runs the cloud's autoscaler (no events) until the handler's headroom placeholder
 * Deployments exist and every placeholder runs, so the run starts from the steady state a real cluster has.
 * Gives up waiting (and says so) after the time a node takes to be asked for and join, twice over.
 */
async function settleHeadroom(
  lab: Awaited<ReturnType<typeof startLab>>,
  scenario: Scenario,
  timeScale: number,
  progress: (line: string) => void,
  asg: AsgHooks,
): Promise<void> {
  const settings = scenario.cloud;
  await using pre = new CloudSimulator({
    lab: cloudLabOf(lab),
    send: () => Promise.resolve(),
    hooks: { killNode: () => undefined, pendingPods: () => pendingPods(lab.core), asg },
    settings,
    nodeGroups: scenario.cluster.nodeGroups,
    events: [],
    timeScale,
  });
  pre.start();
  const started = performance.now();
  const planSeconds = 10;
  const limitSeconds = 2 * (settings.autoscaler.reactSeconds + settings.nodeJoinSeconds) + 60;
  progress(
    `[lifeboat] waiting for its headroom placeholders to run (at most ${Math.round(limitSeconds * timeScale)} s)`,
  );
  let placed = "no placeholder Deployment";
  try {
    await waitFor("headroom placeholders running", limitSeconds * timeScale * 1000, async () => {
      const list = await lab.apps.listNamespacedDeployment({
        namespace: HEADROOM_NAMESPACE,
        labelSelector: PLACEHOLDER_LABEL,
      });
      if (list.items.length === 0)
        return performance.now() - started > planSeconds * Math.max(timeScale, 0.5) * 1000;
      const want = list.items.reduce((n, d) => n + (d.spec?.replicas ?? 0), 0);
      const ready = list.items.reduce((n, d) => n + (d.status?.readyReplicas ?? 0), 0);
      placed = `${ready}/${want} placeholders Ready in ${list.items.length} Deployment(s)`;
      return ready >= want && pre.launching === 0;
    });
    progress(`[lifeboat] headroom in place: ${placed}`);
  } catch {
    progress(`[lifeboat] headroom not in place before time zero: ${placed}`);
  }
}

/** moto with the shipped CloudFormation stack deployed; moto is stopped again if the deploy fails. */
async function startAwsSide(): Promise<{ moto: Moto; queueUrl: string }> {
  const moto = await startMoto({ region: REGION });
  try {
    const { queueUrl } = await deployInterruptionStack(moto, { clusterName: "lab" });
    return { moto, queueUrl };
  } catch (err) {
    await moto.stop();
    throw err;
  }
}
