import type {
  CustomObjectsApi,
  KubeConfig,
  KubernetesListObject,
  KubernetesObject,
} from "@kubernetes/client-node";
import type { Clock } from "../domain/clock.ts";
import { Watched, type ListPage } from "../cluster/cluster-cache.ts";
import type { ClusterLogger } from "../cluster/logger.ts";
import { statusOf } from "../actuators/kube/errors.ts";
import {
  GROUP,
  PLURAL,
  VERSION,
  fromResource,
  toResource,
  type EvacuationResource,
  type StoredEvacuation,
} from "./evacuation-resource.ts";
import { errorMessage } from "../domain/error-message.ts";

/** The Evacuation API could not be written or read; `status` is the HTTP status when there was one. */
export class EvacuationStoreError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined, options?: ErrorOptions) {
    super(message, options);
    this.name = "EvacuationStoreError";
    this.status = status;
  }
  get isConflict(): boolean {
    return this.status === 409;
  }
  get isNotFound(): boolean {
    return this.status === 404;
  }
}

/** A resourceVersion as a number when it is one (etcd's revisions are), for "which copy is newer". */
function revision(rv: string | undefined): bigint | null {
  return rv !== undefined && /^\d+$/.test(rv) ? BigInt(rv) : null;
}

/**
 * Durable evacuation state in the cluster: one cluster-scoped `Evacuation` per node and notice chain. What
 * is written here survives a controller crash or failover; the controller resumes from `list()`.
 *
 * `watch()` keeps an informer over the Evacuations: from then on `list()` (which the reconciler calls on
 * every reconcile and the intake on every notice) reads memory, not the API server, once the informer has
 * listed. The store's own writes are seen at once (kept until the informer shows that version or a newer
 * one), so a reconcile right after a write never works from the copy before it; a copy that is stale anyway
 * (written by someone else since) makes the next write conflict, and the writer reads it fresh (`get`).
 */
export class EvacuationStore {
  readonly #api: CustomObjectsApi;
  readonly #clock: Clock;
  #informer: Watched<KubernetesObject> | null = null;
  #synced = false;
  /** What this store wrote (null: deleted) and the informer may not show yet, by name. */
  readonly #written = new Map<string, EvacuationResource | null>();

  constructor(api: CustomObjectsApi, clock: Clock) {
    this.#api = api;
    this.#clock = clock;
  }

