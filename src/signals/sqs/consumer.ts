/**
 * Long-polls an SQS queue of EventBridge events and turns each message into notices for a handler.
 *
 * The one invariant: a message is deleted only after every notice in it was handled, and the handler resolves only
 * once the evacuation is durably recorded in the cluster. A crash anywhere between receive and that record leaves the
 * message in the queue, and SQS delivers it again after its visibility timeout. Everything else (malformed, unknown,
 * foreign-instance messages) is logged with its reason, counted, and deleted or kept by a policy; nothing stops the loop.
 *
 * A message received but not yet recorded is invisible to every other consumer (a standby that takes over after
 * this process is killed) until its visibility timeout ends, so that window is kept short: the loop receives only
 * when the handler is ready for more (`ready`: the controller's intake, once every notice received is past its
 * first act and only waits for its turn to be recorded), asks for a short
 * VisibilityTimeout on every receive, and extends it with ChangeMessageVisibility while a message is still being
 * handled (as long-running SQS consumers do).
 */
import type { Message, SQSClient } from "@aws-sdk/client-sqs";
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
} from "@aws-sdk/client-sqs";
import type { Clock } from "../../domain/clock.ts";
import type { Notice } from "../../domain/notice.ts";
import { isForeignInstanceError } from "../errors.ts";
import type { SignalLogger } from "../logger.ts";
import type { LabelledParseResult, MessageLabel, ParserOptions } from "./parsers/index.ts";
import { parseMessageBody } from "./parsers/index.ts";

/** What to do with a message we will not act on: delete it, or leave it so the queue's redrive policy moves it to the DLQ. */
export type MessagePolicy = "keep" | "delete";

/** How a message ended. */
export type Outcome =
  /** Every notice was handled (some may have been foreign with the `delete` policy). */
  | "handled"
  /** Understood and deliberately not acted on (test notification, `pending` state, other Health service). */
  | "ignored"
  | "malformed"
  | "unknown"
  /** Its instance(s) belong to no node of this cluster. */
  | "foreign"
  /** A handler failed: left for redelivery. */
  | "failed";

export type MessageAction = "deleted" | "kept" | "delete-failed";

export interface OutcomeDetail {
  messageId: string;
  action: MessageAction;
  reason: string;
  /** SQS ApproximateReceiveCount: 1 on first delivery. */
  receiveCount: number | undefined;
  noticeIds: string[];
}

export interface ConsumerHooks {
  /** Called once per received message, after it was deleted or kept. For metrics. */
  onOutcome?(kind: MessageLabel, outcome: Outcome, detail: OutcomeDetail): void;
  /** Called on every failed ReceiveMessage call (the loop backs off and retries). */
  onReceiveError?(error: unknown): void;
}

export interface SqsConsumerOptions {
  /** Long-poll wait per ReceiveMessage call, seconds (0..20). Default 20. */
  waitTimeSeconds?: number;
  /** Messages per ReceiveMessage call (1..10). Default 10. */
  maxMessages?: number;
  /** Messages handled at once; no new receive while this many are in flight. Default 10. */
  concurrency?: number;
  /**
   * Resolves when no notice waits for the handler (the intake). Awaited before every receive, so that messages
   * do not pile up, received and invisible, behind a busy intake. Default: always ready.
   */
  ready?: () => Promise<void>;
  /**
   * False in a dry run: no message is ever deleted (a dry run acts on none; they stay for a real controller
   * and come back after their visibility timeout). Default true.
   */
  deleteMessages?: boolean;
  /**
   * Visibility timeout requested on every receive, seconds: how long a received message stays hidden from other
   * consumers (and so how long a message reappears after this process dies holding it). While a message is still
   * being handled it is extended by as much again every half of it (ChangeMessageVisibility). Default 15.
   */
  visibilityTimeoutSeconds?: number;
  /** Malformed messages. Default `keep`: they go to the dead-letter queue through the queue's redrive policy. */
  malformed?: MessagePolicy;
  /** Well-formed messages of a kind we do not handle. Default `delete`. */
  unknown?: MessagePolicy;
  /** Messages whose instances belong to no node here (the handler threw ForeignInstanceError). Default `delete`. */
  foreign?: MessagePolicy;
  /** First back-off after a failed receive, ms; doubles up to `receiveBackoffMaxMs`. Default 1000. */
  receiveBackoffMs?: number;
  /** Default 30000. */
  receiveBackoffMaxMs?: number;
  parser?: ParserOptions;
  hooks?: ConsumerHooks;
}

/** Resolves once the notice's evacuation is durably recorded; throws ForeignInstanceError for an instance not ours. */
export type NoticeHandler = (notice: Notice) => Promise<void>;

export class SqsConsumer {
  readonly #client: SQSClient;
  readonly #queueUrl: string;
  readonly #clock: Clock;
  readonly #log: SignalLogger;
  readonly #opts: Required<
    Omit<SqsConsumerOptions, "visibilityTimeoutSeconds" | "parser" | "hooks" | "deleteMessages" | "ready">
  >;
  readonly #deleteMessages: boolean;
  readonly #visibility: number;
  readonly #ready: () => Promise<void>;
  readonly #parser: ParserOptions;
  readonly #hooks: ConsumerHooks;

