/**
 * Watches the instance metadata service of the node it runs on (IMDSv2) for a spot interruption notice and a
 * rebalance recommendation, and turns them into notices. For a DaemonSet mode, and for clusters without the
 * EventBridge -> SQS wiring.
 *
 * - `PUT /latest/api/token` (header `X-aws-ec2-metadata-token-ttl-seconds`) first; the token goes in
 *   `X-aws-ec2-metadata-token` on every GET, and is renewed before it expires or after a 401.
 * - `GET /latest/meta-data/spot/instance-action`: 404 until EC2 schedules the interruption, then
 *   `{"action":"terminate"|"stop"|"hibernate","time":"<RFC 3339>"}` -> `spot-interruption` with deadline `time`.
 * - `GET /latest/meta-data/events/recommendations/rebalance`: 404, or `{"noticeTime":"<RFC 3339>"}` ->
 *   `rebalance-recommendation` without deadline.
 * - `GET /latest/meta-data/events/maintenance/scheduled`: a JSON array of scheduled events (`Code`, `State`,
 *   `EventId`, `NotBefore` as "21 Jan 2019 09:00:43 GMT", ...) -> one `scheduled-change` notice per `active` event,
 *   deadline `NotBefore` (completed and canceled events are ignored).
 * - `GET /latest/meta-data/autoscaling/target-lifecycle-state`: 404 outside an Auto Scaling group, else a word;
 *   `Terminated` -> `asg-lifecycle-terminate`, deadline now + `asgTerminateDeadlineSeconds` (IMDS does not say
 *   whether a lifecycle hook holds the instance, nor for how long).
 * Notice ids are a hash of the payload (scheduled events: their EventId and start), so the same payload polled again
 * is the same notice; the agent hands each id to `onNotice` until it succeeds once. Polls every 5 s by default (EC2
 * User Guide's advice).
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { Clock } from "../../domain/clock.ts";
import { scheduledChangeKind, type Notice } from "../../domain/notice.ts";
import type { SignalLogger } from "../logger.ts";
import { errorMessage } from "../../domain/error-message.ts";

export interface ImdsAgentOptions {
  /** Base URL of the metadata service. Default `http://169.254.169.254`. */
  endpoint?: string;
  /** Default 5000. */
  pollIntervalMs?: number;
  /** Lifetime asked for the IMDSv2 token, seconds. Default 21600 (the maximum). */
  tokenTtlSeconds?: number;
  /** Per-request timeout, ms. Default 2000. */
  requestTimeoutMs?: number;
  /** The instance to name in notices; read from `/latest/meta-data/instance-id` when absent. */
  instanceId?: string;
  /**
   * Deadline of an ASG terminate notice, seconds after the poll that saw `Terminated`. Default 0: without a terminate
   * lifecycle hook the instance goes at once; with one, set the hook's heartbeat timeout.
   */
  asgTerminateDeadlineSeconds?: number;
  /** Called after every poll in `run`, with what it found or why it failed. For metrics and tests. */
  onPoll?: (result: { notices: Notice[] } | { error: unknown }) => void;
}

const spotAction = z.object({ action: z.enum(["terminate", "stop", "hibernate"]), time: z.string() });
const rebalance = z.object({ noticeTime: z.string() });
const scheduledEvents = z.array(
  z.object({
    Code: z.string(),
    State: z.string(),
    EventId: z.string(),
    NotBefore: z.string(),
    Description: z.string().optional(),
  }),
);

