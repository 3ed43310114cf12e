/**
 * Plays a scenario's workload events the way another party would: `scale` sets spec.replicas through the
 * scale subresource (an HPA, `kubectl scale`), `rollout` writes a new pod template (the annotation
 * `kubectl rollout restart` sets), so the Deployment rolls out a second ReplicaSet. Times are scenario
 * seconds from `t0` (performance.now() at time zero), multiplied by the time scale.
 */
import { PatchStrategy, setHeaderOptions, type AppsV1Api } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import type { ScenarioEvent, WorkloadEvent } from "../scenarios/schema.ts";
import { isWorkloadEvent } from "../scenarios/schema.ts";

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** The annotation `kubectl rollout restart` puts on the pod template. */
export const RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt";

export interface WorkloadEventsOptions {
  apps: Pick<AppsV1Api, "patchNamespacedDeploymentScale" | "patchNamespacedDeployment">;
  namespace: string;
  /** The scenario's events; only `scale` and `rollout` are played here. */
  events: readonly ScenarioEvent[];
  timeScale: number;
  /** performance.now() at scenario time zero. */
  t0: number;
  /** Called once an event has been applied (for the events log and the ready-ratio's desired count). */
  onApplied?: (e: WorkloadEvent, at: number) => void;
}

export class WorkloadEvents implements AsyncDisposable {
  readonly #o: WorkloadEventsOptions;
  readonly #abort = new AbortController();
  readonly errors: string[] = [];
  #running: Promise<void>[] = [];

  constructor(options: WorkloadEventsOptions) {
    this.#o = options;
  }

  start(): void {
    this.#running = this.#o.events.filter(isWorkloadEvent).map((e) =>
      this.#play(e).catch((err: unknown) => {
        if (this.#abort.signal.aborted) return;
        this.errors.push(
          `${e.kind} ${e.workload} at ${e.at}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }),
    );
  }

  /** Resolves when every event has been applied (or failed: see `errors`). */
  async settled(): Promise<void> {
    await Promise.all(this.#running);
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.settled();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #play(e: WorkloadEvent): Promise<void> {
    const ms = this.#o.t0 + e.at * this.#o.timeScale * 1000 - performance.now();
    if (ms > 0) await sleep(ms, undefined, { signal: this.#abort.signal });
    const id = { name: e.workload, namespace: this.#o.namespace };
    switch (e.kind) {
      case "scale":
        await this.#o.apps.patchNamespacedDeploymentScale(
          { ...id, body: { spec: { replicas: e.replicas } } },
          mergePatch,
        );
        break;
      case "rollout":
        await this.#o.apps.patchNamespacedDeployment(
          {
            ...id,
            body: {
              spec: {
                template: {
                  metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: new Date().toISOString() } },
                },
              },
            },
          },
          mergePatch,
        );
        break;
    }
    this.#o.onApplied?.(e, e.at);
  }
}
