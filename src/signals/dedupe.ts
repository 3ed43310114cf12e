/**
 * Collapses duplicate notices: SQS redelivers a message whose delete was lost, IMDS repeats the same payload every
 * poll, and one interruption can reach us twice (EventBridge and IMDS, or two events naming the same instance).
 *
 * Two notices are duplicates when they have the same id, or the same target and kind and deadlines within
 * `deadlineToleranceMs` of each other (both null counts as equal). Entries expire `ttlMs` after they were remembered.
 * Only notices whose handling succeeded should be remembered (see `wrap`), so a failed first attempt never hides
 * the retry. This is a fast path: the evacuation record in the cluster remains the source of truth.
 */
import type { Clock } from "../domain/clock.ts";
import type { Notice, NoticeTarget } from "../domain/notice.ts";

export interface DedupeOptions {
  /** How long a handled notice is remembered, ms. Default 15 minutes (longer than SQS's usual redelivery cycle). */
  ttlMs?: number;
  /** Deadlines this close (ms) are the same interruption. Default 10 s (EventBridge and IMDS disagree by seconds). */
  deadlineToleranceMs?: number;
}

interface Entry {
  notice: Notice;
  expiresAt: number;
}

export class NoticeDeduper {
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #toleranceMs: number;
  readonly #byId = new Map<string, Entry>();
  /** Keyed by target + kind: the remembered notices for that pair. */
  readonly #byTargetKind = new Map<string, Entry[]>();

  constructor(clock: Clock, options: DedupeOptions = {}) {
    this.#clock = clock;
    this.#ttlMs = options.ttlMs ?? 15 * 60_000;
    this.#toleranceMs = options.deadlineToleranceMs ?? 10_000;
  }

  /** Why `notice` duplicates one already remembered, or null when it is new. */
  duplicateOf(notice: Notice): string | null {
    this.#expire();
    const same = this.#byId.get(notice.id);
    if (same !== undefined) return `same notice id ${notice.id} already handled`;
    for (const e of this.#byTargetKind.get(targetKindKey(notice)) ?? []) {
      if (this.#sameDeadline(e.notice.deadline, notice.deadline)) {
        return `${notice.kind} for ${describeTarget(notice.target)} with deadline ${describeDeadline(notice.deadline)} already handled as ${e.notice.id}`;
      }
    }
    return null;
  }

  remember(notice: Notice): void {
    const entry: Entry = { notice, expiresAt: this.#clock.now() + this.#ttlMs };
    this.#byId.set(notice.id, entry);
    const k = targetKindKey(notice);
    this.#byTargetKind.set(k, [...(this.#byTargetKind.get(k) ?? []), entry]);
  }

  /** How many notices are remembered now. */
  get size(): number {
    this.#expire();
    return this.#byId.size;
  }

  /**
   * A handler that skips duplicates (calling `onDuplicate` with the reason, and resolving so the message is deleted)
   * and remembers a notice only after `handler` resolved for it.
   */
  wrap(
    handler: (n: Notice) => Promise<void>,
    onDuplicate: (n: Notice, reason: string) => void = () => undefined,
  ): (n: Notice) => Promise<void> {
    return async (notice) => {
      const reason = this.duplicateOf(notice);
      if (reason !== null) {
        onDuplicate(notice, reason);
        return;
      }
      await handler(notice);
      this.remember(notice);
    };
  }

  #sameDeadline(a: number | null, b: number | null): boolean {
    if (a === null || b === null) return a === b;
    return Math.abs(a - b) <= this.#toleranceMs;
  }

  #expire(): void {
    const now = this.#clock.now();
    for (const [id, e] of this.#byId) if (e.expiresAt <= now) this.#byId.delete(id);
    for (const [k, list] of this.#byTargetKind) {
      const live = list.filter((e) => e.expiresAt > now);
      if (live.length === 0) this.#byTargetKind.delete(k);
      else if (live.length !== list.length) this.#byTargetKind.set(k, live);
    }
  }
}

function targetKindKey(n: Notice): string {
  return `${describeTarget(n.target)}|${n.kind}`;
}

function describeTarget(t: NoticeTarget): string {
  return t.kind === "instance" ? `instance ${t.instanceId}` : `node ${t.nodeName}`;
}

function describeDeadline(d: number | null): string {
  return d === null ? "none" : new Date(d).toISOString();
}
