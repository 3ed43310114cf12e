import type { CustomObjectsApi } from "@kubernetes/client-node";
import type { Clock } from "../domain/clock.ts";
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

/**
 * Durable evacuation state in the cluster: one cluster-scoped `Evacuation` per node and notice chain. What
 * is written here survives a controller crash or failover; the controller resumes from `list()`.
 */
export class EvacuationStore {
  readonly #api: CustomObjectsApi;
  readonly #clock: Clock;

  constructor(api: CustomObjectsApi, clock: Clock) {
    this.#api = api;
    this.#clock = clock;
  }

  async list(): Promise<StoredEvacuation[]> {
    const res = (await this.#call("list evacuations", () =>
      this.#api.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }),
    )) as { items?: EvacuationResource[] };
    return (res.items ?? []).map(fromResource);
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
    return { ...s, resourceVersion: res.metadata.resourceVersion };
  }

  /** Deletes the resource (its time to live after finishing is over); a resource already gone is fine. */
  async delete(name: string): Promise<void> {
    try {
      await this.#call(`delete evacuation ${name}`, () =>
        this.#api.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name }),
      );
    } catch (err) {
      if (err instanceof EvacuationStoreError && err.isNotFound) return;
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
  return err instanceof Error ? err.message : String(err);
}