export const SPOT_ACTION_PATH = "/latest/meta-data/spot/instance-action";
export const REBALANCE_PATH = "/latest/meta-data/events/recommendations/rebalance";
export const SCHEDULED_EVENTS_PATH = "/latest/meta-data/events/maintenance/scheduled";
export const TARGET_LIFECYCLE_STATE_PATH = "/latest/meta-data/autoscaling/target-lifecycle-state";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** IMDS scheduled-event times: "21 Jan 2019 09:00:43 GMT" (day without leading zero). Null when not that shape. */
export function parseImdsEventTime(text: string): number | null {
  const m = /^(\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/.exec(text.trim());
  if (m === null) return null;
  const month = MONTHS.indexOf(m[2] ?? "");
  if (month < 0) return null;
  const ms = Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(ms) ? null : ms;
}

export class ImdsRequestError extends Error {
  override readonly name = "ImdsRequestError";
  readonly path: string;
  readonly status: number | undefined;
  constructor(path: string, status: number | undefined, detail: string) {
    super(`IMDS ${path}: ${detail}`);
    this.path = path;
    this.status = status;
  }
}

export class ImdsAgent {
  readonly #endpoint: string;
  readonly #pollMs: number;
  readonly #ttlS: number;
  readonly #timeoutMs: number;
  readonly #clock: Clock;
  readonly #log: SignalLogger;
  #instanceId: string | undefined;
  readonly #onPoll: ImdsAgentOptions["onPoll"];
  readonly #asgDeadlineMs: number;
  #token: { value: string; renewAt: number } | undefined;

  constructor(options: ImdsAgentOptions, clock: Clock, logger: SignalLogger) {
    this.#endpoint = (options.endpoint ?? "http://169.254.169.254").replace(/\/$/, "");
    this.#pollMs = options.pollIntervalMs ?? 5000;
    this.#ttlS = options.tokenTtlSeconds ?? 21_600;
    this.#timeoutMs = options.requestTimeoutMs ?? 2000;
    this.#instanceId = options.instanceId;
    this.#onPoll = options.onPoll;
    this.#asgDeadlineMs = (options.asgTerminateDeadlineSeconds ?? 0) * 1000;
    this.#clock = clock;
    this.#log = logger;
  }

  /** Polls until `signal` aborts. Never rejects; failed polls and failed handlers are logged and retried next poll. */
  async run(onNotice: (n: Notice) => Promise<void>, signal: AbortSignal): Promise<void> {
    const delivered = new Set<string>();
    while (!signal.aborted) {
      try {
        const notices = await this.pollOnce(signal);
        this.#onPoll?.({ notices });
        for (const notice of notices) {
          if (delivered.has(notice.id)) continue;
          try {
            await onNotice(notice);
            delivered.add(notice.id);
          } catch (err) {
            this.#log.error(
              { noticeId: notice.id, err: String(err) },
              "imds notice handler failed; retrying on next poll",
            );
          }
        }
      } catch (err) {
        if (signal.aborted) break;
        this.#onPoll?.({ error: err });
        this.#log.warn({ err: String(err) }, "imds poll failed");
      }
      try {
        await this.#clock.sleep(this.#pollMs, signal);
      } catch {
        break;
      }
    }
  }

  /** One round: the notices the metadata service shows right now (possibly none). */
  async pollOnce(signal?: AbortSignal): Promise<Notice[]> {
    const instanceId =
      this.#instanceId ??
      (this.#instanceId = (await this.#get("/latest/meta-data/instance-id", signal)) ?? undefined);
    if (instanceId === undefined)
      throw new ImdsRequestError("/latest/meta-data/instance-id", 404, "no instance id");
    const out: Notice[] = [];
    const rec = await this.#get(REBALANCE_PATH, signal);
    if (rec !== null) {
      const n = this.#rebalanceNotice(rec, instanceId);
      if (n !== null) out.push(n);
    }
    const scheduled = await this.#get(SCHEDULED_EVENTS_PATH, signal);
    if (scheduled !== null) out.push(...this.#scheduledNotices(scheduled, instanceId));
    const lifecycle = await this.#get(TARGET_LIFECYCLE_STATE_PATH, signal);
    if (lifecycle !== null) {
      const n = this.#lifecycleNotice(lifecycle, instanceId);
      if (n !== null) out.push(n);
    }
    const spot = await this.#get(SPOT_ACTION_PATH, signal);
    if (spot !== null) {
      const n = this.#spotNotice(spot, instanceId);
      if (n !== null) out.push(n);
    }
    return out;
  }

  #scheduledNotices(payload: string, instanceId: string): Notice[] {
    const parsed = scheduledEvents.safeParse(parseJson(payload));
    if (!parsed.success) {
      this.#log.warn({ payload }, "imds scheduled events payload is not a list of events; ignored");
      return [];
    }
    const out: Notice[] = [];
    for (const e of parsed.data) {
      if (e.State.toLowerCase() !== "active") continue;
      const deadline = parseImdsEventTime(e.NotBefore);
      if (deadline === null) {
        this.#log.warn({ event: e }, "imds scheduled event NotBefore is not a time; ignored");
        continue;
      }
      out.push({
        id: `imds-scheduled/${e.EventId}/${hash(e.NotBefore)}`,
        kind: "scheduled-change",
        source: "imds",
        target: { kind: "instance", instanceId },
        issuedAt: this.#clock.now(),
        deadline,
        scheduledChange: scheduledChangeKind(e.Code),
        summary: `scheduled event ${e.EventId} (IMDS): ${e.Code} of ${instanceId} not before ${new Date(deadline).toISOString()}`,
      });
    }
    return out;
  }

  #lifecycleNotice(payload: string, instanceId: string): Notice | null {
    if (payload.trim() !== "Terminated") return null;
    const now = this.#clock.now();
    return {
      id: `imds-asg-terminate/${instanceId}`,
      kind: "asg-lifecycle-terminate",
      source: "imds",
      target: { kind: "instance", instanceId },
      issuedAt: now,
      deadline: now + this.#asgDeadlineMs,
      summary: `Auto Scaling target lifecycle state (IMDS): ${instanceId} is being terminated`,
    };
  }

  #spotNotice(payload: string, instanceId: string): Notice | null {
    const parsed = spotAction.safeParse(parseJson(payload));
    const deadline = parsed.success ? Date.parse(parsed.data.time) : NaN;
    if (!parsed.success || Number.isNaN(deadline)) {
      this.#log.warn({ payload }, "imds spot/instance-action payload is not {action, time}; ignored");
      return null;
    }
    return {
      id: `imds-spot/${hash(payload)}`,
      kind: "spot-interruption",
      source: "imds",
      target: { kind: "instance", instanceId },
      issuedAt: this.#clock.now(),
      deadline,
      summary: `spot interruption notice (IMDS): ${instanceId} will ${parsed.data.action} at ${new Date(deadline).toISOString()}`,
    };
  }

  #rebalanceNotice(payload: string, instanceId: string): Notice | null {
    const parsed = rebalance.safeParse(parseJson(payload));
    const at = parsed.success ? Date.parse(parsed.data.noticeTime) : NaN;
    if (Number.isNaN(at)) {
      this.#log.warn({ payload }, "imds rebalance payload is not {noticeTime}; ignored");
      return null;
    }
    return {
      id: `imds-rebalance/${hash(payload)}`,
      kind: "rebalance-recommendation",
      source: "imds",
      target: { kind: "instance", instanceId },
      issuedAt: at,
      deadline: null,
      summary: `rebalance recommendation (IMDS): ${instanceId} is at elevated risk of interruption`,
    };
  }

  /** GET with the session token; null on 404. */
  async #get(path: string, signal: AbortSignal | undefined, retried = false): Promise<string | null> {
    const token = await this.#sessionToken(signal);
    const res = await this.#fetch(
      path,
      { method: "GET", headers: { "X-aws-ec2-metadata-token": token } },
      signal,
    );
    if (res.status === 404) return null;
    if (res.status === 401 && !retried) {
      this.#token = undefined;
      return this.#get(path, signal, true);
    }
    if (!res.ok) throw new ImdsRequestError(path, res.status, `HTTP ${res.status}`);
    return res.text;
  }

  async #sessionToken(signal: AbortSignal | undefined): Promise<string> {
    if (this.#token !== undefined && this.#clock.now() < this.#token.renewAt) return this.#token.value;
    const path = "/latest/api/token";
    const res = await this.#fetch(
      path,
      { method: "PUT", headers: { "X-aws-ec2-metadata-token-ttl-seconds": String(this.#ttlS) } },
      signal,
    );
    if (!res.ok) throw new ImdsRequestError(path, res.status, `token request answered HTTP ${res.status}`);
    // Renew a minute early (or at half-life for short TTLs) so a token never expires mid-poll.
    this.#token = {
      value: res.text,
      renewAt: this.#clock.now() + Math.max(this.#ttlS * 500, (this.#ttlS - 60) * 1000),
    };
    return res.text;
  }

  async #fetch(
    path: string,
    init: RequestInit,
    signal: AbortSignal | undefined,
  ): Promise<{ status: number; ok: boolean; text: string }> {
    const timeout = new AbortController();
    const stopTimer = new AbortController();
    void this.#clock.sleep(this.#timeoutMs, stopTimer.signal).then(
      () => {
        timeout.abort(new ImdsRequestError(path, undefined, `no answer within ${this.#timeoutMs} ms`));
      },
      () => undefined,
    );
    try {
      const combined = signal === undefined ? timeout.signal : AbortSignal.any([signal, timeout.signal]);
      const res = await fetch(`${this.#endpoint}${path}`, { ...init, signal: combined });
      return { status: res.status, ok: res.ok, text: await res.text() };
    } catch (err) {
      if (err instanceof ImdsRequestError) throw err;
      throw new ImdsRequestError(path, undefined, errorMessage(err));
    } finally {
      stopTimer.abort();
    }
  }
}

function hash(payload: string): string {
  return createHash("sha256").update(payload).digest("hex").slice(0, 16);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
