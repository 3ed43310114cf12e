/**
 * Composes the controller: cluster cache (informers), Evacuation store, notice intake, reconciler, signal
 * sources (SQS; the node annotation, written by a person or handed over from IMDS by `lifeboat agent`), leader
 * election, metrics, health and Events. Only the leader consumes notices and acts; a standby keeps its caches warm and takes over from the Evacuations in the
 * cluster.
 */
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import { SQSClient } from "@aws-sdk/client-sqs";
import {
  CoordinationV1Api,
  CoreV1Api,
  AppsV1Api,
  CustomObjectsApi,
  type KubeConfig,
} from "@kubernetes/client-node";
import { withDryRun, withDryRunEvents, withDryRunLifecycle } from "../actuators/dry-run.ts";
import { DryRunEvacuationStore } from "../state/dry-run-store.ts";
import { ApiKubeActuator } from "../actuators/kube/api-actuator.ts";
import { LifecycleActuator, LifecycleHookTimeouts } from "../actuators/aws/lifecycle.ts";
import type { KubeActuator } from "../actuators/kube-actuator.ts";
import { limitedKubeConfig } from "../cluster/api-client.ts";
import { ClusterCache } from "../cluster/cluster-cache.ts";
import type { Config } from "../config/schema.ts";
import type { Clock } from "../domain/clock.ts";
import { isActive } from "../domain/evacuation.ts";
import type { Notice } from "../domain/notice.ts";
import { Reconciler } from "../executor/reconciler.ts";
import type { HeadroomKeeper } from "../executor/headroom-keeper.ts";
import type { SteeringKeeper } from "../executor/steering-keeper.ts";
import { earlyNodeActuator, headroomKeeper, steeringKeeper } from "./capacity.ts";
import type { EventSink } from "../actuators/ports.ts";
import { LeaderElector } from "../leader/leader-elector.ts";
import { fencedActuator, fencedLifecycle, fencedStore, NO_FENCE, type LeaseFence } from "../leader/fence.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";
import {
  assessHealth,
  startObservabilityServer,
  type Leadership,
  type ObservabilityServer,
} from "../observability/server.ts";
import { LoopWatch } from "../observability/loop-watch.ts";
import { budgetsFrom } from "../config/plan-settings.ts";
import { NoticeDeduper } from "../signals/dedupe.ts";
import { isForeignInstanceError } from "../signals/errors.ts";
import { annotationNotice, EVACUATE_ANNOTATION } from "../signals/manual/manual.ts";
import { SqsConsumer } from "../signals/sqs/consumer.ts";
import { EvacuationStore } from "../state/evacuation-store.ts";
import { NoticeIntake, type FirstCordon } from "./intake.ts";
import { carriesCordon } from "../planner/policy.ts";
import { EXCLUDE_FROM_LB_LABEL } from "../domain/plan.ts";
import { Serial } from "./serial.ts";
import { makeEventSink } from "./event-sink.ts";
import { makeObserver } from "./observer.ts";

export interface ControllerDeps {
  config: Config;
  kubeConfig: KubeConfig;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
}

/** Quiet time after the latest notice before planning (batches notices that arrive together). */
const NOTICE_SETTLE_MS = 150;
/** Longest wait after the first notice of a batch before planning anyway. */
const NOTICE_SETTLE_MAX_MS = 1_000;

export class Controller implements AsyncDisposable {
  readonly #d: ControllerDeps;
  readonly #stop = new AbortController();
  readonly #cache: ClusterCache;
  readonly #store: EvacuationStore;
  /** The rate-limited, counted client configuration every API client of this controller uses. */
  readonly #kubeConfig: KubeConfig;
  readonly #events: EventSink & { flush(): Promise<void> };
  readonly #intake: NoticeIntake;
  readonly #reconciler: Reconciler;
  readonly #headroom: HeadroomKeeper;
  readonly #steering: SteeringKeeper;
  readonly #elector: LeaderElector | null;
  readonly #servers: ObservabilityServer[] = [];
  #synced = false;
  /** What /healthz watches: the reconcile loop's own progress. */
  readonly #loopWatch: LoopWatch;
  #leadership: Leadership;
  #activeEvacuations = 0;
  #dirty = false;
  /** Intake and reconciler take turns (see serial.ts). */
  readonly #serial = new Serial();
  /** When the latest / the first not yet planned notice was recorded: notices that come together are planned together. */
  #lastNoticeAt: number | null = null;
  #firstUnplannedNoticeAt: number | null = null;
  #waker: AbortController | null = null;
  #tasks: Promise<unknown>[] = [];
  /** Annotation values already turned into notices, per node (so each is handled once per process). */
  readonly #seenAnnotations = new Map<string, string>();

