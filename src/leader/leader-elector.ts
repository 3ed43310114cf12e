import type { CoordinationV1Api, V1Lease } from "@kubernetes/client-node";
import type { Clock } from "../domain/clock.ts";
import { statusOf } from "../actuators/kube/errors.ts";
import { NotLeaderError, type LeaseFence } from "./fence.ts";
import { errorMessage } from "../domain/error-message.ts";

export interface LeaderElectionOptions {
  namespace: string;
  leaseName: string;
  identity: string;
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
}

export interface LeaderCallbacks {
  onStartedLeading: (signal: AbortSignal) => void;
  onStoppedLeading: () => void;
  onNewLeader?: (identity: string) => void;
}

interface LeaderLogger {
  info: (obj: object, msg: string) => void;
  warn: (obj: object, msg: string) => void;
}

/** The decision of one election round, with its reason (logged when it changes). */
export type ElectionDecision =
  | { kind: "acquire"; reason: string }
  | { kind: "renew"; reason: string }
  | { kind: "standby"; holder: string; reason: string };

/**
 * Pure: what to do with the lease as read. A lease held by another identity counts as expired only when its
 * record has not changed for leaseDuration as observed on *our* clock (like client-go), so clock skew between
 * replicas cannot make two leaders.
 */
export function decide(
  lease: V1Lease | null,
  identity: string,
  observedChangeAt: number,
  now: number,
  leaseDurationMs: number,
): ElectionDecision {
  const holder = lease?.spec?.holderIdentity ?? "";
  if (lease === null) return { kind: "acquire", reason: "no lease exists yet" };
  if (holder === identity) return { kind: "renew", reason: "we hold the lease" };
  if (holder === "") return { kind: "acquire", reason: "the lease was released" };
  if (now - observedChangeAt >= leaseDurationMs) {
    return {
      kind: "acquire",
      reason: `holder ${holder} has not renewed for ${Math.round((now - observedChangeAt) / 1000)} s`,
    };
  }
  return { kind: "standby", holder, reason: `${holder} holds the lease` };
}

/**
 * Lease-based leader election (coordination.k8s.io/v1), the same protocol as client-go's leaderelection:
 * acquire or renew every retryPeriod; a leader that cannot renew within renewDeadline steps down (its work
 * is aborted through the AbortSignal handed to onStartedLeading).
 */
export class LeaderElector implements LeaseFence {
  readonly #api: CoordinationV1Api;
  readonly #opts: LeaderElectionOptions;
  readonly #clock: Clock;
  readonly #log: LeaderLogger;
  #leading: AbortController | null = null;
  #lastRecord = "";
  #observedChangeAt = 0;
  #lastRenewAt = 0;
  #lastHolder = "";

  constructor(api: CoordinationV1Api, opts: LeaderElectionOptions, clock: Clock, log: LeaderLogger) {
    this.#api = api;
    this.#opts = opts;
    this.#clock = clock;
    this.#log = log;
  }

  get isLeader(): boolean {
    return this.#leading !== null;
  }

