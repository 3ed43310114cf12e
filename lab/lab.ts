import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  PolicyV1Api,
  setHeaderOptions,
  type V1CustomResourceDefinition,
  type V1Node,
} from "@kubernetes/client-node";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { setTimeout as sleep } from "node:timers/promises";
import { ControlPlane, HEARTBEAT_LABEL, type ControlPlaneOptions } from "./controlplane/control-plane.ts";
import { eksNode, instanceIdOf, type EksNodeSpec } from "./cluster/eks-node.ts";
import { PodRuntime, type PodRuntimeOptions } from "./runtime/pod-runtime.ts";
import type { LaunchedInstance, LaunchSpec } from "./cloud/ec2.ts";

export interface NodeGroupSpec {
  name: string;
  zone: string;
  /** Nodes to start with. */
  count: number;
  instanceType?: string;
  capacityType?: "SPOT" | "ON_DEMAND";
}

export interface LabOptions extends ControlPlaneOptions {
  nodeGroups: NodeGroupSpec[];
  /**
   * Pod runtime settings (the kubelet stand-in that runs pods as loopback HTTP servers). Its `timeScale`
   * defaults to the lab's; a runner that writes pod specs already scaled (so that what a controller reads in
   * the spec is what happens) sets it to 1.
   */
  runtime?: Omit<PodRuntimeOptions, "kubeConfig">;
  /**
   * Whether the pod runtime plays the kubelet for pods (default true). Off with `kwokPods` (KWOK's pod
   * stages make pods Ready instead): nothing serves HTTP, so a lab of thousands of pods fits one machine.
   */
  podRuntime?: boolean;
  /** Nodes created at once while the lab starts (each is created, then polled until Ready). Default 50. */
  nodeConcurrency?: number;
  /**
   * The cloud behind the nodes (the lab's EC2 in moto, `LabEc2` in lab/cloud/ec2.ts): every node is first an
   * instance launched there, and takes its id, address and name from it. Without it nodes get made-up ids.
   */
  instances?: InstanceProvider;
}

/** Launches and terminates the instances behind the lab's nodes. */
export interface InstanceProvider {
  launch(spec: LaunchSpec): Promise<LaunchedInstance>;
  terminate(instanceId: string): Promise<void>;
}

export interface LabNode {
  name: string;
  instanceId: string;
  nodeGroup: string;
  zone: string;
}

/** The CRD as shipped to users. */
const EVACUATION_CRD_FILE = join(
  import.meta.dirname,
  "..",
  "deploy",
  "crds",
  "lifeboat.dev_evacuations.yaml",
);

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/**
 * A running lab: a real control plane, simulated EKS spot nodes, and API clients for it. Dispose it
 * (`await using lab = await startLab(...)`) to stop every process and remove its temp dir.
 */
export class Lab implements AsyncDisposable {
  readonly controlPlane: ControlPlane;
  readonly kubeConfig: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly policy: PolicyV1Api;
  readonly coordination: CoordinationV1Api;
  readonly custom: CustomObjectsApi;
  readonly timeScale: number;
  /** Plays the kubelet for every lab node: pods get status, probes and real HTTP listeners on loopback. */
  readonly runtime: PodRuntime;
  /** Where the nodes' instances live; null when the lab runs without EC2. */
  readonly instances: InstanceProvider | null;
  readonly #nodes = new Map<string, LabNode>();
  readonly #disposers: (() => Promise<void>)[] = [];

  constructor(
    controlPlane: ControlPlane,
    timeScale: number,
    runtime?: LabOptions["runtime"],
    instances?: InstanceProvider,
  ) {
    this.controlPlane = controlPlane;
    this.timeScale = timeScale;
    this.instances = instances ?? null;
    this.kubeConfig = new KubeConfig();
    this.kubeConfig.loadFromFile(controlPlane.kubeconfigPath);
    this.runtime = new PodRuntime({ timeScale, ...runtime, kubeConfig: this.kubeConfig });
    this.core = this.kubeConfig.makeApiClient(CoreV1Api);
    this.apps = this.kubeConfig.makeApiClient(AppsV1Api);
    this.policy = this.kubeConfig.makeApiClient(PolicyV1Api);
    this.coordination = this.kubeConfig.makeApiClient(CoordinationV1Api);
    this.custom = this.kubeConfig.makeApiClient(CustomObjectsApi);
  }

