/**
 * The KubeActuator that talks to the API server: each method delegates to the function of the same name in
 * ./node.ts, ./pod.ts or ./scale.ts with the client it needs.
 */
import {
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1Deployment,
  type V1ReplicaSet,
} from "@kubernetes/client-node";
import type { PodRef, WorkloadRef } from "../../domain/snapshot.ts";
import type {
  CordonOptions,
  DeleteOutcome,
  EvictOutcome,
  KubeActuator,
  NodeOutcome,
  PatchOutcome,
  LedgerOutcome,
} from "../kube-actuator.ts";
import type { LedgerChange } from "../../domain/surge-ledger.ts";
import { cordon, removeAnnotation, taintOutOfService, taintPreferNoSchedule, uncordon } from "./node.ts";
import { deletePod, evict, forceDelete, setDeletionCost } from "./pod.ts";
import { changeSurgeLedger } from "./scale.ts";

export class ApiKubeActuator implements KubeActuator {
  readonly #core: CoreV1Api;
  readonly #apps: AppsV1Api;
  readonly #cachedWorkload: ((ref: WorkloadRef) => V1Deployment | V1ReplicaSet | undefined) | undefined;

  /**
   * `cachedWorkload`: the workload as an informer holds it, so that a surge or retire starts from it rather
   * than a GET (./scale.ts changeSurgeLedger says why that is safe).
   */
  constructor(clients: {
    core: CoreV1Api;
    apps: AppsV1Api;
    cachedWorkload?: (ref: WorkloadRef) => V1Deployment | V1ReplicaSet | undefined;
  }) {
    this.#core = clients.core;
    this.#apps = clients.apps;
    this.#cachedWorkload = clients.cachedWorkload;
  }

  static fromKubeConfig(kubeConfig: KubeConfig): ApiKubeActuator {
    return new ApiKubeActuator({
      core: kubeConfig.makeApiClient(CoreV1Api),
      apps: kubeConfig.makeApiClient(AppsV1Api),
    });
  }

  cordon(node: string, options: CordonOptions): Promise<NodeOutcome> {
    return cordon(this.#core, node, options);
  }

  taintPreferNoSchedule(node: string, taintKey: string): Promise<NodeOutcome> {
    return taintPreferNoSchedule(this.#core, node, taintKey);
  }

  taintOutOfService(node: string): Promise<NodeOutcome> {
    return taintOutOfService(this.#core, node);
  }

  uncordon(node: string, taintKey: string): Promise<NodeOutcome> {
    return uncordon(this.#core, node, taintKey);
  }

  removeNodeAnnotation(node: string, key: string, value: string): Promise<NodeOutcome> {
    return removeAnnotation(this.#core, node, key, value);
  }

  setDeletionCost(pod: PodRef, cost: number): Promise<PatchOutcome> {
    return setDeletionCost(this.#core, pod, cost);
  }

  changeSurgeLedger(workload: WorkloadRef, change: LedgerChange): Promise<LedgerOutcome> {
    const cached = this.#cachedWorkload;
    return changeSurgeLedger(
      this.#apps,
      workload,
      change,
      cached === undefined ? undefined : () => cached(workload),
    );
  }

  evict(pod: PodRef): Promise<EvictOutcome> {
    return evict(this.#core, pod);
  }

  forceDelete(pod: PodRef): Promise<DeleteOutcome> {
    return forceDelete(this.#core, pod);
  }

  deletePod(pod: PodRef): Promise<DeleteOutcome> {
    return deletePod(this.#core, pod);
  }
}
