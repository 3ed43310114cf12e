/**
 * What /healthz watches: the reconcile loop itself, not a separate timer. The loop reports when a reconcile
 * begins and, when it ends, when the next one is due; liveness then fails when a reconcile has run (or
 * waited for its turn) too long, or when the loop is overdue and has not begun the next one. A loop that
 * hangs on a call that never returns (an API server that went silent with no request timeout) is then
 * restarted by the kubelet.
 */
import type { Clock } from "../domain/clock.ts";

/** Where the reconcile loop stands. Times are epoch ms. */
export type LoopState =
  /** No loop runs here: a standby, or a replica that has not started leading. Nothing to watch. */
  | { kind: "idle"; reason: string }
  /** A reconcile began at `since` and has not returned. */
  | { kind: "reconciling"; since: number }
  /** The loop sleeps; it should begin its next reconcile by `dueAt` (or sooner, when woken). */
  | { kind: "waiting"; dueAt: number };

export class LoopWatch {
  readonly #clock: Clock;
  #state: LoopState = { kind: "idle", reason: "not leading" };

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  get state(): LoopState {
    return this.#state;
  }

  /** The loop begins a reconcile (including waiting for its turn with the notice intake). */
  begin(): void {
    this.#state = { kind: "reconciling", since: this.#clock.now() };
  }

  /** The reconcile returned (or failed); the next is due at `dueAt`. */
  end(dueAt: number): void {
    this.#state = { kind: "waiting", dueAt };
  }

  /** The loop stopped (leadership lost, shutting down). */
  stop(reason: string): void {
    this.#state = { kind: "idle", reason };
  }
}
