/**
 * The controller's parts, built from its dependencies and nothing started: API clients with their rate
 * limits, the cluster cache, leader election, the Evacuation store, the writers (actuator, ASG lifecycle,
 * Events), reconciler, notice intake and capacity keepers. What a dry run swaps and what the lease fence
 * guards is decided here, once; the Controller (controller.ts) only starts and stops the parts.
 */
import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
} from "@kubernetes/client-node";
import { withDryRun, withDryRunEvents, withDryRunLifecycle } from "../actuators/dry-run.ts";
import {
  LifecycleActuator,
  LifecycleHookTimeouts,
  type LifecycleActuatorLike,
} from "../actuators/aws/lifecycle.ts";
import type { KubeActuator } from "../actuators/kube-actuator.ts";
import { ApiKubeActuator } from "../actuators/kube/api-actuator.ts";
import { limitedKubeConfig } from "../cluster/api-client.ts";
import { ClusterCache } from "../cluster/cluster-cache.ts";
import { budgetsFrom } from "../config/plan-settings.ts";
import type { Config } from "../config/schema.ts";
import { EXCLUDE_FROM_LB_LABEL } from "../domain/plan.ts";
import type { HeadroomKeeper } from "../executor/headroom-keeper.ts";
import type { EventSink } from "../actuators/ports.ts";
import { Reconciler } from "../executor/reconciler.ts";
import type { SteeringKeeper } from "../executor/steering-keeper.ts";
import { fencedActuator, fencedLifecycle, fencedStore, NO_FENCE, type LeaseFence } from "../leader/fence.ts";
import { LeaderElector } from "../leader/leader-elector.ts";
import { LoopWatch } from "../observability/loop-watch.ts";
import { carriesCordon } from "../planner/policy.ts";
import { DryRunEvacuationStore } from "../state/dry-run-store.ts";
import { EvacuationStore } from "../state/evacuation-store.ts";
import { earlyNodeActuator, headroomKeeper, steeringKeeper } from "./capacity.ts";
import { awsClientConfig, usesAws, type ControllerDeps } from "./deps.ts";
import { makeEventSink } from "./event-sink.ts";
import { NoticeIntake, type FirstCordon } from "./intake.ts";
import { makeObserver } from "./observer.ts";
import { ReconcileLoop } from "./reconcile-loop.ts";
import { Serial } from "./serial.ts";

/** The rate-limited, counted client configurations: one bucket each, so that no kind of request queues behind another. */
export interface ClientConfigs {
  /** Informers, the Evacuation store and the evacuation's writes. */
  kube: KubeConfig;
  /** Leader election alone: a renewal never queues behind a burst of evacuation writes. */
  lease: KubeConfig;
  /** Events, at a quarter of the rate. */
  events: KubeConfig;
  /** Headroom and steering. */
  capacity: KubeConfig;
}

/** Where the controller's writes go: swapped for in-memory or logging stand-ins in a dry run, fenced otherwise. */
export interface Writers {
  store: EvacuationStore | DryRunEvacuationStore;
  actuator: KubeActuator;
  /** ASG lifecycle actions; null when no AWS access is configured. */
  lifecycle: LifecycleActuatorLike | null;
  events: EventSink & { flush(): Promise<void> };
}

export interface Wiring {
  clients: ClientConfigs;
  cache: ClusterCache;
  /** The Evacuations as stored (read side; the informer the store keeps runs on it). */
  store: EvacuationStore;
  /** Null without leader election, and in a dry run (which writes no Lease and acts as its own leader). */
  elector: LeaderElector | null;
  writers: Writers;
  intake: NoticeIntake;
  /** What /healthz watches: the reconcile loop's own progress. */
  loopWatch: LoopWatch;
  loop: ReconcileLoop;
  headroom: HeadroomKeeper;
  steering: SteeringKeeper;
}

export function wire(deps: ControllerDeps): Wiring {
  const { config, clock, log } = deps;
  const clients = clientConfigs(deps);
  const cache = new ClusterCache({
    kubeConfig: clients.kube,
    clock,
    log: log.child({ component: "cluster-cache" }),
  });
  if (config.dryRun && config.leaderElect)
    log.warn({}, "dry run: leader election is off (a dry run writes no Lease and acts as its own leader)");
  const elector = leaderElector(deps, clients.lease);
  // Fencing: every write on the leader's behalf first checks that the lease is held with margin.
  const fence: LeaseFence = elector ?? NO_FENCE;
  const store = new EvacuationStore(clients.kube.makeApiClient(CustomObjectsApi), clock);
  const writers = makeWriters(deps, clients, fence, cache, store);
  const capacityDeps = { ...deps, kubeConfig: clients.capacity };
  const headroom = headroomKeeper(capacityDeps, fence, (now) => cache.snapshot(now));
  const steering = steeringKeeper(
    capacityDeps,
    fence,
    () => cache.snapshot(clock.now()).nodes,
    async () => (await writers.store.list()).map((s) => s.evacuation),
  );
  // Intake and reconciler take turns (see serial.ts).
  const serial = new Serial();
  // The intake is built below; a reconcile asks it only while running.
  let intake: NoticeIntake | null = null;
  const reconciler = makeReconciler(deps, cache, writers, fence, () => intake?.waiting() ?? false);
  const loopWatch = new LoopWatch(clock);
  const loop = new ReconcileLoop({
    clock,
    intervalSeconds: config.reconcileIntervalSeconds,
    reconcile: () => serial.run(() => reconciler.reconcileOnce()),
    watch: loopWatch,
    log,
    metrics: deps.metrics,
  });
  intake = makeIntake(deps, cache, writers, serial, () => {
    loop.noticeRecorded();
    steering.wake();
  });
  return { clients, cache, store, elector, writers, intake, loopWatch, loop, headroom, steering };
}

