import {
  PatchStrategy,
  setHeaderOptions,
  V1DeleteOptions,
  V1Preconditions,
  type CoreV1Api,
  type V1Container,
  type V1Pod,
} from "@kubernetes/client-node";
import type { Clock } from "../../common/clock.ts";
import type { AddressMap } from "./address-map.ts";
import { PodApp } from "./app.ts";
import type { PodRef, RuntimeEvent, RuntimeLogger } from "./events.ts";
import { planPreStop } from "./prestop.ts";
import { httpCheck, probeSettings, runProber, tcpCheck } from "./probe.ts";
import {
  podReadiness,
  statusPatch,
  type ContainerState,
  type ContainerView,
  type OwnedStatus,
} from "./pod-status.ts";

/** Pod annotations the runtime reads. Seconds and milliseconds are multiplied by the time scale. */
export const ANNOTATIONS = {
  /** Image pull time in seconds (default: the runtime's `defaultPullSeconds`). */
  pullSeconds: "lab.lifeboat.dev/pull-seconds",
  /** Seconds from container start until the app listens (default: `defaultStartSeconds`). */
  startSeconds: "lab.lifeboat.dev/start-seconds",
  /** Latency of every ordinary request in ms (default: `defaultRequestMs`); `?delay=ms` overrides it. */
  requestMs: "lab.lifeboat.dev/request-ms",
  /** "true": the app ignores SIGTERM and serves until SIGKILL at the end of the grace period. */
  ignoreSigterm: "lab.lifeboat.dev/ignore-sigterm",
} as const;

/** Timings and defaults shared by every pod; see PodRuntimeOptions for their meaning and defaults. */
export interface WorkerSettings {
  timeScale: number;
  defaultPullSeconds: number;
  defaultStartSeconds: number;
  defaultRequestMs: number;
  appKeepAliveSeconds: number;
}

export interface WorkerContext {
  core: CoreV1Api;
  clock: Clock;
  settings: WorkerSettings;
  addresses: AddressMap;
  log: RuntimeLogger;
  emit: (event: RuntimeEvent) => void;
  /** The IP goes back to the node's pool once the pod is gone. */
  releaseIP: (ip: string) => void;
}

/** The kubelet's floor on the grace left for SIGTERM after a long preStop (minimumGracePeriodInSeconds). */
const MIN_SIGTERM_GRACE_SECONDS = 2;
const KUBERNETES_DEFAULT_GRACE_SECONDS = 30;
const DEFAULT_PORT = 8080;

interface ContainerRuntimeState {
  spec: V1Container;
  state: ContainerState;
  /** The readiness probe's verdict; containers without a probe are ready while the app listens. */
  probeReady: boolean;
}

/**
 * The kubelet for one pod: pull, start, serve, probe, and on deletion preStop, SIGTERM, drain, delete.
 * Status is written by a small status manager (`#requestSync`): one patch at a time, coalescing requests,
 * retrying failures with backoff, only ever touching the conditions the runtime owns.
 *
 * Four ways it stops: the pod terminates normally (`#terminate`), the pod object disappears (`gone`), its node
 * dies (`kill`: no API call ever again, like a dead kubelet), or the runtime is disposed (`dispose`).
 */
export class PodWorker {
  readonly ref: PodRef;
  readonly #ctx: WorkerContext;
  #pod: V1Pod;
  readonly #containers: ContainerRuntimeState[];
  readonly #appContainer: V1Container | undefined;
  readonly #startTime: Date;
  readonly #hostIP: string;
  /** Aborted when the pod starts terminating: stops pulling and starting. */
  readonly #startup = new AbortController();
  /** Aborted when the containers have stopped: stops the probers. */
  readonly #probes = new AbortController();
  /** Aborted when the worker must stop everything at once (node death, pod gone, dispose). */
  readonly #halt = new AbortController();
  #app: PodApp | undefined;
  #terminating = false;
  #finished = false;
  #deleting = false;
  #syncing = false;
  #dirty = false;
  #lastReady: boolean | undefined;

