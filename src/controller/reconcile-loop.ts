/**
 * The leader's reconcile loop: reconcile, then sleep until the next review is due, the interval passes, or
 * something wakes it (a notice recorded, a cluster change while evacuations are active). Each pass is
 * counted (lifeboat_reconciles_total) once its writes are done, so that a test can wait for "N more passes"
 * instead of sleeping.
 */
import type { Clock } from "../domain/clock.ts";
import { errorMessage } from "../domain/error-message.ts";
import { isActive } from "../domain/evacuation.ts";
import type { ReconcileResult } from "../executor/reconciler.ts";
import type { LoopWatch } from "../observability/loop-watch.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";

/** Quiet time after the latest notice before planning (batches notices that arrive together). */
const NOTICE_SETTLE_MS = 150;
/** Longest wait after the first notice of a batch before planning anyway. */
const NOTICE_SETTLE_MAX_MS = 1_000;
/** After a pass during which something woke the loop, a burst of changes settles this long. */
const BURST_SETTLE_MS = 100;
/** The shortest wait after a failed pass. */
const FAILED_RETRY_MS = 1_000;

export interface ReconcileLoopDeps {
  clock: Clock;
  intervalSeconds: number;
  /** One reconcile, taking its turn with the notice intake (serial.ts). */
  reconcile: () => Promise<ReconcileResult>;
  /** What /healthz watches. */
  watch: LoopWatch;
  log: Logger;
  metrics: Metrics;
}

export class ReconcileLoop {
  readonly #deps: ReconcileLoopDeps;
  #activeEvacuations = 0;
  #dirty = false;
  #waker: AbortController | null = null;
  /** When the latest / the first not yet planned notice was recorded: notices that come together are planned together. */
  #lastNoticeAt: number | null = null;
  #firstUnplannedNoticeAt: number | null = null;

  constructor(deps: ReconcileLoopDeps) {
    this.#deps = deps;
  }

  /** Asks for a reconcile as soon as possible. */
  wake(): void {
    this.#dirty = true;
    this.#waker?.abort();
  }

  /** The intake recorded an evacuation: plan it soon, together with any notice that follows closely. */
  noticeRecorded(): void {
    this.#activeEvacuations++;
    this.#lastNoticeAt = this.#deps.clock.now();
    this.#firstUnplannedNoticeAt ??= this.#lastNoticeAt;
    this.wake();
  }

  /** The cluster changed: only an active evacuation can care. */
  clusterChanged(): void {
    if (this.#activeEvacuations > 0) this.wake();
  }

  async run(signal: AbortSignal): Promise<void> {
    const { clock, watch } = this.#deps;
    while (!signal.aborted) {
      watch.begin();
      await this.#settleNotices(signal);
      this.#dirty = false;
      const next = await this.#pass();
      if (this.#dirty) {
        // Let a burst of changes settle briefly, then plan again.
        watch.end(clock.now() + BURST_SETTLE_MS);
        await clock.sleep(BURST_SETTLE_MS, signal).catch(() => undefined);
        continue;
      }
      watch.end(next);
      this.#waker = new AbortController();
      await clock
        .sleep(Math.max(0, next - clock.now()), AbortSignal.any([signal, this.#waker.signal]))
        .catch(() => undefined);
      this.#waker = null;
    }
    watch.stop("stopped leading");
  }

  /** One reconcile; returns when the next is due. */
  async #pass(): Promise<number> {
    const { clock, log, metrics } = this.#deps;
    const interval = this.#deps.intervalSeconds * 1000;
    const now = clock.now();
    try {
      const result = await this.#deps.reconcile();
      this.#activeEvacuations = result.evacuations.filter(isActive).length;
      const phases: Record<string, number> = {};
      for (const e of result.evacuations) phases[e.phase] = (phases[e.phase] ?? 0) + 1;
      metrics.setEvacuationPhases(phases);
      metrics.reconciled("ok");
      return result.nextReviewAt === null ? now + interval : Math.min(now + interval, result.nextReviewAt);
    } catch (err) {
      log.error({ err: errorMessage(err) }, "reconcile failed; retrying");
      metrics.reconciled("failed");
      return now + Math.max(interval, FAILED_RETRY_MS);
    }
  }

  /**
   * Notices that arrive together (an AZ-wide reclaim: many messages in one SQS receive) are planned together,
   * so every affected node is cordoned before any surge and each workload is surged once: wait until no
   * new notice came for NOTICE_SETTLE_MS, at most NOTICE_SETTLE_MAX_MS after the first.
   */
  async #settleNotices(signal: AbortSignal): Promise<void> {
    const { clock } = this.#deps;
    while (this.#lastNoticeAt !== null && this.#firstUnplannedNoticeAt !== null && !signal.aborted) {
      const quietAt = this.#lastNoticeAt + NOTICE_SETTLE_MS;
      const capAt = this.#firstUnplannedNoticeAt + NOTICE_SETTLE_MAX_MS;
      const until = Math.min(quietAt, capAt);
      if (clock.now() >= until) break;
      await clock.sleep(until - clock.now(), signal).catch(() => undefined);
    }
    this.#firstUnplannedNoticeAt = null;
  }
}
