/**
 * The controller: starts and stops the parts wiring.ts builds (cluster cache, Evacuation store, notice intake,
 * reconcile loop, capacity keepers, signal sources: SQS and the node annotation, written by a person or handed
 * over from IMDS by `lifeboat agent`), its endpoints and leader election. Only the leader consumes notices and
 * acts (leader-work.ts); a standby keeps its caches warm and takes over from the Evacuations in the cluster.
 */
import type { ClusterCache } from "../cluster/cluster-cache.ts";
import type { Notice } from "../domain/notice.ts";
import { assessHealth, type Leadership, type ObservabilityServer } from "../observability/server.ts";
import { isForeignInstanceError } from "../signals/errors.ts";
import { AnnotationRequests } from "./annotation-requests.ts";
import type { ControllerDeps } from "./deps.ts";
import { livenessStallMs, startEndpoints } from "./endpoints.ts";
import { leaderTasks, type LeaderTask } from "./leader-work.ts";
import { wire, type Wiring } from "./wiring.ts";

export type { ControllerDeps } from "./deps.ts";

export class Controller implements AsyncDisposable {
  readonly #deps: ControllerDeps;
  readonly #parts: Wiring;
  readonly #stop = new AbortController();
  readonly #servers: ObservabilityServer[] = [];
  /** Null with --watch-node-annotation=false. */
  readonly #annotations: AnnotationRequests | null;
  #synced = false;
  #leadership: Leadership;
  #tasks: Promise<unknown>[] = [];

  constructor(deps: ControllerDeps) {
    this.#deps = deps;
    this.#parts = wire(deps);
    const { cache, intake } = this.#parts;
    this.#annotations = deps.config.watchNodeAnnotation
      ? new AnnotationRequests({
          annotations: (node) => cache.nodeAnnotations(node),
          handle: (notice) => intake.handle(notice),
          acting: () => this.#leadership.kind !== "standby",
          clock: deps.clock,
          log: deps.log,
        })
      : null;
    // Without leader election this replica is the one that acts: lifeboat_leader 1 from the start.
    deps.metrics.setLeader(this.#parts.elector === null);
    this.#leadership =
      this.#parts.elector === null
        ? { kind: "disabled" }
        : { kind: "standby", healthy: true, reason: "not elected yet" };
  }

  /** The notice handler the signal sources call: resolves once the evacuation is durably recorded. */
  handleNotice = (notice: Notice): Promise<void> => this.#parts.intake.handle(notice);

  /** Starts caches, endpoints and (once elected) the work. Resolves when running; `done` when stopped. */
  async start(): Promise<void> {
    const { config, log, clock } = this.#deps;
    const { cache, store, loop, loopWatch, clients } = this.#parts;
    const health = (): ReturnType<typeof assessHealth> =>
      assessHealth({
        now: clock.now(),
        loop: loopWatch.state,
        maxStallMs: livenessStallMs(config),
        informersSynced: this.#synced,
        leadership: this.#leadership,
      });
    await startEndpoints(this.#deps, health, this.#servers);
    cache.onChange((change) => {
      if (change.resource === "nodes" && change.type !== "delete") this.#annotations?.check(change.name);
      loop.clusterChanged();
    });
    // The Evacuations too are read from an informer (a missing CRD leaves it retrying; list() then asks the
    // API server, which names the CRD in its error).
    await store.watch(clients.kube, log.child({ component: "evacuation-store" }), this.#stop.signal);
    await cache.start();
    await cache.synced;
    this.#synced = true;
    log.info({}, "informers synced");
    this.#tasks.push(this.#runElection(this.#stop.signal));
  }

  /** Asks for a reconcile as soon as possible (a notice arrived or the cluster changed). */
  wake(): void {
    this.#parts.loop.wake();
  }

  get cache(): ClusterCache {
    return this.#parts.cache;
  }

  /** Where /metrics (first) and, when separate, /healthz and /readyz are served. */
  get urls(): string[] {
    return this.#servers.map((s) => s.url);
  }

  /** The leader's work as it would start now (leader-work.ts), not started. */
  leaderTasks(): LeaderTask[] {
    const { cache, intake, loop, headroom, steering } = this.#parts;
    const annotations = this.#annotations;
    return leaderTasks(this.#deps, {
      loop,
      headroom,
      steering,
      rescanAnnotations:
        annotations === null
          ? null
          : () => {
              annotations.rescan(cache.snapshot(this.#deps.clock.now()).nodes.map((n) => n.name));
            },
      handleNotice: this.handleNotice,
      accepting: () => intake.accepting(),
    });
  }

  /** Without leader election: lead until stopped. With it: lead while elected. */
  #runElection(signal: AbortSignal): Promise<unknown> {
    const { elector } = this.#parts;
    if (elector === null) return this.#lead(signal);
    const { metrics } = this.#deps;
    return elector.run(
      {
        onStartedLeading: (leading) => {
          this.#leadership = { kind: "leader" };
          metrics.setLeader(true);
          this.#tasks.push(this.#lead(AbortSignal.any([leading, signal])));
        },
        onStoppedLeading: () => {
          this.#leadership = { kind: "standby", healthy: true, reason: "lost the lease" };
          metrics.setLeader(false);
        },
        onNewLeader: (holder) => {
          this.#leadership = { kind: "standby", healthy: true, reason: `${holder} leads` };
        },
      },
      signal,
    );
  }

  /** The leader's work, until `signal` aborts. */
  async #lead(signal: AbortSignal): Promise<void> {
    const { config, log } = this.#deps;
    log.info({ identity: config.identity }, "leading: resuming unfinished evacuations and consuming notices");
    await Promise.allSettled(this.leaderTasks().map((task) => task.run(signal)));
    log.info({}, "stopped leading");
  }

  async stop(): Promise<void> {
    this.#stop.abort(new Error("controller stopping"));
    await Promise.allSettled(this.#tasks);
    await this.#parts.writers.events.flush();
    await this.#parts.cache.stop();
    for (const server of this.#servers) await server[Symbol.asyncDispose]();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

export { isForeignInstanceError };
