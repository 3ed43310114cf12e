/**
 * The headroom loop: every `intervalSeconds`, read the cluster snapshot, ask the pure headroom planner how many
 * placeholders of what size each node group (or zone) needs, and have the actuator keep the placeholder
 * Deployments so (creating the PriorityClass first, removing Deployments of scopes that need none any more).
 * It runs only on the leader; every write is fenced like the evacuations' writes. A failed round is logged and
 * retried on the next one: headroom is an optimisation, never a reason to stop evacuating.
 */
import type { HeadroomActuatorLike } from "../actuators/kube/headroom.ts";
import type { Clock } from "../domain/clock.ts";
import { errorMessage } from "../domain/error-message.ts";
import type { HeadroomPlan, HeadroomSettings } from "../domain/headroom.ts";
import type { ClusterSnapshot } from "../domain/snapshot.ts";
import type { LeaseFence } from "../leader/fence.ts";
import type { Logger } from "../observability/logger.ts";
import { planHeadroom } from "../planner/headroom.ts";

export interface HeadroomKeeperOptions {
  snapshot: (now: number) => ClusterSnapshot;
  actuator: HeadroomActuatorLike;
  settings: HeadroomSettings;
  intervalSeconds: number;
  clock: Clock;
  log: Logger;
  fence: LeaseFence;
  /** Plan and log "would ..." but write nothing. */
  dryRun: boolean;
}

export class HeadroomKeeper {
  readonly #options: HeadroomKeeperOptions;
  #priorityClassReady = false;
  /** The last reason logged per Deployment, so an unchanged plan is not logged every round. */
  readonly #lastReason = new Map<string, string>();

  constructor(options: HeadroomKeeperOptions) {
    this.#options = options;
  }

  /** Rounds until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, log, settings } = this.#options;
    log.info(
      { nodes: settings.nodes, scope: settings.scope },
      settings.nodes === 0 ? "headroom off (--headroom-nodes=0)" : "keeping headroom",
    );
    while (!signal.aborted) {
      try {
        await this.once();
      } catch (err) {
        log.warn({ err: errorMessage(err) }, "headroom round failed; retrying");
      }
      await clock.sleep(this.#options.intervalSeconds * 1000, signal).catch(() => undefined);
    }
  }

  /** One round: plan, then create, update or remove placeholder Deployments. Returns the plan. */
  async once(): Promise<HeadroomPlan> {
    const { actuator, clock, fence, log, dryRun } = this.#options;
    const plan = planHeadroom({
      snapshot: this.#options.snapshot(clock.now()),
      settings: this.#options.settings,
    });
    if (plan.sets.length > 0 && !this.#priorityClassReady && !dryRun) {
      fence.assertHeld("headroom.ensurePriorityClass");
      const outcome = await actuator.ensurePriorityClass();
      if (outcome === "created") log.info({}, "created the headroom PriorityClass");
      this.#priorityClassReady = true;
    }
    for (const set of plan.sets) {
      if (this.#lastReason.get(set.name) !== set.reason) {
        log.info({ deployment: set.name, replicas: set.replicas, ...set.requests }, set.reason);
        this.#lastReason.set(set.name, set.reason);
      }
      if (dryRun) continue;
      fence.assertHeld("headroom.apply");
      const outcome = await actuator.apply(set);
      if (outcome !== "unchanged")
        log.info({ deployment: set.name, replicas: set.replicas }, `headroom Deployment ${outcome}`);
    }
    const wanted = new Set(plan.sets.map((s) => s.name));
    for (const name of await actuator.list()) {
      if (wanted.has(name)) continue;
      log.info(
        { deployment: name },
        dryRun
          ? "would remove the headroom Deployment: its scope runs no pod lifeboat surges"
          : "removing the headroom Deployment: its scope runs no pod lifeboat surges",
      );
      this.#lastReason.delete(name);
      if (dryRun) continue;
      fence.assertHeld("headroom.remove");
      await actuator.remove(name);
    }
    return plan;
  }
}
