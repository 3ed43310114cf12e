/**
 * An emulation of the AWS Load Balancer Controller's TargetGroupBinding reconciler: it watches
 * EndpointSlices, Pods, Services and Nodes through a client KubeConfig, computes the desired targets
 * with the pure rules of registration.ts, registers and deregisters them in the simulated target group,
 * and sets the readiness-gate condition on pods once their target is healthy.
 *
 * Timings (timings.md, "AWS Load Balancer Controller"), every one in simulated seconds times `timeScale`:
 * - reconcileDelaySeconds, default 1: from a watch event to the registration change (LBC #2366: about 1 s
 *   from pod Terminating to target "draining"). Events inside the window are coalesced.
 * - requeueSeconds, default 15: while a target is not healthy, or an endpoint may become registrable,
 *   reconcile again (this is also how the readiness gate learns of health).
 * A watch event arms the earlier of its reconcile and a pending requeue (reconcile-trigger.ts): like the
 * real controller-runtime queue, a pending 15 s requeue never delays the reaction to a change.
 */
import {
  CoreV1Api,
  DiscoveryV1Api,
  PatchStrategy,
  makeInformer,
  setHeaderOptions,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ObjectCache,
  type V1EndpointSlice,
  type V1Node,
  type V1Pod,
  type V1Service,
} from "@kubernetes/client-node";
import {
  desiredInstanceTargets,
  desiredIpTargets,
  diffTargets,
  gateConditionPatch,
  readinessGateConditionType,
  readinessGateUpdates,
  type BindingSpec,
  type DesiredResult,
  type GateUpdate,
  type TargetDecision,
} from "./registration.ts";
import type { TargetGroup, TargetRef } from "./target-group.ts";
import { ReconcileTrigger } from "./reconcile-trigger.ts";
import { realScheduler, type Scheduler } from "./scheduler.ts";

export interface LbcParams {
  /** Seconds from a watch event to the resulting registration change. Default 1 (LBC #2366). */
  reconcileDelaySeconds: number;
  /** Seconds between reconciles while targets are not healthy. Default 15 (LBC targets_manager). */
  requeueSeconds: number;
  /** Use pods on Unknown nodes (ip) or Unknown nodes (instance) when nothing is ready. Default true. */
  failOpen: boolean;
  /** Multiplier on every duration. Default 1. */
  timeScale: number;
}

export const defaultLbcParams: LbcParams = {
  reconcileDelaySeconds: 1,
  requeueSeconds: 15,
  failOpen: true,
  timeScale: 1,
};

export interface LbcBinding {
  spec: BindingSpec;
  targetGroup: TargetGroup;
}

/** One reconcile, for logs and timelines. `at` is epoch ms. */
export type ReconcileEvent =
  | {
      kind: "reconciled";
      at: number;
      binding: string;
      registered: TargetRef[];
      deregistered: TargetRef[];
      decisions: TargetDecision[];
      failOpen: boolean;
      requeue: boolean;
    }
  | { kind: "skipped"; at: number; binding: string; reason: string; requeue: boolean }
  | { kind: "gate"; at: number; binding: string; update: GateUpdate }
  | { kind: "error"; at: number; binding: string; reason: string };

export interface LbcOptions extends Partial<LbcParams> {
  kubeConfig: KubeConfig;
  bindings: LbcBinding[];
  scheduler?: Scheduler;
  onEvent?: (event: ReconcileEvent) => void;
}

interface BindingRuntime {
  binding: LbcBinding;
  trigger: ReconcileTrigger;
}

type Cached<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

export class LoadBalancerController {
  readonly params: LbcParams;
  readonly #core: CoreV1Api;
  readonly #scheduler: Scheduler;
  readonly #onEvent: (event: ReconcileEvent) => void;
  readonly #bindings: BindingRuntime[];
  readonly #nodes: Cached<V1Node>;
  readonly #pods = new Map<string, Cached<V1Pod>>();
  readonly #services = new Map<string, Cached<V1Service>>();
  readonly #slices = new Map<string, Cached<V1EndpointSlice>>();
  readonly #informers: Informer<KubernetesObject>[] = [];
  #stopped = false;

