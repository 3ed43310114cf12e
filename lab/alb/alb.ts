/**
 * The whole ALB simulator in one call: one target group per binding (one per Service), the listener
 * routing to them, and the load-balancer-controller emulation keeping them in sync with the cluster.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { httpHealthProbe } from "./health-probe.ts";
import { LoadBalancerController, type LbcParams, type ReconcileEvent } from "./lbc.ts";
import { startAlbProxy, type AlbProxy, type ProxyErrorEvent, type ProxyParams } from "./proxy.ts";
import type { BindingSpec } from "./registration.ts";
import type { DeadHostPolicy, Resolver } from "./resolve.ts";
import { realScheduler } from "./scheduler.ts";
import { TargetGroup, type HealthCheckParams, type TargetGroupEvent } from "./target-group.ts";

export interface AlbBinding extends BindingSpec {
  /** Listener rule: Host header to match. */
  host?: string;
  /** Listener rule: path prefix to match. */
  pathPrefix?: string;
  /** Health check overrides for this target group (path, interval, thresholds...). */
  healthCheck?: Partial<HealthCheckParams>;
  deregistrationDelaySeconds?: number;
}

export interface AlbOptions
  extends Partial<Omit<LbcParams, "timeScale">>, Partial<Omit<ProxyParams, "timeScale">> {
  kubeConfig: KubeConfig;
  resolve: Resolver;
  bindings: AlbBinding[];
  /** Multiplier on every duration of the simulator. Default 1. */
  timeScale?: number;
  /** Default 18 s (see target-group.ts). */
  propagationSeconds?: number;
  /** Default "refuse" (GUESS). */
  deadHost?: DeadHostPolicy;
  onTargetEvent?: (event: TargetGroupEvent) => void;
  onReconcile?: (event: ReconcileEvent) => void;
  onProxyError?: (event: ProxyErrorEvent) => void;
}

export interface Alb extends AsyncDisposable {
  readonly url: string;
  readonly proxy: AlbProxy;
  readonly controller: LoadBalancerController;
  /** Target groups by binding name. */
  readonly targetGroups: ReadonlyMap<string, TargetGroup>;
  close(): Promise<void>;
}

export async function startAlb(options: AlbOptions): Promise<Alb> {
  const timeScale = options.timeScale ?? 1;
  const deadHost = options.deadHost ?? "refuse";
  const probe = httpHealthProbe({ resolve: options.resolve, deadHost });
  const targetGroups = new Map<string, TargetGroup>();
  for (const b of options.bindings) {
    targetGroups.set(
      b.name,
      new TargetGroup(
        b.name,
        {
          scheduler: realScheduler,
          probe,
          ...(options.onTargetEvent === undefined ? {} : { onEvent: options.onTargetEvent }),
        },
        {
          timeScale,
          ...(b.healthCheck === undefined ? {} : { healthCheck: b.healthCheck }),
          ...(b.deregistrationDelaySeconds === undefined
            ? {}
            : { deregistrationDelaySeconds: b.deregistrationDelaySeconds }),
          ...(options.propagationSeconds === undefined
            ? {}
            : { propagationSeconds: options.propagationSeconds }),
        },
      ),
    );
  }
  const groupOf = (name: string): TargetGroup => {
    const tg = targetGroups.get(name);
    if (tg === undefined) throw new Error(`no target group for binding ${name}`);
    return tg;
  };
  const proxy = await startAlbProxy({
    resolve: options.resolve,
    deadHost,
    timeScale,
    ...(options.connectTimeoutSeconds === undefined
      ? {}
      : { connectTimeoutSeconds: options.connectTimeoutSeconds }),
    ...(options.idleTimeoutSeconds === undefined ? {} : { idleTimeoutSeconds: options.idleTimeoutSeconds }),
    ...(options.onProxyError === undefined ? {} : { onError: options.onProxyError }),
    routes: options.bindings.map((b) => ({
      targetGroup: groupOf(b.name),
      ...(b.host === undefined ? {} : { host: b.host }),
      ...(b.pathPrefix === undefined ? {} : { pathPrefix: b.pathPrefix }),
    })),
  });
  const controller = new LoadBalancerController({
    kubeConfig: options.kubeConfig,
    bindings: options.bindings.map((b) => ({ spec: b, targetGroup: groupOf(b.name) })),
    timeScale,
    ...(options.reconcileDelaySeconds === undefined
      ? {}
      : { reconcileDelaySeconds: options.reconcileDelaySeconds }),
    ...(options.requeueSeconds === undefined ? {} : { requeueSeconds: options.requeueSeconds }),
    ...(options.failOpen === undefined ? {} : { failOpen: options.failOpen }),
    ...(options.onReconcile === undefined ? {} : { onEvent: options.onReconcile }),
  });
  await controller.start();
  const close = async (): Promise<void> => {
    await controller.stop();
    for (const tg of targetGroups.values()) tg.close();
    await proxy.close();
  };
  return { url: proxy.url, proxy, controller, targetGroups, close, [Symbol.asyncDispose]: close };
}