  get kubeconfigPath(): string {
    return this.controlPlane.kubeconfigPath;
  }

  /** A kubeconfig whose user has no RBAC bindings: for "missing permissions" tests. */
  get limitedKubeconfigPath(): string {
    return `${this.controlPlane.dir}/kubeconfig-limited`;
  }

  get nodes(): LabNode[] {
    return [...this.#nodes.values()];
  }

  nodesOf(group: string): LabNode[] {
    return this.nodes.filter((n) => n.nodeGroup === group);
  }

  /** Runs `fn` when the lab is disposed (before the control plane stops), last registered first. */
  onDispose(fn: () => Promise<void>): void {
    this.#disposers.push(fn);
  }

  /**
   * Creates a node in a group (after `afterSeconds` of simulated boot time, scaled) and waits until Ready.
   * With an instance provider the instance is launched first and the node takes its id, address and name.
   */
  async addNode(spec: EksNodeSpec, afterSeconds = 0): Promise<LabNode> {
    if (afterSeconds > 0) await sleep(afterSeconds * this.timeScale * 1000);
    const body = eksNode(await this.#withInstance(spec));
    const created = await this.core.createNode({ body });
    // The API server drops status on create for some fields; write it through the status subresource.
    await this.core.patchNodeStatus({ name: nodeName(created), body: { status: body.status } }, mergePatch);
    const node: LabNode = {
      name: nodeName(created),
      instanceId: instanceIdOf(created) ?? "",
      nodeGroup: spec.nodeGroup,
      zone: spec.zone,
    };
    this.#nodes.set(node.name, node);
    // Ready, and the node lifecycle controller has lifted its not-ready taint (else the scheduler skips it).
    await this.waitForNode(
      node.name,
      (n) =>
        conditionStatus(n, "Ready") === "True" &&
        !(n.spec?.taints ?? []).some((t) => t.key.startsWith("node.kubernetes.io/")),
      30_000,
    );
    return node;
  }

  async #withInstance(spec: EksNodeSpec): Promise<EksNodeSpec> {
    if (this.instances === null || spec.instance !== undefined) return spec;
    const launch: LaunchSpec = { nodeGroup: spec.nodeGroup, zone: spec.zone };
    if (spec.instanceType !== undefined) launch.instanceType = spec.instanceType;
    if (spec.capacityType !== undefined) launch.capacityType = spec.capacityType;
    const instance = await this.instances.launch(launch);
    return {
      ...spec,
      instance: {
        instanceId: instance.instanceId,
        privateDnsName: instance.privateDnsName,
        privateIp: instance.privateIp,
      },
    };
  }

  /** Terminates the node's instance (a no-op without an instance provider). */
  async terminateInstance(name: string): Promise<void> {
    const node = this.#nodes.get(name);
    if (this.instances === null || node === undefined) return;
    await this.instances.terminate(node.instanceId);
  }

  /**
   * Stops a node's heartbeats, as when the instance is terminated: KWOK stops renewing its lease and the
   * node lifecycle controller marks it Unknown after the node-monitor grace period.
   */
  async stopHeartbeats(name: string): Promise<void> {
    await this.core.patchNode(
      { name, body: { metadata: { labels: { [HEARTBEAT_LABEL]: "off" } } } },
      mergePatch,
    );
  }

  /**
   * The instance dies: its pods' listeners die abruptly ("refuse": connections reset or refused while the
   * kernel is up; "blackhole": silence once it is gone) and its heartbeats stop.
   */
  async killNode(name: string, mode: "refuse" | "blackhole" = "refuse"): Promise<void> {
    this.runtime.killNode(name, mode);
    await this.stopHeartbeats(name);
  }

  /**
   * Installs the Evacuation CRD from deploy/crds (as a user would `kubectl apply` it) and waits until the
   * API server serves it.
   */
  async installEvacuationCrd(): Promise<void> {
    const api = this.kubeConfig.makeApiClient(ApiextensionsV1Api);
    const body = parseYaml(await readFile(EVACUATION_CRD_FILE, "utf8")) as V1CustomResourceDefinition;
    await api.createCustomResourceDefinition({ body });
    const name = body.metadata?.name ?? "";
    const start = performance.now();
    for (;;) {
      const crd = await api.readCustomResourceDefinition({ name });
      if (crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) return;
      if (performance.now() - start > 20_000) throw new Error(`CRD ${name} not Established within 20 s`);
      await sleep(100);
    }
  }

  async getNode(name: string): Promise<V1Node> {
    return this.core.readNode({ name });
  }

  /** Polls a node until `predicate` holds; fails with the node's conditions after `timeoutMs`. */
  async waitForNode(name: string, predicate: (n: V1Node) => boolean, timeoutMs: number): Promise<V1Node> {
    const start = performance.now();
    let last: V1Node | undefined;
    for (;;) {
      last = await this.core.readNode({ name }).catch(() => undefined);
      if (last !== undefined && predicate(last)) return last;
      if (performance.now() - start > timeoutMs) {
        throw new Error(
          `node ${name}: condition not reached in ${timeoutMs} ms: ${JSON.stringify(last?.status?.conditions)}`,
        );
      }
      this.controlPlane.assertRunning();
      await sleep(200);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const fn of this.#disposers.reverse()) {
      await fn().catch((err: unknown) => {
        console.error("lab dispose:", err);
      });
    }
    await this.runtime[Symbol.asyncDispose]().catch((err: unknown) => {
      console.error("lab dispose: pod runtime:", err);
    });
    await this.controlPlane.stop();
  }
}

/** Starts the control plane and the node groups' nodes; resolves when every node is Ready. */
export async function startLab(options: LabOptions): Promise<Lab> {
  const timeScale = options.timeScale ?? 1;
  const controlPlane = await ControlPlane.start(options);
  const lab = new Lab(controlPlane, timeScale, options.runtime, options.instances);
  try {
    await waitForDefaultNamespace(lab);
    if (options.podRuntime ?? true) await lab.runtime.start();
    let octet = 1;
    const specs: EksNodeSpec[] = [];
    for (const group of options.nodeGroups) {
      for (let i = 0; i < group.count; i++) {
        const spec: EksNodeSpec = { nodeGroup: group.name, zone: group.zone, subnetOctet: octet++ };
        if (group.instanceType !== undefined) spec.instanceType = group.instanceType;
        if (group.capacityType !== undefined) spec.capacityType = group.capacityType;
        specs.push(spec);
      }
    }
    // A bounded number at once: each add polls its node until Ready.
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < specs.length) {
        const spec = specs[next++];
        if (spec !== undefined) await lab.addNode(spec);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.nodeConcurrency ?? 50) }, worker));
    return lab;
  } catch (err) {
    await lab[Symbol.asyncDispose]();
    throw err;
  }
}

async function waitForDefaultNamespace(lab: Lab): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const ok = await lab.core.readNamespace({ name: "default" }).then(
      () => true,
      () => false,
    );
    if (ok) return;
    await sleep(100);
  }
  throw new Error("namespace default never appeared");
}

export function conditionStatus(node: V1Node, type: string): string | undefined {
  return node.status?.conditions?.find((c) => c.type === type)?.status;
}

function nodeName(node: V1Node): string {
  const name = node.metadata?.name;
  if (name === undefined) throw new Error("node without a name");
  return name;
}