/**
 * Every request waits for the client-side rate limit and is counted (lifeboat_kube_requests_total). Leader
 * election, Events and capacity get buckets of their own.
 */
export function clientConfigs(deps: ControllerDeps): ClientConfigs {
  const { config, clock, metrics } = deps;
  const limits = {
    qps: config.kubeApiQps,
    burst: config.kubeApiBurst,
    clock,
    onRequest: (kind: { verb: string; resource: string }) => {
      metrics.kubeRequest(kind);
    },
  };
  return {
    kube: limitedKubeConfig(deps.kubeConfig, limits),
    lease: limitedKubeConfig(deps.kubeConfig, limits),
    // An AZ-wide reclaim emits thousands of Events, and none of them may delay a cordon or a surge. They get
    // a quarter of the rate (an API server that is behind serves the evacuation's writes first), and beyond
    // 1,000 waiting a new one is dropped and counted (lifeboat_events_dropped_total), as client-go drops.
    events: limitedKubeConfig(deps.kubeConfig, {
      ...limits,
      qps: Math.max(1, config.kubeApiQps / 4),
      burst: Math.max(1, Math.floor(config.kubeApiBurst / 4)),
    }),
    // Steering taints a whole pool when it is under reclaim: hundreds of writes that must not queue in front
    // of the evacuations' surges.
    capacity: limitedKubeConfig(deps.kubeConfig, limits),
  };
}

function leaderElector(deps: ControllerDeps, lease: KubeConfig): LeaderElector | null {
  const { config, clock, log } = deps;
  if (!config.leaderElect || config.dryRun) return null;
  return new LeaderElector(
    lease.makeApiClient(CoordinationV1Api),
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
  );
}

/**
 * Dry run (--dry-run): plan and report, change nothing: DryRun Events, Evacuations and surge ledgers in
 * memory, no ASG lifecycle calls (and, in sqs-source.ts, no SQS deletes). Otherwise every writer is fenced.
 */
export function makeWriters(
  deps: ControllerDeps,
  clients: ClientConfigs,
  fence: LeaseFence,
  cache: ClusterCache,
  store: EvacuationStore,
): Writers {
  const { config, clock, log } = deps;
  const events = makeEventSink(clients.events.makeApiClient(CoreV1Api), clock, log, config.identity, () => {
    deps.metrics.eventDropped();
  });
  let actuator: KubeActuator = new ApiKubeActuator({
    core: clients.kube.makeApiClient(CoreV1Api),
    apps: clients.kube.makeApiClient(AppsV1Api),
    // A surge or retire starts from the informer's copy (one PATCH, not a GET and a PATCH).
    cachedWorkload: (ref) => cache.workloadObject(ref),
  });
  if (config.dryRun) actuator = withDryRun(actuator, log.child({ component: "dry-run" }));
  actuator = fencedActuator(actuator, fence);
  const lifecycle = !usesAws(config)
    ? null
    : config.dryRun
      ? withDryRunLifecycle(log.child({ component: "dry-run" }))
      : fencedLifecycle(new LifecycleActuator(new AutoScalingClient(awsClientConfig(config))), fence);
  return {
    store: config.dryRun ? new DryRunEvacuationStore(store) : fencedStore(store, fence),
    actuator,
    lifecycle,
    events: config.dryRun ? withDryRunEvents(events) : events,
  };
}

function makeReconciler(
  deps: ControllerDeps,
  cache: ClusterCache,
  writers: Writers,
  fence: LeaseFence,
  noticeWaiting: () => boolean,
): Reconciler {
  const { config, clock, log } = deps;
  return new Reconciler({
    cluster: cache,
    store: writers.store,
    actuator: writers.actuator,
    lifecycle: writers.lifecycle,
    events: writers.events,
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
    noticeWaiting,
    earlyNode: earlyNodeActuator(config, fence, log),
  });
}

function makeIntake(
  deps: ControllerDeps,
  cache: ClusterCache,
  writers: Writers,
  serial: Serial,
  onRecorded: () => void,
): NoticeIntake {
  const { config, clock, log } = deps;
  return new NoticeIntake({
    cluster: cache,
    store: writers.store,
    policy: {
      rebalancePolicy: config.rebalancePolicy,
      rebalancePolicyByNodeGroup: Object.fromEntries(config.rebalancePolicyByNodeGroup),
    },
    clock,
    log: log.child({ component: "intake" }),
    metrics: deps.metrics,
    events: writers.events,
    onRecorded,
    serial,
    firstCordon: firstCordon(config, writers.actuator),
    hookTimeouts: usesAws(config)
      ? new LifecycleHookTimeouts(new AutoScalingClient(awsClientConfig(config)))
      : null,
  });
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
