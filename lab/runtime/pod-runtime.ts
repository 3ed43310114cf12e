import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import {
  CoreV1Api,
  ListWatch,
  Watch,
  type KubeConfig,
  type V1Node,
  type V1Pod,
} from "@kubernetes/client-node";
import { systemClock, type Clock } from "../../common/clock.ts";
import { LAB_NODE_LABEL } from "../cluster/eks-node.ts";
import { AddressMap, type DeadHostMode, type Resolution } from "./address-map.ts";
import { CidrAllocator } from "./cidr.ts";
import { silentLogger, type RuntimeEvent, type RuntimeEventKind, type RuntimeLogger } from "./events.ts";
import { PodWorker, type WorkerSettings } from "./pod-worker.ts";

/** Nodes carrying this label (value "true") are the lab's: the runtime plays their kubelet for pods on them. */
export { LAB_NODE_LABEL } from "../cluster/eks-node.ts";

/**
 * A connection to an unknown-to-the-host port is refused by connecting here: nothing can listen on this
 * loopback address at the port the runtime holds on 127.0.0.1, so the kernel answers with RST (ECONNREFUSED).
 */
export const REFUSED_HOST = "127.0.66.1";

export interface PodRuntimeOptions {
  kubeConfig: KubeConfig;
  /** Multiplies every timing (pull, start, probes, preStop, grace, request latency, keep-alive). Default 1. */
  timeScale?: number;
  /** Image pull seconds when a pod has no `lab.lifeboat.dev/pull-seconds` annotation. Default 10 (the seed's). */
  defaultPullSeconds?: number;
  /** Seconds from container start to listening without `lab.lifeboat.dev/start-seconds`. Default 0. */
  defaultStartSeconds?: number;
  /** Request latency in ms without `lab.lifeboat.dev/request-ms`. Default 0. */
  defaultRequestMs?: number;
  /** Idle keep-alive timeout of every app, in seconds. Default 75 (longer than the ALB's 60 s idle timeout, as AWS advises). */
  appKeepAliveSeconds?: number;
  /** Label selector of the lab's nodes. Default `lifeboat.dev/lab-node=true`. */
  nodeSelector?: string;
  clock?: Clock;
  log?: RuntimeLogger;
}

/** Where to connect for a pod IP and port: an address on 127.0.0.0/8. */
export interface LoopbackAddress {
  host: string;
  port: number;
}

interface LabNode {
  uid: string;
  hostIP: string;
  podCIDR: string | undefined;
}

type Listener<K extends RuntimeEventKind> = (event: Extract<RuntimeEvent, { kind: K }>) => void;

/**
 * The kubelet of every lab node. Watches the lab's nodes and the pods bound to them, runs each pod as a
 * PodWorker (real HTTP on loopback), and maps pod IPs to loopback listeners for whoever sends traffic
 * (`resolve`). Nothing ever connects to a pod IP.
 *
 * ```ts
 * await using runtime = new PodRuntime({ kubeConfig, timeScale: 0.25 });
 * runtime.on("pod-ready", (e) => timeline.push(e));
 * await runtime.start();
 * const target = runtime.resolve("10.244.1.5", 8080); // { host: "127.0.0.1", port: 41234 } | null
 * runtime.killNode("lab-a-1", "refuse");
 * ```
 */
export class PodRuntime implements AsyncDisposable {
  readonly #core: CoreV1Api;
  readonly #kubeConfig: KubeConfig;
  readonly #clock: Clock;
  readonly #log: RuntimeLogger;
  readonly #settings: WorkerSettings;
  readonly #nodeSelector: string;
  readonly #addresses = new AddressMap();
  readonly #nodes = new Map<string, LabNode>();
  readonly #allocators = new Map<string, CidrAllocator>();
  readonly #deadNodes = new Map<string, { uid: string | undefined; mode: DeadHostMode }>();
  readonly #workers = new Map<string, PodWorker>();
  /** Pods bound to a lab node the runtime has not seen yet (or without a pod CIDR yet), by UID. */
  readonly #waiting = new Map<string, V1Pod>();
  readonly #listeners = new Map<RuntimeEventKind | "*", Set<(event: RuntimeEvent) => void>>();
  #nodeInformer: ListWatch<V1Node> | undefined;
  #podInformer: ListWatch<V1Pod> | undefined;
  #refuser: Server | undefined;
  #blackhole: Server | undefined;
  readonly #blackholeSockets = new Set<Socket>();
  #disposed = false;

