/**
 * The order in which writes reached the API server, whatever the clocks of the parties that made them: a watch
 * started before the writes sees each change with its resourceVersion, and the lab's single etcd gives every
 * write a revision that grows with each write. (A resourceVersion is opaque to clients in general; in the lab it
 * is that revision, which is what lets a test compare two of them.)
 */
import { Watch, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";

/** Records the revision at which `matches` first held for each object of a watched collection, by name. */
export class FirstRevision<T extends KubernetesObject> implements AsyncDisposable {
  readonly #seen = new Map<string, bigint>();
  readonly #abort: Promise<AbortController>;

  constructor(kubeConfig: KubeConfig, path: string, matches: (obj: T) => boolean) {
    this.#abort = new Watch(kubeConfig).watch(
      path,
      { allowWatchBookmarks: false },
      (type: string, obj: T) => {
        const name = obj.metadata?.name;
        const rv = obj.metadata?.resourceVersion;
        if (type === "DELETED" || name === undefined || rv === undefined || this.#seen.has(name)) return;
        if (matches(obj)) this.#seen.set(name, BigInt(rv));
      },
      () => undefined,
    );
  }

  /** Resolves once the watch is open: writes after that are seen. */
  async started(): Promise<void> {
    await this.#abort;
  }

  /** The revision at which `name` first matched; undefined when it never did (yet). */
  of(name: string): bigint | undefined {
    return this.#seen.get(name);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    (await this.#abort).abort();
  }
}