  constructor(ctx: WorkerContext, pod: V1Pod, node: { name: string; hostIP: string }, podIP: string) {
    this.#ctx = ctx;
    this.#pod = pod;
    this.ref = {
      namespace: pod.metadata?.namespace ?? "default",
      name: pod.metadata?.name ?? "",
      uid: pod.metadata?.uid ?? "",
      node: node.name,
      podIP,
    };
    this.#hostIP = node.hostIP;
    this.#startTime = new Date(ctx.clock.now());
    const specs = pod.spec?.containers ?? [];
    this.#containers = specs.map((spec) => ({
      spec,
      state: { kind: "waiting", reason: "ContainerCreating" },
      probeReady: false,
    }));
    this.#appContainer = specs.find((c) => (c.ports ?? []).length > 0) ?? specs[0];
  }

  /** The container ports a connection to the pod IP can reach (8080 when the pod declares none). */
  get ports(): number[] {
    const ports = this.#containers.flatMap((c) => (c.spec.ports ?? []).map((p) => p.containerPort));
    return ports.length > 0 ? ports : [DEFAULT_PORT];
  }

  get halted(): boolean {
    return this.#halt.signal.aborted;
  }

  start(): void {
    this.#startProbers();
    this.#requestSync();
    this.#run().catch((err: unknown) => {
      if (!this.halted) this.#ctx.log.warn({ pod: this.#key, err: String(err) }, "pod lifecycle failed");
    });
    this.update(this.#pod);
  }

  /** A newer version of the pod from the watch: maybe a deletion, maybe a readiness gate changed. */
  update(pod: V1Pod): void {
    if (this.halted || this.#finished) return;
    if (pod.metadata?.uid !== this.ref.uid) return;
    this.#pod = newer(this.#pod, pod);
    if (pod.metadata?.deletionTimestamp !== undefined && !this.#terminating) {
      this.#terminating = true;
      this.#terminate().catch((err: unknown) => {
        if (!this.halted) this.#ctx.log.warn({ pod: this.#key, err: String(err) }, "pod termination failed");
      });
      return;
    }
    this.#requestSync();
  }

  /** The pod object is gone from the API (deleted by someone else, or by us). Frees everything. */
  gone(): void {
    if (this.halted) return;
    // Our own delete: the watch can report it before the delete call returns.
    if (this.#deleting) this.#finish();
    const deletedByOthers = !this.#finished;
    this.#stopEverything();
    this.#ctx.addresses.close(this.ref.podIP);
    this.#ctx.releaseIP(this.ref.podIP);
    if (deletedByOthers)
      this.#ctx.log.info(
        { pod: this.#key },
        "pod object deleted (forced) before the runtime finished with it",
      );
  }

  /** The node died: the app's sockets are reset and the worker never talks to the API again. */
  kill(): void {
    if (this.halted) return;
    this.#stopEverything();
  }

  dispose(): void {
    this.#stopEverything();
  }

  get #key(): string {
    return `${this.ref.namespace}/${this.ref.name}`;
  }

  #stopEverything(): void {
    this.#halt.abort();
    this.#startup.abort();
    this.#probes.abort();
    this.#app?.kill();
  }

  #emit(
    kind:
      "pod-running" | "pod-serving" | "pod-terminating" | "pod-terminated" | "pod-ready" | "pod-not-ready",
    reason: string,
  ): void {
    this.#ctx.emit({ kind, at: this.#ctx.clock.now(), reason, ...this.ref });
  }

  #scaledMs(seconds: number): number {
    return seconds * 1000 * this.#ctx.settings.timeScale;
  }

  #annotationNumber(name: string, fallback: number): number {
    const text = this.#pod.metadata?.annotations?.[name];
    const value = text === undefined ? Number.NaN : Number(text);
    return Number.isFinite(value) && value >= 0 ? value : fallback;
  }

  async #run(): Promise<void> {
    const { clock, settings } = this.#ctx;
    const signal = AbortSignal.any([this.#startup.signal, this.#halt.signal]);
    const pullSeconds = this.#annotationNumber(ANNOTATIONS.pullSeconds, settings.defaultPullSeconds);
    const startSeconds = this.#annotationNumber(ANNOTATIONS.startSeconds, settings.defaultStartSeconds);
    try {
      await clock.sleep(this.#scaledMs(pullSeconds), signal);
    } catch {
      return;
    }
    const startedAt = new Date(clock.now());
    for (const c of this.#containers) c.state = { kind: "running", startedAt };
    this.#emit("pod-running", `image pulled in ${pullSeconds} s (scaled by ${settings.timeScale})`);
    this.#requestSync();
    try {
      await clock.sleep(this.#scaledMs(startSeconds), signal);
    } catch {
      return;
    }
    const app = await PodApp.start({
      identity: {
        namespace: this.ref.namespace,
        name: this.ref.name,
        node: this.ref.node,
        podIP: this.ref.podIP,
      },
      requestDelayMs:
        this.#annotationNumber(ANNOTATIONS.requestMs, settings.defaultRequestMs) * settings.timeScale,
      healthPaths: this.#healthPaths(),
      keepAliveTimeoutMs: this.#scaledMs(settings.appKeepAliveSeconds),
      ignoreSigterm: this.#pod.metadata?.annotations?.[ANNOTATIONS.ignoreSigterm] === "true",
    });
    if (signal.aborted) {
      app.kill();
      return;
    }
    this.#app = app;
    this.#ctx.addresses.listen(this.ref.podIP, app.port);
    this.#emit(
      "pod-serving",
      `app listens on 127.0.0.1:${app.port} after ${startSeconds} s (scaled by ${settings.timeScale})`,
    );
    this.#requestSync();
  }

  #healthPaths(): string[] {
    const paths = new Set<string>();
    for (const c of this.#containers) {
      for (const probe of [c.spec.readinessProbe, c.spec.livenessProbe, c.spec.startupProbe]) {
        const path = probe?.httpGet?.path;
        if (path !== undefined) paths.add(path.split("?")[0] ?? path);
      }
    }
    return [...paths];
  }

  #startProbers(): void {
    const { clock, settings } = this.#ctx;
    for (const container of this.#containers) {
      const probe = container.spec.readinessProbe;
      if (probe === undefined) continue;
      const probeTimes = probeSettings(probe, settings.timeScale);
      void runProber({
        clock,
        settings: probeTimes,
        signal: AbortSignal.any([this.#probes.signal, this.#halt.signal]),
        due: () =>
          container.state.kind === "running" &&
          clock.now() - container.state.startedAt.getTime() >= probeTimes.initialDelayMs,
        check: (timeoutMs) => {
          const app = this.#app;
          if (app === undefined) return Promise.resolve(false);
          if (probe.httpGet !== undefined) return httpCheck(app.port, probe.httpGet.path ?? "/", timeoutMs);
          if (probe.tcpSocket !== undefined || probe.grpc !== undefined) return tcpCheck(app.port, timeoutMs);
          return Promise.resolve(!app.terminating);
        },
        onChange: (ready) => {
          container.probeReady = ready;
          this.#ctx.log.debug(
            { pod: this.#key, container: container.spec.name, ready },
            "readiness probe result changed",
          );
          this.#requestSync();
        },
      });
    }
  }

  #owned(): OwnedStatus {
    const appListening = this.#app !== undefined;
    const containers: ContainerView[] = this.#containers.map((c) => ({
      name: c.spec.name,
      image: c.spec.image ?? "lab",
      state: c.state,
      ready:
        c.state.kind === "running" && (c.spec.readinessProbe !== undefined ? c.probeReady : appListening),
    }));
    const running = this.#containers.some((c) => c.state.kind !== "waiting");
    return {
      phase: running ? "Running" : "Pending",
      hostIP: this.#hostIP,
      podIP: this.ref.podIP,
      startTime: this.#startTime,
      containers,
    };
  }

  /** Asks the status manager to bring the API status up to date; coalesces while a write is in flight. */
  #requestSync(): void {
    if (this.halted) return;
    if (this.#syncing) {
      this.#dirty = true;
      return;
    }
    this.#syncing = true;
    this.#syncLoop()
      .catch(() => undefined)
      .finally(() => {
        this.#syncing = false;
      });
  }

  async #syncLoop(): Promise<void> {
    let failures = 0;
    do {
      this.#dirty = false;
      const ok = await this.#syncOnce();
      if (ok) failures = 0;
      else {
        failures++;
        this.#dirty = true;
        await this.#ctx.clock.sleep(Math.min(5000, 250 * 2 ** failures), this.#halt.signal);
      }
    } while (this.#dirty && !this.halted);
  }

  /** One status write. False when it should be retried. */
  async #syncOnce(): Promise<boolean> {
    const patch = statusPatch(this.#pod, this.#owned(), new Date(this.#ctx.clock.now()));
    if (patch === null) {
      this.#noteReadiness(this.#pod);
      return true;
    }
    try {
      const updated = await this.#ctx.core.patchNamespacedPodStatus(
        {
          name: this.ref.name,
          namespace: this.ref.namespace,
          body: { metadata: { uid: this.ref.uid }, ...patch },
        },
        setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
      );
      if (this.halted) return true;
      if (updated.metadata?.uid === this.ref.uid) this.#pod = newer(this.#pod, updated);
      this.#noteReadiness(this.#pod);
      return true;
    } catch (err) {
      if (this.halted) return true;
      const code = statusCode(err);
      if (code === 404 || code === 409 || code === 422) {
        this.#ctx.log.info(
          { pod: this.#key, code },
          "pod status not written: the pod is gone or was replaced",
        );
        return true;
      }
      this.#ctx.log.warn({ pod: this.#key, code, err: String(err) }, "pod status write failed; retrying");
      return false;
    }
  }

  #noteReadiness(pod: V1Pod): void {
    const ready = pod.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
    if (ready === this.#lastReady) return;
    const wasKnown = this.#lastReady !== undefined;
    this.#lastReady = ready;
    if (!ready && !wasKnown) return;
    const readiness = podReadiness(pod, this.#owned().containers);
    this.#emit(
      ready ? "pod-ready" : "pod-not-ready",
      readiness.ready
        ? "containers ready and readiness gates True"
        : `${readiness.reason}: ${readiness.message}`,
    );
  }

  async #terminate(): Promise<void> {
    const { clock, addresses } = this.#ctx;
    this.#startup.abort();
    const graceSeconds =
      this.#pod.metadata?.deletionGracePeriodSeconds ??
      this.#pod.spec?.terminationGracePeriodSeconds ??
      KUBERNETES_DEFAULT_GRACE_SECONDS;
    const graceMs = this.#scaledMs(graceSeconds);
    const deadline = clock.now() + graceMs;
    this.#emit("pod-terminating", `deletionTimestamp set; grace ${graceSeconds} s`);
    const containersRunning = this.#containers.some((c) => c.state.kind === "running");
    if (containersRunning) {
      // The hook runs while the app still serves: this is what keeps a load balancer's late requests answered.
      const preStop = this.#appContainer === undefined ? undefined : planPreStop(this.#appContainer);
      if (preStop?.kind === "sleep") {
        try {
          await clock.sleep(Math.min(this.#scaledMs(preStop.seconds), graceMs), this.#halt.signal);
        } catch {
          return;
        }
      }
      const app = this.#app;
      const ignoreSigterm = this.#pod.metadata?.annotations?.[ANNOTATIONS.ignoreSigterm] === "true";
      this.#ctx.emit({
        kind: "pod-sigterm",
        at: clock.now(),
        inFlight: app?.inFlight ?? 0,
        reason: `${preStop?.reason ?? "no container"} done; ${app === undefined ? "the app was not listening yet" : ignoreSigterm ? "the app ignores SIGTERM" : "the app drains"}`,
        ...this.ref,
      });
      let killed = false;
      if (app !== undefined) {
        if (!ignoreSigterm) addresses.close(this.ref.podIP);
        // Like the kubelet, SIGTERM always gets at least 2 s, even when preStop used up the grace period.
        const outcome = await app.shutdown(
          Math.max(this.#scaledMs(MIN_SIGTERM_GRACE_SECONDS), deadline - clock.now()),
        );
        if (this.halted) return;
        addresses.close(this.ref.podIP);
        if (outcome.kind === "killed") {
          killed = true;
          this.#ctx.emit({
            kind: "pod-killed",
            at: clock.now(),
            inFlight: outcome.inFlightAtKill,
            reason: "grace period over: SIGKILL",
            ...this.ref,
          });
        }
      }
      const finishedAt = new Date(clock.now());
      for (const c of this.#containers) {
        const startedAt = c.state.kind === "running" ? c.state.startedAt : finishedAt;
        c.state = killed
          ? { kind: "terminated", startedAt, finishedAt, exitCode: 137, reason: "Error" }
          : { kind: "terminated", startedAt, finishedAt, exitCode: 0, reason: "Completed" };
      }
    }
    this.#probes.abort();
    // Like the kubelet: the final status (containers terminated, not ready) is written before the delete.
    if (!this.halted) await this.#syncOnce();
    await this.#deletePod();
  }

  /** The kubelet's last word: delete the object with grace 0, guarded by its UID. */
  async #deletePod(): Promise<void> {
    this.#deleting = true;
    for (let attempt = 1; !this.halted; attempt++) {
      try {
        await this.#ctx.core.deleteNamespacedPod({
          name: this.ref.name,
          namespace: this.ref.namespace,
          gracePeriodSeconds: 0,
          body: deleteOptions(this.ref.uid),
        });
        break;
      } catch (err) {
        if (this.halted) return;
        const code = statusCode(err);
        if (code === 404 || code === 409) break;
        this.#ctx.log.warn(
          { pod: this.#key, code, attempt, err: String(err) },
          "pod delete failed; retrying",
        );
        try {
          await this.#ctx.clock.sleep(Math.min(5000, 250 * 2 ** attempt), this.#halt.signal);
        } catch {
          return;
        }
      }
    }
    if (!this.halted) this.#finish();
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#emit("pod-terminated", "containers stopped; pod object deleted with grace 0");
  }
}

/** Delete now, but only the pod this worker ran (a StatefulSet may have recreated one with the same name). */
function deleteOptions(uid: string): V1DeleteOptions {
  const options = new V1DeleteOptions();
  const preconditions = new V1Preconditions();
  preconditions.uid = uid;
  options.gracePeriodSeconds = 0;
  options.preconditions = preconditions;
  return options;
}

/** The HTTP status of a client-node ApiException (or anything carrying `code`/`statusCode`). */
export function statusCode(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const record = err as { code?: unknown; statusCode?: unknown };
  if (typeof record.code === "number") return record.code;
  if (typeof record.statusCode === "number") return record.statusCode;
  return undefined;
}

/** The pod with the higher resourceVersion (etcd revisions are numeric in practice; ties keep `current`). */
function newer(current: V1Pod, candidate: V1Pod): V1Pod {
  const a = Number(current.metadata?.resourceVersion);
  const b = Number(candidate.metadata?.resourceVersion);
  if (Number.isFinite(a) && Number.isFinite(b)) return b > a ? candidate : current;
  return candidate;
}
