/**
 * kube-proxy for the lab's instance-mode target groups: a connection to a node's InternalIP on a Service's
 * NodePort goes to one of the Service's ready endpoints, on any node (externalTrafficPolicy Cluster), like
 * kube-proxy does; terminating endpoints are used only when no endpoint is ready (ProxyTerminatingEndpoints).
 * A dead node's NodePort answers nothing (null: the ALB simulator's dead-host policy applies). The tables are
 * refreshed from the API every `refreshMs` (real kube-proxy syncs within about a second too).
 */
import {
  DiscoveryV1Api,
  type CoreV1Api,
  type KubeConfig,
  type V1EndpointSlice,
} from "@kubernetes/client-node";
import type { LoopbackAddress } from "../runtime/pod-runtime.ts";

export interface KubeProxyOptions {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  /** Pod IP and port -> its loopback listener (the pod runtime). */
  resolvePod: (ip: string, port: number) => LoopbackAddress | null;
  isNodeDead: (node: string) => boolean;
  refreshMs?: number;
}

interface NodePortRule {
  /** Ready endpoints (pod IP) first; terminating-but-serving ones only when none is ready. */
  ready: string[];
  serving: string[];
  targetPort: number;
}

export class LabKubeProxy implements AsyncDisposable {
  readonly #o: KubeProxyOptions;
  readonly #discovery: DiscoveryV1Api;
  #nodesByIp = new Map<string, string>();
  #rules = new Map<number, NodePortRule>();
  #next = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: KubeProxyOptions) {
    this.#o = options;
    this.#discovery = options.kubeConfig.makeApiClient(DiscoveryV1Api);
  }

  async start(): Promise<void> {
    await this.refresh();
    // A refresh still running at dispose must not arm the next one (the process would never exit).
    const tick = (): void => {
      if (this.#stopped) return;
      this.#timer = setTimeout(() => {
        this.refresh().then(tick, tick);
      }, this.#o.refreshMs ?? 200);
    };
    tick();
  }

  /** Reads nodes, NodePort Services and their EndpointSlices into the forwarding tables. */
  async refresh(): Promise<void> {
    const [nodes, services, slices] = await Promise.all([
      this.#o.core.listNode(),
      this.#o.core.listServiceForAllNamespaces(),
      this.#discovery.listEndpointSliceForAllNamespaces(),
    ]);
    const byIp = new Map<string, string>();
    for (const n of nodes.items) {
      const ip = n.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
      if (ip !== undefined && n.metadata?.name !== undefined) byIp.set(ip, n.metadata.name);
    }
    const rules = new Map<number, NodePortRule>();
    for (const svc of services.items) {
      for (const port of svc.spec?.ports ?? []) {
        if (port.nodePort === undefined) continue;
        const mine = slices.items.filter(
          (s: V1EndpointSlice) =>
            s.metadata?.namespace === svc.metadata?.namespace &&
            s.metadata?.labels?.["kubernetes.io/service-name"] === svc.metadata?.name,
        );
        const targetPort =
          mine.flatMap((s) => s.ports ?? []).find((p) => p.name === port.name)?.port ??
          Number(port.targetPort ?? port.port);
        const endpoints = mine.flatMap((s) => s.endpoints ?? []);
        rules.set(port.nodePort, {
          ready: endpoints.filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses),
          serving: endpoints.filter((e) => e.conditions?.serving === true).flatMap((e) => e.addresses),
          targetPort,
        });
      }
    }
    this.#nodesByIp = byIp;
    this.#rules = rules;
  }

  /** A resolver for the ALB simulator: pod IPs as the runtime maps them, node IP + NodePort through the rules. */
  resolve = (ip: string, port: number): LoopbackAddress | null => {
    const pod = this.#o.resolvePod(ip, port);
    if (pod !== null) return pod;
    const node = this.#nodesByIp.get(ip);
    if (node === undefined || this.#o.isNodeDead(node)) return null;
    const rule = this.#rules.get(port);
    if (rule === undefined) return null;
    const pool = rule.ready.length > 0 ? rule.ready : rule.serving;
    if (pool.length === 0) return null;
    const endpoint = pool[this.#next++ % pool.length] ?? "";
    return this.#o.resolvePod(endpoint, rule.targetPort);
  };

  [Symbol.asyncDispose](): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    return Promise.resolve();
  }
}
