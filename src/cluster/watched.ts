/**
 * One list+watch informer whose cache holds trimmed objects (./trim.ts), restarted after a backoff when its
 * list or watch fails: the building block of the ClusterCache.
 */
import {
  ListWatch,
  Watch,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
} from "@kubernetes/client-node";
import type { Clock } from "../domain/clock.ts";
import type { ClusterLogger } from "./logger.ts";
import { trimMetadata } from "./trim.ts";

/** The resources the cache watches. */
export type ResourceName =
  | "nodes"
  | "pods"
  | "replicasets"
  | "deployments"
  | "statefulsets"
  | "poddisruptionbudgets"
  | "horizontalpodautoscalers"
  | "evacuations";

/** One page of a list: at most `limit` items, from `_continue` on (the API server's chunked lists). */
export interface ListPage {
  limit: number;
  _continue?: string;
}
type ListFn<T extends KubernetesObject> = (page: ListPage) => Promise<KubernetesListObject<T>>;

/**
 * Items per page of an informer's list, as client-go's reflector pages (500): a 30,000-pod cluster is never
 * one response of a few hundred MB in memory, and each page is trimmed before the next is read.
 */
export const LIST_PAGE_SIZE = 500;

/**
 * Trims an object to what lifeboat reads (./trim.ts) before the informer caches it: in place, or into a
 * compact record of its own (pods).
 */
type Trim<Raw, T> = (obj: Raw) => T;

/** A Watch whose events carry trimmed objects, so the informer's cache never holds the full ones. */
class TrimmingWatch<Raw, T> extends Watch {
  readonly #trim: Trim<Raw, T>;
  constructor(kubeConfig: KubeConfig, trim: Trim<Raw, T>) {
    super(kubeConfig);
    this.#trim = trim;
  }
  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(
      path,
      queryParams,
      (phase, apiObj: unknown, watchObj) => {
        // BOOKMARK and ERROR events carry no object to keep.
        const obj =
          phase === "ADDED" || phase === "MODIFIED" || phase === "DELETED"
            ? this.#trim(apiObj as Raw)
            : apiObj;
        callback(phase, obj, watchObj);
      },
      done,
    );
  }
}

/** One informer with its restart loop, and the trim of what it keeps (`Raw` as listed, `T` as kept). */
export class Watched<T extends KubernetesObject, Raw extends KubernetesObject = T> {
  readonly resource: ResourceName;
  readonly informer: Informer<T> & ObjectCache<T>;
  /** Resolves once the first list has succeeded and the watch was opened. */
  readonly synced: Promise<void>;
  readonly #clock: Clock;
  readonly #log: ClusterLogger;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #stop: AbortSignal;
  #delayMs: number;
  #restartPending = false;
  #listedOk = false;
  #markSynced: () => void = () => undefined;
  /** Count of failures seen (list or watch); for tests and metrics. */
  failures = 0;

  constructor(
    resource: ResourceName,
    kubeConfig: KubeConfig,
    path: string,
    list: ListFn<Raw>,
    opts: { clock: Clock; log: ClusterLogger; initialMs: number; maxMs: number; stop: AbortSignal },
    // The default keeps the object as listed, less managedFields (trimMetadata): for Raw = T only.
    trim: Trim<Raw, T> = trimMetadata as unknown as Trim<Raw, T>,
  ) {
    this.resource = resource;
    this.#clock = opts.clock;
    this.#log = opts.log;
    this.#initialMs = opts.initialMs;
    this.#maxMs = opts.maxMs;
    this.#delayMs = opts.initialMs;
    this.#stop = opts.stop;
    this.synced = new Promise<void>((resolve) => {
      this.#markSynced = resolve;
    });
    const listed = async (): Promise<KubernetesListObject<T>> => {
      const items: T[] = [];
      let last: KubernetesListObject<Raw> | undefined;
      let cont: string | undefined;
      do {
        const page: ListPage =
          cont === undefined ? { limit: LIST_PAGE_SIZE } : { limit: LIST_PAGE_SIZE, _continue: cont };
        const read = await list(page);
        for (const item of read.items) items.push(trim(item));
        cont = read.metadata?._continue;
        last = read;
      } while (cont !== undefined && cont !== "");
      this.#listedOk = true;
      this.#delayMs = this.#initialMs;
      // Every page is of one snapshot: its resourceVersion is where the watch starts.
      const { _continue: _done, ...metadata } = last.metadata ?? {};
      const { items: _raw, ...rest } = last;
      return { ...rest, items, metadata };
    };
    this.informer = new ListWatch<T>(path, new TrimmingWatch(kubeConfig, trim), listed, false);
    this.informer.on("error", (err: unknown) => {
      this.#onError(err);
    });
    // Events flowing again means the watch is healthy: the next failure starts from the initial delay.
    this.informer.on("change", () => {
      this.#delayMs = this.#initialMs;
    });
  }

  async start(): Promise<void> {
    try {
      await this.informer.start();
    } catch (err) {
      this.#onError(err);
      return;
    }
    if (this.#listedOk && !this.#restartPending) this.#markSynced();
  }

  async stop(): Promise<void> {
    await this.informer.stop();
  }

  #onError(err: unknown): void {
    this.failures++;
    if (this.#stop.aborted || this.#restartPending) return;
    this.#restartPending = true;
    const delayMs = this.#delayMs;
    this.#delayMs = Math.min(this.#delayMs * 2, this.#maxMs);
    this.#log.warn(
      { resource: this.resource, err: describe(err), restartInMs: delayMs },
      `informer for ${this.resource} failed; restarting in ${delayMs} ms`,
    );
    void this.#restartAfter(delayMs);
  }

  async #restartAfter(delayMs: number): Promise<void> {
    try {
      await this.#clock.sleep(delayMs, this.#stop);
    } catch {
      return; // stopped
    } finally {
      this.#restartPending = false;
    }
    await this.start();
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) return err.message.split("\n")[0] ?? err.name;
  if (typeof err === "object" && err !== null && "message" in err) return String(err.message);
  return String(err);
}