  constructor(options: LbcOptions) {
    this.params = {
      reconcileDelaySeconds: options.reconcileDelaySeconds ?? defaultLbcParams.reconcileDelaySeconds,
      requeueSeconds: options.requeueSeconds ?? defaultLbcParams.requeueSeconds,
      failOpen: options.failOpen ?? defaultLbcParams.failOpen,
      timeScale: options.timeScale ?? defaultLbcParams.timeScale,
    };
    this.#scheduler = options.scheduler ?? realScheduler;
    this.#onEvent = options.onEvent ?? (() => undefined);
    this.#bindings = options.bindings.map((binding) => {
      const runtime: BindingRuntime = {
        binding,
        trigger: new ReconcileTrigger(this.#scheduler, () => this.#run(runtime)),
      };
      return runtime;
    });
    const kc = options.kubeConfig;
    this.#core = kc.makeApiClient(CoreV1Api);
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    const core = this.#core;
    this.#nodes = this.#watch(
      makeInformer(kc, "/api/v1/nodes", () => core.listNode()),
      undefined,
    );
    for (const namespace of new Set(options.bindings.map((b) => b.spec.namespace))) {
      this.#pods.set(
        namespace,
        this.#watch(
          makeInformer(kc, `/api/v1/namespaces/${namespace}/pods`, () =>
            core.listNamespacedPod({ namespace }),
          ),
          namespace,
        ),
      );
      this.#services.set(
        namespace,
        this.#watch(
          makeInformer(kc, `/api/v1/namespaces/${namespace}/services`, () =>
            core.listNamespacedService({ namespace }),
          ),
          namespace,
        ),
      );
      this.#slices.set(
        namespace,
        this.#watch(
          makeInformer(kc, `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`, () =>
            discovery.listNamespacedEndpointSlice({ namespace }),
          ),
          namespace,
        ),
      );
    }
  }

  /** Starts every watch and reconciles each binding once. */
  async start(): Promise<void> {
    await Promise.all(this.#informers.map((i) => i.start()));
    for (const runtime of this.#bindings) this.#schedule(runtime, 0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const runtime of this.#bindings) runtime.trigger.stop();
    await Promise.all(this.#informers.map((i) => i.stop()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** The desired targets of one binding from the current caches (for tests and reports). */
  desired(spec: BindingSpec): DesiredResult {
    const ns = spec.namespace;
    const service = this.#services.get(ns)?.get(spec.serviceName, ns);
    if (spec.targetType === "instance") {
      return desiredInstanceTargets({
        binding: spec,
        service,
        nodes: this.#nodes.list(),
        failOpen: this.params.failOpen,
      });
    }
    const pods = new Map<string, V1Pod>();
    for (const pod of this.#pods.get(ns)?.list(ns) ?? []) pods.set(`${ns}/${pod.metadata?.name ?? ""}`, pod);
    const nodes = new Map<string, V1Node>();
    for (const node of this.#nodes.list()) nodes.set(node.metadata?.name ?? "", node);
    return desiredIpTargets({
      binding: spec,
      service,
      endpointSlices: this.#slices.get(ns)?.list(ns) ?? [],
      pods,
      nodes,
      failOpen: this.params.failOpen,
    });
  }

  #watch<T extends KubernetesObject>(informer: Cached<T>, namespace: string | undefined): Cached<T> {
    const onChange = (): void => {
      for (const runtime of this.#bindings) {
        if (namespace === undefined || runtime.binding.spec.namespace === namespace) {
          this.#schedule(runtime, this.params.reconcileDelaySeconds);
        }
      }
    };
    informer.on("add", onChange);
    informer.on("update", onChange);
    informer.on("delete", onChange);
    informer.on("error", () => {
      if (this.#stopped) return;
      this.#scheduler.setTimer(1000, () => {
        if (!this.#stopped) void informer.start();
      });
    });
    this.#informers.push(informer);
    return informer;
  }

  /**
   * Asks for a reconcile `seconds` from now. The earlier of this and an already armed reconcile wins, so
   * a watch event is handled after the reconcile delay even while a 15 s requeue is pending (as on
   * controller-runtime's queue); events inside an armed window coalesce.
   */
  #schedule(runtime: BindingRuntime, seconds: number): void {
    if (this.#stopped) return;
    runtime.trigger.request(seconds * 1000 * this.params.timeScale);
  }

  async #run(runtime: BindingRuntime): Promise<void> {
    if (this.#stopped) return;
    let requeue = true;
    try {
      requeue = await this.#reconcile(runtime.binding);
    } catch (error) {
      this.#onEvent({
        kind: "error",
        at: this.#scheduler.now(),
        binding: runtime.binding.spec.name,
        reason: String(error),
      });
    }
    if (requeue) this.#schedule(runtime, this.params.requeueSeconds);
  }

  /** One reconcile; returns whether to requeue. */
  async #reconcile(binding: LbcBinding): Promise<boolean> {
    const { spec, targetGroup } = binding;
    const at = this.#scheduler.now();
    const result = this.desired(spec);
    if (result.kind === "error") {
      this.#onEvent({ kind: "error", at, binding: spec.name, reason: result.reason });
      return true;
    }
    const desired = result.desired;
    const diff = diffTargets(targetGroup.registeredTargets(), desired.targets);
    if (!diff.unchanged) {
      targetGroup.deregister(diff.toDeregister);
      targetGroup.register(diff.toRegister);
    }
    const notHealthy = targetGroup.registeredTargets().some((t) => targetGroup.stateOf(t) !== "healthy");
    const requeue = notHealthy || desired.potentiallyReady;
    if (diff.unchanged) {
      this.#onEvent({
        kind: "skipped",
        at,
        binding: spec.name,
        reason: "the desired target set is unchanged",
        requeue,
      });
    } else {
      this.#onEvent({
        kind: "reconciled",
        at,
        binding: spec.name,
        registered: diff.toRegister,
        deregistered: diff.toDeregister,
        decisions: desired.decisions,
        failOpen: desired.failOpen,
        requeue,
      });
    }
    if (spec.targetType === "ip") await this.#updateGates(spec, desired.podTargets, targetGroup);
    return requeue;
  }

  async #updateGates(
    spec: BindingSpec,
    podTargets: ReadonlyMap<string, string>,
    targetGroup: TargetGroup,
  ): Promise<void> {
    const conditionType = readinessGateConditionType(spec.name);
    const pods = this.#pods.get(spec.namespace)?.list(spec.namespace) ?? [];
    const updates = readinessGateUpdates(pods, conditionType, podTargets, (key) => {
      const [ip = "", port = "0"] = key.split(":");
      return targetGroup.stateOf({ ip, port: Number(port) });
    });
    for (const update of updates) {
      await this.#core.patchNamespacedPodStatus(
        { name: update.name, namespace: update.namespace, body: gateConditionPatch(update, new Date()) },
        setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
      );
      this.#onEvent({ kind: "gate", at: this.#scheduler.now(), binding: spec.name, update });
    }
  }
}