  /**
   * The fence (./fence.ts): throws NotLeaderError unless we lead and renewed the lease less than
   * renewDeadline ago (measured from when the successful renewal was sent, on our clock). Called before
   * every write, so a leader that cannot renew stops writing at renewDeadline, leaseDuration - renewDeadline
   * before a standby may take over, even while a reconcile is in flight.
   */
  assertHeld(action: string): void {
    if (this.#leading === null) throw new NotLeaderError(`not the leader: refusing ${action}`);
    const age = this.#clock.now() - this.#lastRenewAt;
    if (age >= this.#opts.renewDeadlineSeconds * 1000)
      throw new NotLeaderError(
        `lease last renewed ${Math.round(age / 100) / 10} s ago (renew deadline ${this.#opts.renewDeadlineSeconds} s): refusing ${action}`,
      );
  }

  /** Runs until `signal` aborts; then releases the lease if held, so a standby takes over at once. */
  async run(callbacks: LeaderCallbacks, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.#round(callbacks);
      await this.#clock.sleep(this.#opts.retryPeriodSeconds * 1000, signal).catch(() => undefined);
    }
    if (this.#leading !== null) {
      this.#stepDown(callbacks, "shutting down");
      await this.#release();
    }
  }

  async #round(callbacks: LeaderCallbacks): Promise<void> {
    const now = this.#clock.now();
    let lease: V1Lease | null;
    try {
      lease = await this.#api.readNamespacedLease({
        name: this.#opts.leaseName,
        namespace: this.#opts.namespace,
      });
    } catch (err) {
      if (statusOf(err) === 404) lease = null;
      else {
        this.#onFailure(callbacks, now, err);
        return;
      }
    }
    const record = JSON.stringify(lease?.spec ?? null);
    if (record !== this.#lastRecord) {
      this.#lastRecord = record;
      this.#observedChangeAt = now;
    }
    const decision = decide(
      lease,
      this.#opts.identity,
      this.#observedChangeAt,
      now,
      this.#opts.leaseDurationSeconds * 1000,
    );
    if (decision.kind === "standby") {
      if (this.#leading !== null) this.#stepDown(callbacks, decision.reason);
      if (decision.holder !== this.#lastHolder) {
        this.#lastHolder = decision.holder;
        this.#log.info({ holder: decision.holder }, `standby: ${decision.reason}`);
        callbacks.onNewLeader?.(decision.holder);
      }
      return;
    }
    try {
      await this.#write(lease, now, decision.kind === "acquire");
      this.#lastRenewAt = now;
      if (this.#leading === null) {
        this.#leading = new AbortController();
        this.#lastHolder = this.#opts.identity;
        this.#log.info({ identity: this.#opts.identity }, `became leader: ${decision.reason}`);
        callbacks.onStartedLeading(this.#leading.signal);
      }
    } catch (err) {
      this.#onFailure(callbacks, now, err);
    }
  }

  #onFailure(callbacks: LeaderCallbacks, now: number, err: unknown): void {
    const message = errorMessage(err);
    if (this.#leading !== null && now - this.#lastRenewAt >= this.#opts.renewDeadlineSeconds * 1000) {
      this.#stepDown(
        callbacks,
        `could not renew the lease within ${this.#opts.renewDeadlineSeconds} s: ${message}`,
      );
    } else {
      this.#log.warn({ err: message }, "leader election round failed; retrying");
    }
  }

  #stepDown(callbacks: LeaderCallbacks, reason: string): void {
    this.#log.warn({ identity: this.#opts.identity }, `stopped leading: ${reason}`);
    this.#leading?.abort(new Error(`lost leadership: ${reason}`));
    this.#leading = null;
    callbacks.onStoppedLeading();
  }

  async #write(lease: V1Lease | null, now: number, acquire: boolean): Promise<void> {
    const nowTime = new MicroTime(now);
    const spec = {
      holderIdentity: this.#opts.identity,
      leaseDurationSeconds: this.#opts.leaseDurationSeconds,
      renewTime: nowTime,
      acquireTime: acquire ? nowTime : (lease?.spec?.acquireTime ?? nowTime),
      leaseTransitions: (lease?.spec?.leaseTransitions ?? 0) + (acquire && lease !== null ? 1 : 0),
    };
    const { namespace, leaseName: name } = this.#opts;
    if (lease === null) {
      await this.#api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec } });
    } else {
      // replace with the read resourceVersion: a concurrent writer makes this fail with 409 (optimistic lock).
      await this.#api.replaceNamespacedLease({
        name,
        namespace,
        body: { metadata: { ...lease.metadata }, spec },
      });
    }
    this.#lastRecord = JSON.stringify(spec);
    this.#observedChangeAt = now;
  }

  async #release(): Promise<void> {
    try {
      const lease = await this.#api.readNamespacedLease({
        name: this.#opts.leaseName,
        namespace: this.#opts.namespace,
      });
      if (lease.spec?.holderIdentity !== this.#opts.identity) return;
      await this.#api.replaceNamespacedLease({
        name: this.#opts.leaseName,
        namespace: this.#opts.namespace,
        body: {
          metadata: { ...lease.metadata },
          spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1 },
        },
      });
    } catch (err) {
      this.#log.warn({ err: errorMessage(err) }, "could not release the lease");
    }
  }
}

/**
 * A Lease's renewTime and acquireTime are MicroTime: the API server parses them with six fractional digits
 * and refuses the three that Date#toISOString writes ("cannot parse .790Z as .000000"). client-node
 * serializes a Date with toISOString, so this Date writes microseconds.
 */
export class MicroTime extends Date {
  override toISOString(): string {
    return super.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
  }
}