  /** Starts the informer; `list()` reads it once it has listed (the API until then). */
  async watch(kubeConfig: KubeConfig, log: ClusterLogger, stop: AbortSignal): Promise<void> {
    const list = async (page: ListPage): Promise<KubernetesListObject<KubernetesObject>> =>
      (await this.#api.listClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        ...page,
      })) as KubernetesListObject<KubernetesObject>;
    const informer = new Watched<KubernetesObject>(
      "evacuations",
      kubeConfig,
      `/apis/${GROUP}/${VERSION}/${PLURAL}`,
      list,
      { clock: this.#clock, log, initialMs: 500, maxMs: 30_000, stop },
    );
    this.#informer = informer;
    void informer.synced.then(() => {
      this.#synced = true;
    });
    stop.addEventListener("abort", () => void informer.stop(), { once: true });
    await informer.start();
  }

  /** Every Evacuation: from the informer when it has listed (`fresh`: from the API server regardless). */
  async list(options: { fresh?: boolean } = {}): Promise<StoredEvacuation[]> {
    if (this.#informer === null || !this.#synced || options.fresh === true) {
      const res = (await this.#call("list evacuations", () =>
        this.#api.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }),
      )) as { items?: EvacuationResource[] };
      return (res.items ?? []).map(fromResource);
    }
    const byName = new Map<string, EvacuationResource>();
    for (const r of this.#informer.informer.list() as unknown as EvacuationResource[])
      byName.set(r.metadata.name, r);
    for (const [name, mine] of this.#written) {
      const cached = byName.get(name);
      if (mine === null) {
        if (cached === undefined) this.#written.delete(name);
        else byName.delete(name);
        continue;
      }
      const theirs = revision(cached?.metadata.resourceVersion);
      const ours = revision(mine.metadata.resourceVersion);
      if (cached !== undefined && (theirs === null || ours === null || theirs >= ours)) {
        this.#written.delete(name);
        continue;
      }
      byName.set(name, mine);
    }
    return [...byName.values()].map(fromResource);
  }

  /** Remembers a write's result until the informer shows it (only while watching). */
  #wrote(name: string, res: EvacuationResource | null): void {
    if (this.#informer !== null) this.#written.set(name, res);
  }

  async get(name: string): Promise<StoredEvacuation | null> {
    try {
      const res = (await this.#call(`get evacuation ${name}`, () =>
        this.#api.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name }),
      )) as EvacuationResource;
      return fromResource(res);
    } catch (err) {
      if (err instanceof EvacuationStoreError && err.isNotFound) return null;
      throw err;
    }
  }

  /** Creates the resource and writes its status; resolves only when both are persisted. */
  async create(s: StoredEvacuation): Promise<StoredEvacuation> {
    const body = toResource({ ...s, resourceVersion: undefined }, this.#clock.now());
    const created = (await this.#call(`create evacuation ${s.evacuation.name}`, () =>
      this.#api.createClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, body }),
    )) as EvacuationResource;
    this.#wrote(s.evacuation.name, created);
    return this.updateStatus({ ...s, resourceVersion: created.metadata.resourceVersion });
  }

  /** Replaces spec (optimistic: fails with a conflict when someone else wrote since `s` was read). */
  async updateSpec(s: StoredEvacuation): Promise<StoredEvacuation> {
    const body = toResource(s, this.#clock.now());
    const res = (await this.#call(`update evacuation ${s.evacuation.name}`, () =>
      this.#api.replaceClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        name: s.evacuation.name,
        body,
      }),
    )) as EvacuationResource;
    this.#wrote(s.evacuation.name, res);
    return { ...s, resourceVersion: res.metadata.resourceVersion };
  }

  /** Replaces status through the status subresource (optimistic, like updateSpec). */
  async updateStatus(s: StoredEvacuation): Promise<StoredEvacuation> {
    const body = toResource(s, this.#clock.now());
    const res = (await this.#call(`update evacuation ${s.evacuation.name} status`, () =>
      this.#api.replaceClusterCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        name: s.evacuation.name,
        body,
      }),
    )) as EvacuationResource;
    this.#wrote(s.evacuation.name, res);
    return { ...s, resourceVersion: res.metadata.resourceVersion };
  }

  /** Deletes the resource (its time to live after finishing is over); a resource already gone is fine. */
  async delete(name: string): Promise<void> {
    try {
      await this.#call(`delete evacuation ${name}`, () =>
        this.#api.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name }),
      );
      this.#wrote(name, null);
    } catch (err) {
      if (err instanceof EvacuationStoreError && err.isNotFound) {
        this.#wrote(name, null);
        return;
      }
      throw err;
    }
  }

  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const status = statusOf(err);
      const hint =
        status === 404 && what.startsWith("list")
          ? " (is the Evacuation CRD installed? kubectl apply -f deploy/crds/)"
          : status === 403
            ? " (RBAC: the controller needs evacuations and evacuations/status in lifeboat.dev)"
            : "";
      throw new EvacuationStoreError(`${what}: ${messageOf(err)}${hint}`, status ?? undefined, {
        cause: err,
      });
    }
  }
}

function messageOf(err: unknown): string {
  if (typeof err === "object" && err !== null && "body" in err) {
    const body = err.body;
    if (typeof body === "string") {
      try {
        const parsed = JSON.parse(body) as { message?: string };
        if (parsed.message !== undefined) return parsed.message;
      } catch {
        return body.slice(0, 300);
      }
    }
  }
  return errorMessage(err);
}