  constructor(options: PodRuntimeOptions) {
    this.#kubeConfig = options.kubeConfig;
    this.#core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLogger;
    this.#nodeSelector = options.nodeSelector ?? `${LAB_NODE_LABEL}=true`;
    this.#settings = {
      timeScale: options.timeScale ?? 1,
      defaultPullSeconds: options.defaultPullSeconds ?? 10,
      defaultStartSeconds: options.defaultStartSeconds ?? 0,
      defaultRequestMs: options.defaultRequestMs ?? 0,
      appKeepAliveSeconds: options.appKeepAliveSeconds ?? 75,
    };
  }

  /** Opens the refuse and blackhole listeners, then lists and watches nodes, then pods. */
  async start(): Promise<void> {
    this.#refuser = createServer((socket) => {
      socket.resetAndDestroy();
    });
    this.#blackhole = createServer((socket) => {
      this.#blackholeSockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => this.#blackholeSockets.delete(socket));
    });
    this.#refuser.listen(0, "127.0.0.1");
    this.#blackhole.listen(0, "127.0.0.1");
    await Promise.all([once(this.#refuser, "listening"), once(this.#blackhole, "listening")]);

    const nodeInformer = new ListWatch<V1Node>(
      "/api/v1/nodes",
      new Watch(this.#kubeConfig),
      () => this.#core.listNode({ labelSelector: this.#nodeSelector }),
      false,
      this.#nodeSelector,
    );
    nodeInformer.on("add", (node) => {
      this.#onNode(node);
    });
    nodeInformer.on("update", (node) => {
      this.#onNode(node);
    });
    nodeInformer.on("delete", (node) => {
      this.#onNodeDeleted(node);
    });
    this.#restartOnError(nodeInformer, "nodes");
    this.#nodeInformer = nodeInformer;
    await nodeInformer.start();

    const scheduled = "spec.nodeName!=";
    const podInformer = new ListWatch<V1Pod>(
      "/api/v1/pods",
      new Watch(this.#kubeConfig),
      () => this.#core.listPodForAllNamespaces({ fieldSelector: scheduled }),
      false,
      undefined,
      scheduled,
    );
    podInformer.on("add", (pod) => {
      this.#onPod(pod);
    });
    podInformer.on("update", (pod) => {
      this.#onPod(pod);
    });
    podInformer.on("delete", (pod) => {
      this.#onPodDeleted(pod);
    });
    this.#restartOnError(podInformer, "pods");
    this.#podInformer = podInformer;
    await podInformer.start();
    this.#log.info({ nodes: this.#nodes.size, pods: this.#workers.size }, "pod runtime started");
  }

  /** Subscribes to one kind of event, or to all with "*". Returns the unsubscribe function. */
  on<K extends RuntimeEventKind>(kind: K, listener: Listener<K>): () => void;
  on(kind: "*", listener: (event: RuntimeEvent) => void): () => void;
  on(kind: RuntimeEventKind | "*", listener: (event: never) => void): () => void {
    const set = this.#listeners.get(kind) ?? new Set();
    const generic = listener as (event: RuntimeEvent) => void;
    set.add(generic);
    this.#listeners.set(kind, set);
    return () => set.delete(generic);
  }

  /**
   * Where a connection to `ip:port` goes: the pod's loopback listener, a refusing address (pod not listening,
   * port not declared, node dead in `refuse` mode) or the blackhole (node dead in `blackhole` mode).
   * Null for an IP the runtime never handed out.
   */
  resolve(ip: string, port: number): LoopbackAddress | null {
    const resolution = this.#addresses.resolve(ip, port);
    return resolution === null ? null : this.#toLoopback(resolution);
  }

  /** Like `resolve`, with what answers there and why (for the ALB simulator's logs and tests). */
  explain(ip: string, port: number): (Resolution & { address: LoopbackAddress }) | null {
    const resolution = this.#addresses.resolve(ip, port);
    return resolution === null ? null : { ...resolution, address: this.#toLoopback(resolution) };
  }

  /**
   * The node dies. `refuse`: every listener of its pods is closed and every open connection reset; new
   * connections are refused. `blackhole`: new connections are accepted and never answered (a host that is gone;
   * clients time out). Call `refuse` first and `blackhole` later to model a kernel going down. The node's pods
   * are no longer managed: their status freezes and deleting them leaves them Terminating, like a dead kubelet.
   */
  killNode(nodeName: string, mode: DeadHostMode): void {
    this.#deadNodes.set(nodeName, { uid: this.#nodes.get(nodeName)?.uid, mode });
    this.#addresses.killNode(nodeName, mode);
    let pods = 0;
    for (const worker of this.#workers.values()) {
      if (worker.ref.node !== nodeName) continue;
      worker.kill();
      pods++;
    }
    for (const [uid, pod] of this.#waiting) {
      if (pod.spec?.nodeName === nodeName) this.#waiting.delete(uid);
    }
    this.#emit({
      kind: "node-killed",
      at: this.#clock.now(),
      node: nodeName,
      mode,
      pods,
      reason: `killNode(${mode})`,
    });
    this.#log.info({ node: nodeName, mode, pods }, "node killed");
  }

  /** Whether `killNode` was called for the node (and it has not come back as a new Node object). */
  isNodeDead(nodeName: string): boolean {
    return this.#deadNodes.has(nodeName);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await Promise.all([this.#podInformer?.stop(), this.#nodeInformer?.stop()]);
    for (const worker of this.#workers.values()) worker.dispose();
    this.#workers.clear();
    for (const socket of this.#blackholeSockets) socket.destroy();
    await Promise.all([closeServer(this.#refuser), closeServer(this.#blackhole)]);
  }

  #toLoopback(resolution: Resolution): LoopbackAddress {
    switch (resolution.kind) {
      case "listener":
        return { host: "127.0.0.1", port: resolution.port };
      case "refused":
        return { host: REFUSED_HOST, port: serverPort(this.#refuser) };
      case "blackhole":
        return { host: "127.0.0.1", port: serverPort(this.#blackhole) };
    }
  }

  #emit(event: RuntimeEvent): void {
    for (const key of [event.kind, "*"] as const) {
      for (const listener of this.#listeners.get(key) ?? []) {
        try {
          listener(event);
        } catch (err) {
          this.#log.warn({ kind: event.kind, err: String(err) }, "runtime event listener threw");
        }
      }
    }
  }

  #restartOnError(informer: ListWatch<V1Node> | ListWatch<V1Pod>, what: string): void {
    informer.on("error", (err: unknown) => {
      if (this.#disposed) return;
      this.#log.warn({ what, err: String(err) }, "watch failed; restarting in 1 s");
      setTimeout(() => {
        if (!this.#disposed) informer.start().catch(() => undefined);
      }, 1000);
    });
  }

  #onNode(node: V1Node): void {
    const name = node.metadata?.name;
    if (name === undefined) return;
    const uid = node.metadata?.uid ?? "";
    const dead = this.#deadNodes.get(name);
    if (dead !== undefined && dead.uid !== undefined && dead.uid !== uid) {
      this.#deadNodes.delete(name);
      this.#log.info({ node: name }, "a new node object reuses a dead node's name: managing it");
    }
    const hostIP = node.status?.addresses?.find((a) => a.type === "InternalIP")?.address ?? "";
    const podCIDR = node.spec?.podCIDR;
    this.#nodes.set(name, { uid, hostIP, podCIDR });
    if (podCIDR !== undefined && this.#allocators.get(name)?.cidr !== podCIDR) {
      try {
        this.#allocators.set(name, new CidrAllocator(podCIDR));
      } catch (err) {
        this.#log.warn({ node: name, podCIDR, err: String(err) }, "node pod CIDR unusable");
      }
    }
    for (const [uid, pod] of this.#waiting) {
      if (pod.spec?.nodeName !== name) continue;
      this.#waiting.delete(uid);
      this.#onPod(pod);
    }
  }

  #onNodeDeleted(node: V1Node): void {
    const name = node.metadata?.name;
    if (name === undefined) return;
    this.#nodes.delete(name);
  }

  #onPod(pod: V1Pod): void {
    if (this.#disposed) return;
    const uid = pod.metadata?.uid;
    const nodeName = pod.spec?.nodeName;
    if (uid === undefined || nodeName === undefined || nodeName === "") return;
    const worker = this.#workers.get(uid);
    if (worker !== undefined) {
      worker.update(pod);
      return;
    }
    if (this.#deadNodes.has(nodeName)) return;
    const phase = pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") return;
    const node = this.#nodes.get(nodeName);
    const allocator = this.#allocators.get(nodeName);
    if (node === undefined || allocator === undefined) {
      // Not a lab node (another kubelet's pod), or a lab node the watch has not delivered yet.
      this.#waiting.set(uid, pod);
      return;
    }
    const podIP = this.#allocateIP(allocator, pod);
    if (podIP === null) return;
    const created = new PodWorker(
      {
        core: this.#core,
        clock: this.#clock,
        settings: this.#settings,
        addresses: this.#addresses,
        log: this.#log,
        emit: (event) => {
          this.#emit(event);
        },
        releaseIP: (ip) => {
          this.#allocators.get(nodeName)?.release(ip);
        },
      },
      pod,
      { name: nodeName, hostIP: node.hostIP },
      podIP,
    );
    this.#workers.set(uid, created);
    this.#addresses.assign(podIP, {
      node: nodeName,
      pod: `${created.ref.namespace}/${created.ref.name}`,
      ports: created.ports,
    });
    this.#log.debug(
      { pod: `${created.ref.namespace}/${created.ref.name}`, node: nodeName, podIP },
      "pod picked up",
    );
    created.start();
  }

  #allocateIP(allocator: CidrAllocator, pod: V1Pod): string | null {
    const existing = pod.status?.podIP;
    if (existing !== undefined && allocator.reserve(existing)) return existing;
    try {
      return allocator.allocate();
    } catch (err) {
      this.#log.warn(
        { pod: pod.metadata?.name, cidr: allocator.cidr, err: String(err) },
        "no pod IP left; the pod stays Pending",
      );
      return null;
    }
  }

  #onPodDeleted(pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (uid === undefined) return;
    this.#waiting.delete(uid);
    const worker = this.#workers.get(uid);
    if (worker === undefined) return;
    this.#workers.delete(uid);
    worker.gone();
  }
}

function serverPort(server: Server | undefined): number {
  const address = server?.address();
  if (address === null || address === undefined || typeof address === "string")
    throw new Error("PodRuntime.start() has not run");
  return address.port;
}

function closeServer(server: Server | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (server === undefined || !server.listening) {
      resolve();
      return;
    }
    server.close(() => {
      resolve();
    });
  });
}