  constructor(deps: ControllerDeps) {
    this.#d = deps;
    const { config, clock, log } = deps;
    // Every request waits for the client-side rate limit and is counted (lifeboat_kube_requests_total).
    // Leader election and Events get buckets of their own: a renewal never queues behind a burst of
    // evacuation writes, and the evacuation's writes never queue behind its Events.
    const limits = {
      qps: config.kubeApiQps,
      burst: config.kubeApiBurst,
      clock,
      onRequest: (kind: { verb: string; resource: string }) => {
        deps.metrics.kubeRequest(kind);
      },
    };
    const kubeConfig = limitedKubeConfig(deps.kubeConfig, limits);
    const leaseKubeConfig = limitedKubeConfig(deps.kubeConfig, limits);
    // Events too: an AZ-wide reclaim emits thousands, and none of them may delay a cordon or a surge. They get
    // a quarter of the rate (an API server that is behind serves the evacuation's writes first), and beyond
    // 1,000 waiting a new one is dropped and counted (lifeboat_events_dropped_total), as client-go drops.
    const eventsKubeConfig = limitedKubeConfig(deps.kubeConfig, {
      ...limits,
      qps: Math.max(1, config.kubeApiQps / 4),
      burst: Math.max(1, Math.floor(config.kubeApiBurst / 4)),
    });
    // Headroom and steering too (steering taints a whole pool when it is under reclaim: hundreds of writes
    // that must not queue in front of the evacuations' surges), counted like every other request.
    const capacityDeps = { ...deps, kubeConfig: limitedKubeConfig(deps.kubeConfig, limits) };
    this.#kubeConfig = kubeConfig;
    this.#loopWatch = new LoopWatch(clock);
    this.#cache = new ClusterCache({ kubeConfig, clock, log: log.child({ component: "cluster-cache" }) });
    if (config.dryRun && config.leaderElect)
      log.warn({}, "dry run: leader election is off (a dry run writes no Lease and acts as its own leader)");
    this.#elector =
      config.leaderElect && !config.dryRun
        ? new LeaderElector(
            leaseKubeConfig.makeApiClient(CoordinationV1Api),
            {
              namespace: config.leaderElectionNamespace,
              leaseName: config.leaseName,
              identity: config.identity,
              leaseDurationSeconds: config.leaseDurationSeconds,
              renewDeadlineSeconds: config.renewDeadlineSeconds,
              retryPeriodSeconds: config.retryPeriodSeconds,
            },
            clock,
            log.child({ component: "leader-election" }),
          )
        : null;
    // Fencing: every write on the leader's behalf first checks that the lease is held with margin.
    const fence: LeaseFence = this.#elector ?? NO_FENCE;
    this.#store = new EvacuationStore(kubeConfig.makeApiClient(CustomObjectsApi), clock);
    const store = config.dryRun ? new DryRunEvacuationStore(this.#store) : fencedStore(this.#store, fence);
    const events = makeEventSink(
      eventsKubeConfig.makeApiClient(CoreV1Api),
      clock,
      log,
      config.identity,
      () => {
        deps.metrics.eventDropped();
      },
    );
    // Dry run (--dry-run): plan and report, change nothing: DryRun Events, Evacuations and surge ledgers in
    // memory, no ASG lifecycle calls, no SQS deletes, no Lease.
    this.#events = config.dryRun ? withDryRunEvents(events) : events;
    const cache = this.#cache;
    let actuator: KubeActuator = new ApiKubeActuator({
      core: kubeConfig.makeApiClient(CoreV1Api),
      apps: kubeConfig.makeApiClient(AppsV1Api),
      // A surge or retire starts from the informer's copy (one PATCH, not a GET and a PATCH).
      cachedWorkload: (ref) => cache.workloadObject(ref),
    });
    if (config.dryRun) actuator = withDryRun(actuator, log.child({ component: "dry-run" }));
    actuator = fencedActuator(actuator, fence);
    const lifecycle =
      config.queueUrl === undefined && config.awsEndpoint === undefined
        ? null
        : config.dryRun
          ? withDryRunLifecycle(log.child({ component: "dry-run" }))
          : fencedLifecycle(new LifecycleActuator(new AutoScalingClient(awsClientConfig(config))), fence);
    this.#reconciler = new Reconciler({
      cluster: this.#cache,
      store,
      actuator,
      lifecycle,
      events: this.#events,
      observer: makeObserver(deps.metrics),
      log: log.child({ component: "executor" }),
      clock,
      budgets: budgetsFrom(config),
      asgHeartbeatSeconds: config.asgHeartbeatSeconds,
      prewarmTimeoutSeconds: config.prewarmTimeoutSeconds,
      giveUpAfterSeconds: config.giveUpAfterSeconds,
      evacuationTtlSeconds: config.evacuationTtlSeconds,
      taintKey: config.evacuationTaintKey,
      excludeFromLb: config.excludeFromLoadBalancers,
      // The intake is built below; a reconcile asks it only while running.
      noticeWaiting: () => this.#intake.waiting(),
      earlyNode: earlyNodeActuator(config, fence, log),
    });
    this.#headroom = headroomKeeper(capacityDeps, fence, (now) => this.#cache.snapshot(now));
    this.#steering = steeringKeeper(
      capacityDeps,
      fence,
      () => this.#cache.snapshot(clock.now()).nodes,
      async () => (await store.list()).map((s) => s.evacuation),
    );
    this.#intake = new NoticeIntake({
      cluster: this.#cache,
      store,
      policy: {
        rebalancePolicy: config.rebalancePolicy,
        rebalancePolicyByNodeGroup: Object.fromEntries(config.rebalancePolicyByNodeGroup),
      },
      clock,
      log: log.child({ component: "intake" }),
      metrics: deps.metrics,
      events: this.#events,
      onRecorded: () => {
        this.#activeEvacuations++;
        this.#lastNoticeAt = this.#d.clock.now();
        this.#firstUnplannedNoticeAt ??= this.#lastNoticeAt;
        this.wake();
        this.#steering.wake();
      },
      serial: this.#serial,
      firstCordon: firstCordon(config, actuator),
      hookTimeouts:
        config.queueUrl === undefined && config.awsEndpoint === undefined
          ? null
          : new LifecycleHookTimeouts(new AutoScalingClient(awsClientConfig(config))),
    });
    // Without leader election this replica is the one that acts: lifeboat_leader 1 from the start.
    deps.metrics.setLeader(this.#elector === null);
    this.#leadership =
      this.#elector === null
        ? { kind: "disabled" }
        : { kind: "standby", healthy: true, reason: "not elected yet" };
  }

  /** The notice handler the signal sources call: resolves once the evacuation is durably recorded. */
  handleNotice = (notice: Notice): Promise<void> => this.#intake.handle(notice);

  /** Starts caches, endpoints and (once elected) the work. Resolves when running; `done` when stopped. */
  async start(): Promise<void> {
    const { config, log, metrics } = this.#d;
    const health = (): ReturnType<typeof assessHealth> =>
      assessHealth({
        now: this.#d.clock.now(),
        loop: this.#loopWatch.state,
        maxStallMs: livenessStallMs(config),
        informersSynced: this.#synced,
        leadership: this.#leadership,
      });
    const sameAddress =
      config.metricsAddr.host === config.healthAddr.host &&
      config.metricsAddr.port === config.healthAddr.port;
    const metricsServer = await startObservabilityServer({
      host: config.metricsAddr.host,
      port: config.metricsAddr.port,
      metrics,
      ...(sameAddress ? { health } : {}),
      logger: log,
    });
    this.#servers.push(metricsServer);
    log.info(
      { address: metricsServer.url },
      sameAddress ? "serving /metrics, /healthz and /readyz" : "serving /metrics",
    );
    if (!sameAddress) {
      const healthServer = await startObservabilityServer({
        host: config.healthAddr.host,
        port: config.healthAddr.port,
        health,
        logger: log,
      });
      this.#servers.push(healthServer);
      log.info({ address: healthServer.url }, "serving /healthz and /readyz");
    }
    this.#cache.onChange((change) => {
      if (change.resource === "nodes" && change.type !== "delete") this.#checkAnnotation(change.name);
      if (this.#activeEvacuations > 0) this.wake();
    });
    // The Evacuations too are read from an informer (a missing CRD leaves it retrying; list() then asks the
    // API server, which names the CRD in its error).
    await this.#store.watch(
      this.#kubeConfig,
      log.child({ component: "evacuation-store" }),
      this.#stop.signal,
    );
    await this.#cache.start();
    await this.#cache.synced;
    this.#synced = true;
    log.info({}, "informers synced");
    const signal = this.#stop.signal;
    if (this.#elector === null) {
      this.#tasks.push(this.#lead(signal));
    } else {
      const elector = this.#elector;
      this.#tasks.push(
        elector.run(
          {
            onStartedLeading: (leading) => {
              this.#leadership = { kind: "leader" };
              metrics.setLeader(true);
              this.#tasks.push(this.#lead(AbortSignal.any([leading, signal])));
            },
            onStoppedLeading: () => {
              this.#leadership = { kind: "standby", healthy: true, reason: "lost the lease" };
              metrics.setLeader(false);
            },
            onNewLeader: (holder) => {
              this.#leadership = { kind: "standby", healthy: true, reason: `${holder} leads` };
            },
          },
          signal,
        ),
      );
    }
  }

  /** Asks for a reconcile as soon as possible (a notice arrived or the cluster changed). */
  wake(): void {
    this.#dirty = true;
    this.#waker?.abort();
  }

  get cache(): ClusterCache {
    return this.#cache;
  }

  /** Where /metrics (first) and, when separate, /healthz and /readyz are served. */
  get urls(): string[] {
    return this.#servers.map((s) => s.url);
  }

  /** The leader's work: reconcile loop plus every enabled signal source, until `signal` aborts. */
  async #lead(signal: AbortSignal): Promise<void> {
    const { config, log, clock, metrics } = this.#d;
    log.info({ identity: config.identity }, "leading: resuming unfinished evacuations and consuming notices");
    const deduper = new NoticeDeduper(clock);
    const handler = deduper.wrap(this.handleNotice, (n) => {
      metrics.noticeReceived({ kind: n.kind, source: n.source, outcome: "duplicate" });
      log.info({ notice: n.id, kind: n.kind }, `duplicate notice dropped (seen recently): ${n.summary}`);
    });
    const work: Promise<unknown>[] = [
      this.#reconcileLoop(signal),
      this.#headroom.run(signal),
      this.#steering.run(signal),
    ];
    if (config.watchNodeAnnotation) {
      this.#seenAnnotations.clear();
      for (const node of this.#cache.snapshot(clock.now()).nodes) this.#checkAnnotation(node.name);
    }
    if (config.queueUrl !== undefined) {
      const consumer = new SqsConsumer(
        new SQSClient(awsClientConfig(config)),
        config.queueUrl,
        {
          waitTimeSeconds: config.sqsWaitSeconds,
          maxMessages: config.sqsMaxMessages,
          concurrency: config.sqsConcurrency,
          visibilityTimeoutSeconds: config.sqsVisibilityTimeoutSeconds,
          // Receive again once every notice received is past its first act (its node cordoned): notices
          // waiting for their turn to be recorded stay in flight (their visibility extended) meanwhile.
          ready: () => this.#intake.accepting(),
          deleteMessages: !config.dryRun,
          malformed: config.malformedMessagePolicy,
          unknown: config.unknownMessagePolicy,
          foreign: config.foreignInstancePolicy,
          hooks: {
            onOutcome: (_kind, outcome, detail) => {
              metrics.sqsMessageHandled(detail.action === "delete-failed" ? "failed" : detail.action);
              if (outcome === "malformed" || outcome === "unknown") {
                metrics.noticeReceived({ kind: "unknown", source: "sqs", outcome });
              }
            },
          },
        },
        clock,
        log.child({ component: "sqs" }),
      );
      work.push(consumer.run(handler, signal));
      log.info({ queueUrl: config.queueUrl }, "consuming interruption notices from SQS");
    }
    await Promise.allSettled(work);
    log.info({}, "stopped leading");
  }

  #checkAnnotation(nodeName: string): void {
    if (!this.#d.config.watchNodeAnnotation || this.#leadership.kind === "standby") return;
    const value = this.#cache.nodeAnnotations(nodeName)?.[EVACUATE_ANNOTATION];
    if (value === undefined) {
      // Removed (served, or by a person): the same value written again is read again.
      this.#seenAnnotations.delete(nodeName);
      return;
    }
    if (this.#seenAnnotations.get(nodeName) === value) return;
    this.#seenAnnotations.set(nodeName, value);
    const { log, clock } = this.#d;
    let notice: Notice;
    try {
      notice = annotationNotice({ nodeName, value, now: clock.now() });
    } catch (err) {
      log.warn(
        { node: nodeName, value, err: err instanceof Error ? err.message : String(err) },
        `ignoring annotation ${EVACUATE_ANNOTATION}`,
      );
      return;
    }
    this.#intake.handle(notice).catch((err: unknown) => {
      this.#seenAnnotations.delete(nodeName);
      log.error(
        { node: nodeName, err: err instanceof Error ? err.message : String(err) },
        "could not record the evacuation asked for by the annotation",
      );
    });
  }

  async #reconcileLoop(signal: AbortSignal): Promise<void> {
    const { clock, config, log, metrics } = this.#d;
    const interval = config.reconcileIntervalSeconds * 1000;
    while (!signal.aborted) {
      this.#loopWatch.begin();
      await this.#settleNotices(signal);
      this.#dirty = false;
      const now = clock.now();
      let next = now + interval;
      try {
        const result = await this.#serial.run(() => this.#reconciler.reconcileOnce());
        if (result.nextReviewAt !== null) next = Math.min(next, result.nextReviewAt);
        this.#activeEvacuations = result.evacuations.filter(isActive).length;
        const phases: Record<string, number> = {};
        for (const e of result.evacuations) phases[e.phase] = (phases[e.phase] ?? 0) + 1;
        metrics.setEvacuationPhases(phases);
      } catch (err) {
        log.error({ err: err instanceof Error ? err.message : String(err) }, "reconcile failed; retrying");
        next = now + Math.max(interval, 1_000);
      }
      if (this.#dirty) {
        // Let a burst of changes settle briefly, then plan again.
        this.#loopWatch.end(clock.now() + 100);
        await clock.sleep(100, signal).catch(() => undefined);
        continue;
      }
      this.#loopWatch.end(next);
      this.#waker = new AbortController();
      await clock
        .sleep(Math.max(0, next - clock.now()), AbortSignal.any([signal, this.#waker.signal]))
        .catch(() => undefined);
      this.#waker = null;
    }
    this.#loopWatch.stop("stopped leading");
  }

  /**
   * Notices that arrive together (an AZ-wide reclaim: many messages in one SQS receive) are planned together,
   * so every affected node is cordoned before any surge and each workload is surged once: wait until no
   * new notice came for NOTICE_SETTLE_MS, at most NOTICE_SETTLE_MAX_MS after the first.
   */
  async #settleNotices(signal: AbortSignal): Promise<void> {
    const { clock } = this.#d;
    while (this.#lastNoticeAt !== null && this.#firstUnplannedNoticeAt !== null && !signal.aborted) {
      const quietAt = this.#lastNoticeAt + NOTICE_SETTLE_MS;
      const capAt = this.#firstUnplannedNoticeAt + NOTICE_SETTLE_MAX_MS;
      const until = Math.min(quietAt, capAt);
      if (clock.now() >= until) break;
      await clock.sleep(until - clock.now(), signal).catch(() => undefined);
    }
    this.#firstUnplannedNoticeAt = null;
  }

  async stop(): Promise<void> {
    this.#stop.abort(new Error("controller stopping"));
    await Promise.allSettled(this.#tasks);
    await this.#events.flush();
    await this.#cache.stop();
    for (const server of this.#servers) await server[Symbol.asyncDispose]();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * How long a reconcile may run (or be overdue) before /healthz fails: ten reconcile intervals, at least
 * 60 s, so that a slow API server (retries, a 20 s outage) is not mistaken for a hung loop.
 */
export function livenessStallMs(config: Pick<Config, "reconcileIntervalSeconds">): number {
  return Math.max(60_000, config.reconcileIntervalSeconds * 10_000);
}

/** The intake's cordon at receipt, with the taint and label the reconcile's cordon puts on. */
function firstCordon(config: Config, actuator: KubeActuator): FirstCordon {
  const policy = { taintKey: config.evacuationTaintKey, excludeFromLb: config.excludeFromLoadBalancers };
  return {
    isCordoned: (node) => carriesCordon(node, policy),
    cordon: (node) => actuator.cordon(node, policy),
    describe: `cordon, taint ${policy.taintKey}:NoSchedule${policy.excludeFromLb ? `, label ${EXCLUDE_FROM_LB_LABEL}=true` : ""}`,
  };
}

/** AWS SDK client settings from the config: region, and an endpoint override (moto in the lab). */
export function awsClientConfig(config: Config): { region: string; endpoint?: string } {
  return {
    region: config.awsRegion,
    ...(config.awsEndpoint === undefined ? {} : { endpoint: config.awsEndpoint }),
  };
}

export { isForeignInstanceError };
