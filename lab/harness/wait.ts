/**
 * Polling helpers for integration tests and benchmarks: bounded waits on real time and periodic samplers.
 * A wait that runs out fails with what it was waiting for and the last value seen; nothing here asserts on
 * durations (the bound only keeps a broken run from hanging).
 */
import { setTimeout as sleep } from "node:timers/promises";

/** A bounded wait that gave up. */
export class WaitTimeoutError extends Error {
  readonly what: string;
  readonly timeoutMs: number;
  readonly last: unknown;
  constructor(what: string, timeoutMs: number, last: unknown) {
    super(
      `gave up after ${timeoutMs} ms waiting for: ${what}${last === undefined ? "" : `; last seen: ${describe(last)}`}`,
    );
    this.name = "WaitTimeoutError";
    this.what = what;
    this.timeoutMs = timeoutMs;
    this.last = last;
  }
}

export interface WaitOptions {
  /** Give up after this long. Default 60000. */
  timeoutMs?: number;
  /** Pause between probes. Default 200. */
  intervalMs?: number;
  /** Checked on every round (e.g. "the controller process is still alive"); throwing aborts the wait. */
  alive?: () => void;
}

/**
 * Calls `probe` until it returns something other than undefined and returns that value. A probe that throws
 * counts as "not yet" (the API server may be briefly unavailable); the last error is reported on timeout.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const intervalMs = options.intervalMs ?? 200;
  const start = performance.now();
  let last: unknown;
  for (;;) {
    options.alive?.();
    try {
      const value = await probe();
      if (value !== undefined) return value;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (performance.now() - start > timeoutMs) throw new WaitTimeoutError(what, timeoutMs, last);
    await sleep(intervalMs);
  }
}

/** `waitFor` on a boolean condition. */
export async function waitUntil(
  what: string,
  condition: () => Promise<boolean> | boolean,
  options: WaitOptions = {},
): Promise<void> {
  await waitFor(what, async () => ((await condition()) ? true : undefined), options);
}

/**
 * Runs `sample` every `intervalMs` in the background until stopped; keeps every value. Sampling errors are
 * counted, not thrown (a sampler must not kill the test it observes). Dispose (or `stop()`) to end it.
 */
export class Sampler<T> implements AsyncDisposable {
  readonly values: T[] = [];
  errors = 0;
  readonly #stop = new AbortController();
  readonly #loop: Promise<void>;

  constructor(sample: () => Promise<T>, intervalMs = 150) {
    this.#loop = (async () => {
      while (!this.#stop.signal.aborted) {
        try {
          this.values.push(await sample());
        } catch {
          this.errors++;
        }
        await sleep(intervalMs, undefined, { signal: this.#stop.signal }).catch(() => undefined);
      }
    })();
  }

  /** Stops sampling (a sample in progress completes); returns every value taken. */
  async stop(): Promise<T[]> {
    this.#stop.abort();
    await this.#loop;
    return this.values;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(value).slice(0, 500);
  } catch {
    return String(value);
  }
}
