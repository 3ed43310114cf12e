/**
 * Sends the chaos bench's junk into the queue as it drains. moto keeps a queue's messages in a list and scans
 * it on every receive and delete: with 3,000 messages waiting it serves about 6 receive+delete per second,
 * with 100 about 120. The junk is therefore sent as the queue drains (at most JUNK_MAX_BACKLOG waiting), so
 * that what is measured is lifeboat, not moto's scan.
 */
import {
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { setTimeout as sleep } from "node:timers/promises";
import { junkBody, pickJunk, randomInstanceId, SQS_MAX_BYTES, type JunkKind } from "./junk-bodies.ts";
import type { Random } from "./random.ts";

const JUNK_MAX_BACKLOG = 200;
const JUNK_BACKLOG_CHECK_EVERY = 50;
/** Sends in flight at most: moto answers each slowly on a loaded machine, but in parallel. */
const MAX_INFLIGHT = 8;

export interface JunkOptions {
  sqs: SQSClient;
  queueUrl: string;
  rng: Random;
  count: number;
  /** Instances reclaimed earlier in the run (duplicates and replays are of these). */
  reclaimed: readonly string[];
  /** Instances of live nodes. */
  live: readonly string[];
  /** performance.now() to stop sending at. */
  deadline: number;
}

/** Sends `count` junk bodies (batches of 10; the 256 KiB ones alone). Returns how many of each kind. */
export async function sendJunk(o: JunkOptions): Promise<Map<JunkKind, number>> {
  const sender = new JunkSender(o.sqs, o.queueUrl);
  const instances = o.reclaimed.length > 0 ? o.reclaimed : [randomInstanceId(o.rng)];
  for (let i = 0; i < o.count && performance.now() < o.deadline; i++) {
    if (i % JUNK_BACKLOG_CHECK_EVERY === 0)
      await backlogBelow(o.sqs, o.queueUrl, JUNK_MAX_BACKLOG, o.deadline);
    const kind = pickJunk(o.rng);
    if (kind === "state-change replayed before its warning" && i + 1 < o.count) {
      // Reordered: the instance's terminated notice first, then its warning again, back to back.
      const instance = o.rng.pick(instances);
      await sender.add(kind, junkBody(o.rng, kind, [instance], o.live, new Date()));
      const again = "duplicate warning (node already reclaimed)";
      await sender.add(again, junkBody(o.rng, again, [instance], o.live, new Date()));
      i++;
      continue;
    }
    await sender.add(kind, junkBody(o.rng, kind, instances, o.live, new Date()));
  }
  await sender.flush();
  return sender.sent;
}

/** Messages in the queue, visible or in flight. */
export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return (
    Number(out.Attributes?.["ApproximateNumberOfMessages"] ?? NaN) +
    Number(out.Attributes?.["ApproximateNumberOfMessagesNotVisible"] ?? NaN)
  );
}

/** Waits until fewer than `max` messages are in the queue (visible or in flight), or `deadline`. */
async function backlogBelow(sqs: SQSClient, queueUrl: string, max: number, deadline: number): Promise<void> {
  while (performance.now() < deadline && (await queueDepth(sqs, queueUrl)) >= max) await sleep(250);
}

/** Batches bodies by ten and keeps up to MAX_INFLIGHT sends going; counts what was sent by kind. */
class JunkSender {
  readonly sent = new Map<JunkKind, number>();
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;
  readonly #inflight = new Set<Promise<void>>();
  #batch: { kind: JunkKind; body: string }[] = [];

  constructor(sqs: SQSClient, queueUrl: string) {
    this.#sqs = sqs;
    this.#queueUrl = queueUrl;
  }

  async add(kind: JunkKind, body: string): Promise<void> {
    if (Buffer.byteLength(body) > SQS_MAX_BYTES / 10) {
      await this.#submit(async () => {
        await this.#sqs.send(new SendMessageCommand({ QueueUrl: this.#queueUrl, MessageBody: body }));
        this.#count(kind);
      });
      return;
    }
    this.#batch.push({ kind, body });
    if (this.#batch.length === 10) await this.#flushBatch();
  }

  /** Sends what is batched and waits for every send in flight. */
  async flush(): Promise<void> {
    await this.#flushBatch();
    await Promise.all(this.#inflight);
  }

  async #flushBatch(): Promise<void> {
    if (this.#batch.length === 0) return;
    const mine = this.#batch;
    this.#batch = [];
    await this.#submit(async () => {
      const entries = mine.map((m, i) => ({ Id: String(i), MessageBody: m.body }));
      const out = await this.#sqs.send(
        new SendMessageBatchCommand({ QueueUrl: this.#queueUrl, Entries: entries }),
      );
      if ((out.Failed ?? []).length > 0)
        throw new Error(
          `SendMessageBatch refused ${out.Failed?.length} junk bodies: ${out.Failed?.[0]?.Message}`,
        );
      for (const m of mine) this.#count(m.kind);
    });
  }

  async #submit(call: () => Promise<void>): Promise<void> {
    const p = call().finally(() => this.#inflight.delete(p));
    this.#inflight.add(p);
    if (this.#inflight.size >= MAX_INFLIGHT) await Promise.race(this.#inflight);
  }

  #count(kind: JunkKind): void {
    this.sent.set(kind, (this.sent.get(kind) ?? 0) + 1);
  }
}
