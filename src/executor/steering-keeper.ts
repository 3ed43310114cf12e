/**
 * The steering loop: after every recorded notice (and every `intervalSeconds`), read the nodes and the
 * Evacuations, ask the pure steering planner (src/planner/steering.ts) which nodes of a pool under reclaim to
 * taint PreferNoSchedule and which taints have expired, and carry it out. Leader only, fenced, dry-run aware;
 * a failed round is logged and retried: steering is a preference, never a reason to stop evacuating.
 */
import type { Clock } from "../domain/clock.ts";
import { errorMessage } from "../domain/error-message.ts";
import type { Evacuation } from "../domain/evacuation.ts";
import type { NodeView } from "../domain/snapshot.ts";
import type { SteeringSettings, SteeringStep } from "../domain/steering.ts";
import type { LeaseFence } from "../leader/fence.ts";
import type { Logger } from "../observability/logger.ts";
import { planSteering } from "../planner/steering.ts";

export interface SteeringActuator {
  taint(node: string, until: number): Promise<unknown>;
  untaint(node: string): Promise<unknown>;
}

export interface SteeringKeeperOptions {
  nodes: () => readonly NodeView[];
  evacuations: () => Promise<readonly Evacuation[]>;
  actuator: SteeringActuator;
  settings: SteeringSettings;
  intervalSeconds: number;
  clock: Clock;
  log: Logger;
  fence: LeaseFence;
  dryRun: boolean;
}

export class SteeringKeeper {
  readonly #options: SteeringKeeperOptions;
  #waker: AbortController | null = null;

  constructor(options: SteeringKeeperOptions) {
    this.#options = options;
  }

  /** Plan again now (a notice was recorded). */
  wake(): void {
    this.#waker?.abort();
  }

  async run(signal: AbortSignal): Promise<void> {
    const { clock, log, settings } = this.#options;
    if (settings.threshold === 0) {
      log.info({}, "pool steering off (--pool-steering-threshold=0)");
      return;
    }
    while (!signal.aborted) {
      try {
        await this.once();
      } catch (err) {
        log.warn({ err: errorMessage(err) }, "steering round failed; retrying");
      }
      this.#waker = new AbortController();
      await clock
        .sleep(this.#options.intervalSeconds * 1000, AbortSignal.any([signal, this.#waker.signal]))
        .catch(() => undefined);
      this.#waker = null;
    }
  }

  async once(): Promise<SteeringStep[]> {
    const { actuator, clock, fence, log, dryRun } = this.#options;
    const steps = planSteering({
      nodes: this.#options.nodes(),
      evacuations: await this.#options.evacuations(),
      now: clock.now(),
      settings: this.#options.settings,
    });
    for (const step of steps) {
      log.info(
        { node: step.node, step: step.kind },
        dryRun ? `would ${step.kind}: ${step.reason}` : step.reason,
      );
      if (dryRun) continue;
      fence.assertHeld(`steering.${step.kind}`);
      if (step.kind === "taint") await actuator.taint(step.node, step.until);
      else await actuator.untaint(step.node);
    }
    return steps;
  }
}