  constructor(
    client: SQSClient,
    queueUrl: string,
    options: SqsConsumerOptions,
    clock: Clock,
    logger: SignalLogger,
  ) {
    this.#client = client;
    this.#queueUrl = queueUrl;
    this.#clock = clock;
    this.#log = logger;
    this.#opts = {
      waitTimeSeconds: options.waitTimeSeconds ?? 20,
      maxMessages: options.maxMessages ?? 10,
      concurrency: options.concurrency ?? 10,
      malformed: options.malformed ?? "keep",
      unknown: options.unknown ?? "delete",
      foreign: options.foreign ?? "delete",
      receiveBackoffMs: options.receiveBackoffMs ?? 1000,
      receiveBackoffMaxMs: options.receiveBackoffMaxMs ?? 30_000,
    };
    this.#visibility = options.visibilityTimeoutSeconds ?? DEFAULT_VISIBILITY_TIMEOUT_SECONDS;
    this.#ready = options.ready ?? (() => Promise.resolve());
    this.#deleteMessages = options.deleteMessages ?? true;
    this.#parser = options.parser ?? {};
    this.#hooks = options.hooks ?? {};
  }

  /**
   * Receives and handles messages until `signal` aborts, then waits for the messages in flight and resolves.
   * Never rejects: receive errors back off (on the Clock) and retry; message errors are outcomes.
   */
  async run(handler: NoticeHandler, signal: AbortSignal): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    let backoff = this.#opts.receiveBackoffMs;
    this.#log.info({ queueUrl: this.#queueUrl }, "sqs consumer started");
    while (!signal.aborted) {
      while (inFlight.size >= this.#opts.concurrency) await Promise.race(inFlight);
      // No prefetch past `ready`: a message received while the handler is busy would sit invisible to a standby.
      if (!(await untilReady(this.#ready, signal))) break;
      let messages: Message[];
      try {
        messages = await this.#receive(
          Math.min(this.#opts.maxMessages, this.#opts.concurrency - inFlight.size),
          signal,
        );
        backoff = this.#opts.receiveBackoffMs;
      } catch (err) {
        if (signal.aborted) break;
        this.#log.warn({ err: describeError(err), retryInMs: backoff }, "sqs receive failed; backing off");
        this.#hooks.onReceiveError?.(err);
        try {
          await this.#clock.sleep(backoff, signal);
        } catch {
          break;
        }
        backoff = Math.min(backoff * 2, this.#opts.receiveBackoffMaxMs);
        continue;
      }
      for (const message of messages) {
        const task: Promise<void> = this.processMessage(message, handler).then(
          () => undefined,
          (err: unknown) => {
            this.#log.error(
              { err: describeError(err), messageId: message.MessageId },
              "sqs message processing crashed",
            );
          },
        );
        inFlight.add(task);
        void task.finally(() => inFlight.delete(task));
      }
    }
    await Promise.allSettled(inFlight);
    this.#log.info({ queueUrl: this.#queueUrl }, "sqs consumer stopped");
  }

  async #receive(max: number, signal: AbortSignal): Promise<Message[]> {
    const out = await this.#client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.#queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: this.#opts.waitTimeSeconds,
        VisibilityTimeout: this.#visibility,
        MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
      }),
      { abortSignal: signal },
    );
    return out.Messages ?? [];
  }

  /** Parses one message, runs the handler on its notices, then deletes or keeps it. Resolves with the outcome. */
  async processMessage(
    message: Message,
    handler: NoticeHandler,
  ): Promise<{ outcome: Outcome; action: MessageAction }> {
    // Stamped at receipt, before any notice waits for the intake (a running reconcile).
    const receivedAt = this.#clock.now();
    const sentAt = Number(message.Attributes?.SentTimestamp);
    const read = parseMessageBody(message.Body, this.#parser);
    const parsed: LabelledParseResult =
      read.kind === "notices"
        ? {
            ...read,
            notices: read.notices.map((n) => ({
              ...n,
              receivedAt,
              ...(Number.isFinite(sentAt) && sentAt > 0 ? { sentAt } : {}),
            })),
          }
        : read;
    const decision = await this.#whileHeld(message, () => this.#decide(parsed, handler));
    const deleting = decision.delete && this.#deleteMessages;
    let action: MessageAction = deleting ? "deleted" : "kept";
    if (decision.delete && !deleting)
      this.#log.info(
        { dryRun: true, messageId: message.MessageId },
        `dry run: would delete message ${message.MessageId ?? ""} (${decision.reason}); left in the queue`,
      );
    if (deleting) {
      try {
        await this.#client.send(
          new DeleteMessageCommand({ QueueUrl: this.#queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
      } catch (err) {
        action = "delete-failed";
        this.#log.error(
          { err: describeError(err), messageId: message.MessageId },
          "sqs delete failed; the message will be delivered again (deduplicated downstream)",
        );
      }
    }
    const detail: OutcomeDetail = {
      messageId: message.MessageId ?? "",
      action,
      reason: decision.reason,
      receiveCount: receiveCount(message),
      noticeIds: parsed.kind === "notices" ? parsed.notices.map((n) => n.id) : [],
    };
    const fields = { ...detail, label: parsed.label, outcome: decision.outcome };
    const level =
      decision.outcome === "handled" || decision.outcome === "ignored"
        ? "info"
        : decision.outcome === "failed"
          ? "error"
          : "warn";
    this.#log[level](fields, `sqs message ${decision.outcome}, ${action}: ${decision.reason}`);
    this.#hooks.onOutcome?.(parsed.label, decision.outcome, detail);
    return { outcome: decision.outcome, action };
  }

  /**
   * Runs `work` while keeping `message` hidden: every half visibility timeout (on the clock) its visibility is
   * extended by a full one, so a message still being handled never reappears to another consumer, and one whose
   * holder died reappears within one visibility timeout.
   */
  async #whileHeld<T>(message: Message, work: () => Promise<T>): Promise<T> {
    const done = new AbortController();
    const everyMs = (this.#visibility * 1000) / 2;
    const extend = async (): Promise<void> => {
      for (;;) {
        try {
          await this.#clock.sleep(everyMs, done.signal);
        } catch {
          return;
        }
        if (done.signal.aborted) return;
        try {
          await this.#client.send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: this.#queueUrl,
              ReceiptHandle: message.ReceiptHandle,
              VisibilityTimeout: this.#visibility,
            }),
          );
          this.#log.debug(
            { messageId: message.MessageId, visibilityTimeoutSeconds: this.#visibility },
            "sqs message still being handled; visibility extended",
          );
        } catch (err) {
          this.#log.warn(
            { err: describeError(err), messageId: message.MessageId },
            "sqs visibility extension failed; the message may reappear while it is handled (deduplicated downstream)",
          );
        }
      }
    };
    const extending = extend();
    try {
      return await work();
    } finally {
      done.abort();
      await extending;
    }
  }

  async #decide(
    parsed: LabelledParseResult,
    handler: NoticeHandler,
  ): Promise<{ outcome: Outcome; delete: boolean; reason: string }> {
    switch (parsed.kind) {
      case "ignored":
        return { outcome: "ignored", delete: true, reason: parsed.reason };
      case "malformed":
        return {
          outcome: "malformed",
          delete: this.#opts.malformed === "delete",
          reason: `${parsed.reason} (policy: ${this.#opts.malformed})`,
        };
      case "unknown":
        return {
          outcome: "unknown",
          delete: this.#opts.unknown === "delete",
          reason: `${parsed.reason} (policy: ${this.#opts.unknown})`,
        };
      case "notices":
        return this.#handleAll(parsed.notices, handler);
    }
  }

  async #handleAll(
    notices: Notice[],
    handler: NoticeHandler,
  ): Promise<{ outcome: Outcome; delete: boolean; reason: string }> {
    const results = await Promise.allSettled(notices.map(async (n) => handler(n)));
    const failures: string[] = [];
    const foreign: string[] = [];
    results.forEach((r, i) => {
      if (r.status === "fulfilled") return;
      const id = notices[i]?.id ?? "?";
      if (isForeignInstanceError(r.reason)) foreign.push(`${id}: ${r.reason.message}`);
      else failures.push(`${id}: ${describeError(r.reason)}`);
    });
    if (failures.length > 0) {
      return {
        outcome: "failed",
        delete: false,
        reason: `handler failed, left for redelivery: ${failures.join("; ")}`,
      };
    }
    const policy = this.#opts.foreign;
    if (foreign.length === notices.length) {
      return {
        outcome: "foreign",
        delete: policy === "delete",
        reason: `${foreign.join("; ")} (policy: ${policy})`,
      };
    }
    if (foreign.length > 0 && policy === "keep") {
      return {
        outcome: "foreign",
        delete: false,
        reason: `${notices.length - foreign.length} handled, but ${foreign.join("; ")} (policy: keep)`,
      };
    }
    const handled = notices.length - foreign.length;
    const rest = foreign.length > 0 ? `; not ours: ${foreign.join("; ")}` : "";
    return { outcome: "handled", delete: true, reason: `${handled} notice(s) recorded${rest}` };
  }
}

/** Default visibility timeout on receive, seconds: a message held by a process that died reappears this soon. */
export const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 15;

/** Waits for `ready` unless `signal` aborts first; false when aborted. */
async function untilReady(ready: () => Promise<void>, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<false>((resolve) => {
    onAbort = () => {
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([ready().then(() => !signal.aborted), aborted]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
  }
}

function receiveCount(message: Message): number | undefined {
  const raw = message.Attributes?.ApproximateReceiveCount;
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}

function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
