/**
 * The only module that reads the wall clock or arms timers. Everything else takes a Clock, so that
 * deadline logic is tested by stepping a FakeClock instead of sleeping.
 *
 * It lives in common/ because both programs use it: the product (src/, through src/domain/clock.ts) and
 * the lab (lab/). common/ imports nothing from either; the product's package ships it, the lab's never
 * reaches into src/.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds (or when `signal` aborts, rejecting with its reason). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const timer = setTimeout(
        () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

interface Sleeper {
  wakeAt: number;
  resolve: () => void;
}

/** A clock that only moves when told to. `advance` wakes every sleeper whose time has come, in order. */
export class FakeClock implements Clock {
  #now: number;
  #sleepers: Sleeper[] = [];

  constructor(start = Date.parse("2026-11-24T12:00:00Z")) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const sleeper: Sleeper = { wakeAt: this.#now + Math.max(0, ms), resolve };
      this.#sleepers.push(sleeper);
      signal?.addEventListener(
        "abort",
        () => {
          this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
          reject(signal.reason as Error);
        },
        { once: true },
      );
    });
  }

  /** Moves time forward by `ms`, waking sleepers in wake-time order and letting their continuations run. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      this.#sleepers.sort((a, b) => a.wakeAt - b.wakeAt);
      const next = this.#sleepers[0];
      if (next === undefined || next.wakeAt > target) break;
      this.#sleepers.shift();
      this.#now = next.wakeAt;
      next.resolve();
      await flushMicrotasks();
    }
    this.#now = target;
    await flushMicrotasks();
  }

  /** How many sleepers are waiting: lets a test wait until the code under test is parked. */
  get pending(): number {
    return this.#sleepers.length;
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
