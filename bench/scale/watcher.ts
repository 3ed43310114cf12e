/**
 * What the scale bench watches, from its own watches on nodes, pods and Deployments: when each node was first
 * seen cordoned, when each Deployment was first seen surged, when each pod started to leave, and the lowest
 * sum of the Deployments' Ready replicas.
 */
import { Watch, type V1Deployment, type V1Node, type V1Pod } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { NS } from "../../lab/harness/env.ts";
import type { Lab } from "../../lab/lab.ts";

/** First times (performance.now()) a node was seen unschedulable and a Deployment seen surged. */
export class Watcher {
  readonly cordonedAt = new Map<string, number>();
  readonly surgedAt = new Map<string, number>();
  /** Pod uid -> when it started to leave (deletionTimestamp seen, or deleted), epoch ms. */
  readonly leftAt = new Map<string, number>();
  readonly #initialReplicas = new Map<string, number>();
  readonly #aborts: AbortController[] = [];
  /** Deployment name -> status.readyReplicas as last seen, and their sum. */
  readonly #ready = new Map<string, number>();
  #readyTotal = 0;
  #armed = false;
  /** The lowest sum of the Deployments' Ready replicas seen since `arm`. */
  minReady = Infinity;

  constructor(initialReplicas: ReadonlyMap<string, number>) {
    for (const [k, v] of initialReplicas) this.#initialReplicas.set(k, v);
  }

  async start(lab: Lab): Promise<void> {
    const watch = new Watch(lab.kubeConfig);
    const open = async (path: string, onObject: (obj: unknown, type: string) => void): Promise<void> => {
      const reopen = async (): Promise<void> => {
        const abort = await watch.watch(
          path,
          {},
          (type, obj) => {
            onObject(obj, type);
          },
          () => {
            if (!stopped) void sleep(200).then(reopen);
          },
        );
        this.#aborts.push(abort);
      };
      await reopen();
    };
    let stopped = false;
    this.#stop = () => {
      stopped = true;
    };
    await open("/api/v1/nodes", (obj) => {
      const n = obj as V1Node;
      const name = n.metadata?.name ?? "";
      if (n.spec?.unschedulable === true && !this.cordonedAt.has(name))
        this.cordonedAt.set(name, performance.now());
    });
    await open(`/api/v1/namespaces/${NS}/pods`, (obj, type) => {
      const p = obj as V1Pod;
      const uid = p.metadata?.uid ?? "";
      if ((type === "DELETED" || p.metadata?.deletionTimestamp != null) && !this.leftAt.has(uid))
        this.leftAt.set(uid, Date.now());
    });
    await open(`/apis/apps/v1/namespaces/${NS}/deployments`, (obj) => {
      const d = obj as V1Deployment;
      const name = d.metadata?.name ?? "";
      const initial = this.#initialReplicas.get(name);
      if (initial !== undefined && (d.spec?.replicas ?? 0) > initial && !this.surgedAt.has(name))
        this.surgedAt.set(name, performance.now());
      const ready = d.status?.readyReplicas ?? 0;
      this.#readyTotal += ready - (this.#ready.get(name) ?? 0);
      this.#ready.set(name, ready);
      if (this.#armed) this.minReady = Math.min(this.minReady, this.#readyTotal);
    });
  }

  /** Starts tracking the lowest Ready sum once the watch has reported `total` Ready (its initial list is in). */
  async arm(total: number): Promise<void> {
    const start = performance.now();
    while (this.#readyTotal < total) {
      if (performance.now() - start > 60_000)
        throw new Error(`the Deployments watch reports ${this.#readyTotal} of ${total} pods Ready`);
      await sleep(100);
    }
    this.#armed = true;
    this.minReady = this.#readyTotal;
  }

  #stop: () => void = () => undefined;

  stop(): void {
    this.#stop();
    for (const a of this.#aborts) a.abort();
  }
}
