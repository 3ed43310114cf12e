/**
 * When the load balancer controller emulation reconciles one binding: the part of controller-runtime's
 * work queue that matters for timing. A request to reconcile `seconds` from now (a watch event asks for
 * the short reconcile delay, an unhealthy target for the long requeue) arms the EARLIER of the pending
 * reconcile and the new one, as `Add`/`AddAfter` do on a rate-limited queue: a watch event is handled at
 * once whatever delayed requeue is pending. Requests inside an armed window coalesce into one reconcile;
 * a request while a reconcile runs runs it again afterwards (the queue's dirty set).
 */
import type { Scheduler, Timer } from "./scheduler.ts";

export class ReconcileTrigger {
  readonly #scheduler: Scheduler;
  readonly #run: () => Promise<void>;
  #timer: Timer | undefined;
  /** When the armed timer fires (scheduler ms), if one is armed. */
  #dueAt = Number.POSITIVE_INFINITY;
  #running = false;
  /** Seconds-from-now of the earliest request made while running (the re-run's delay), if any. */
  #pendingMs: number | undefined;
  #stopped = false;

  /** `run` is one reconcile; it is never called twice at once. */
  constructor(scheduler: Scheduler, run: () => Promise<void>) {
    this.#scheduler = scheduler;
    this.#run = run;
  }

  /** Asks for a reconcile `ms` milliseconds from now; an earlier pending one stands, a later one is moved up. */
  request(ms: number): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#pendingMs = Math.min(this.#pendingMs ?? ms, ms);
      return;
    }
    const dueAt = this.#scheduler.now() + Math.max(0, ms);
    if (this.#timer !== undefined && this.#dueAt <= dueAt) return;
    this.#timer?.cancel();
    this.#dueAt = dueAt;
    this.#timer = this.#scheduler.setTimer(ms, () => {
      this.#timer = undefined;
      this.#dueAt = Number.POSITIVE_INFINITY;
      void this.#fire();
    });
  }

  /** Whether a reconcile is armed or running (for tests). */
  get pending(): boolean {
    return this.#timer !== undefined || this.#running;
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  async #fire(): Promise<void> {
    if (this.#stopped) return;
    this.#running = true;
    try {
      await this.#run();
    } finally {
      this.#running = false;
    }
    const again = this.#pendingMs;
    this.#pendingMs = undefined;
    if (again !== undefined) this.request(again);
  }
}
