/**
 * SQS against moto: the raw round trip the controller relies on, and the consumer's delete/keep rules end to end.
 * Waits poll real time with a bound; nothing asserts on durations.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { SQSClient } from "@aws-sdk/client-sqs";
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import { startMoto } from "../../lab/aws/moto.ts";
import { systemClock } from "../../src/domain/clock.ts";
import type { Notice } from "../../src/domain/notice.ts";
import { silentLogger } from "../../src/signals/logger.ts";
import type { NoticeHandler, Outcome, SqsConsumerOptions } from "../../src/signals/sqs/consumer.ts";
import { SqsConsumer } from "../../src/signals/sqs/consumer.ts";
import { waitUntil } from "../helpers/wait.ts";
import { spawn } from "node:child_process";
import { pathToFileURL } from "node:url";

/** Waits in this file: bounded and polled as before. */
const SQS_WAIT = { timeoutMs: 15_000, intervalMs: 50 };

const FIXTURES = join(import.meta.dirname, "../fixtures/events");

/** The real spot warning sample, re-dated to now so that it reads like a live event. */
function spotWarning(
  instanceId = "i-0b662ef9931388ba0",
  id = "1e5527d7-bb36-4607-3370-4164db56a40e",
): string {
  const event = JSON.parse(
    readFileSync(join(FIXTURES, "spot-interruption-warning.nth.json"), "utf8"),
  ) as Record<string, unknown>;
  return JSON.stringify({
    ...event,
    id,
    time: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    detail: { "instance-id": instanceId, "instance-action": "terminate" },
  });
}

async function createQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string> = {},
): Promise<string> {
  const out = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  assert.ok(out.QueueUrl);
  return out.QueueUrl;
}

async function depth(sqs: SQSClient, queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return {
    visible: Number(out.Attributes?.ApproximateNumberOfMessages ?? NaN),
    inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? NaN),
  };
}

interface Seen {
  label: string;
  outcome: Outcome;
  action: string;
  receiveCount: number | undefined;
}

/** Runs a consumer on the queue until the returned stop() is awaited. */
function runConsumer(
  sqs: SQSClient,
  queueUrl: string,
  handler: NoticeHandler,
  options: SqsConsumerOptions = {},
) {
  const outcomes: Seen[] = [];
  const ac = new AbortController();
  const consumer = new SqsConsumer(
    sqs,
    queueUrl,
    {
      waitTimeSeconds: 1,
      ...options,
      hooks: {
        onOutcome: (label, outcome, d) =>
          outcomes.push({ label, outcome, action: d.action, receiveCount: d.receiveCount }),
      },
    },
    systemClock,
    silentLogger,
  );
  const running = consumer.run(handler, ac.signal);
  return {
    outcomes,
    [Symbol.asyncDispose]: async () => {
      ac.abort();
      await running;
    },
  };
}

test("an EventBridge-shaped spot warning goes through moto SQS: send, long-poll receive, delete", async () => {
  await using moto = await startMoto();
  const sqs = moto.sqsClient();
  const queueUrl = await createQueue(sqs, "interruptions");
  const body = spotWarning();

  // The receive is already waiting (long poll) when the message is sent.
  const receiving = sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 10, MaxNumberOfMessages: 10 }),
  );
  await new Promise((r) => setTimeout(r, 300));
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  const received = await receiving;

  assert.equal(received.Messages?.length, 1);
  const [message] = received.Messages ?? [];
  assert.equal(message?.Body, body);
  assert.equal(
    (JSON.parse(message?.Body ?? "{}") as Record<string, unknown>)["detail-type"],
    "EC2 Spot Instance Interruption Warning",
  );
  await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message?.ReceiptHandle }));

  assert.deepEqual(await depth(sqs, queueUrl), { visible: 0, inFlight: 0 });
  const after = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 }));
  assert.equal(after.Messages?.length ?? 0, 0, "queue empty after delete");
});

test("consumer: a good message is deleted only after the handler resolves", async () => {
  await using moto = await startMoto();
  const sqs = moto.sqsClient();
  const queueUrl = await createQueue(sqs, "good", { VisibilityTimeout: "30" });
  let release!: () => void;
  const recorded = new Promise<void>((r) => (release = r));
  const notices: Notice[] = [];
  await using consumer = runConsumer(sqs, queueUrl, async (n) => {
    notices.push(n);
    await recorded;
  });
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: spotWarning() }));
  await waitUntil("handler called", () => notices.length === 1, SQS_WAIT);
  assert.equal(notices[0]?.kind, "spot-interruption");
  assert.deepEqual(
    await depth(sqs, queueUrl),
    { visible: 0, inFlight: 1 },
    "still in the queue while the handler runs",
  );
  release();
  await waitUntil("outcome", () => consumer.outcomes.length === 1, SQS_WAIT);
  assert.deepEqual(consumer.outcomes[0], {
    label: "spot-interruption",
    outcome: "handled",
    action: "deleted",
    receiveCount: 1,
  });
  assert.deepEqual(await depth(sqs, queueUrl), { visible: 0, inFlight: 0 });
});

test("consumer: a handler that throws leaves the message; it is received again after the 1 s visibility timeout", async () => {
  await using moto = await startMoto();
  const sqs = moto.sqsClient();
  const queueUrl = await createQueue(sqs, "retry", { VisibilityTimeout: "1" });
  const seen: string[] = [];
  await using consumer = runConsumer(
    sqs,
    queueUrl,
    (n) => {
      seen.push(n.id);
      return seen.length === 1 ? Promise.reject(new Error("apiserver unavailable")) : Promise.resolve();
    },
    { visibilityTimeoutSeconds: 1 },
  );
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: spotWarning() }));
  await waitUntil("failure, then redelivery handled", () => consumer.outcomes.length === 2, SQS_WAIT);
  assert.deepEqual(
    consumer.outcomes.map((o) => [o.outcome, o.action, o.receiveCount]),
    [
      ["failed", "kept", 1],
      ["handled", "deleted", 2],
    ],
  );
  assert.equal(seen[0], seen[1], "the same notice came back");
  assert.deepEqual(await depth(sqs, queueUrl), { visible: 0, inFlight: 0 });
});

test("consumer: a malformed message is kept (and reaches the DLQ by redrive); an unknown detail-type is deleted", async () => {
  await using moto = await startMoto();
  const sqs = moto.sqsClient();
  const dlqUrl = await createQueue(sqs, "interruptions-dlq");
  const dlqArn = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }))
  ).Attributes?.QueueArn;
  assert.ok(dlqArn);
  const queueUrl = await createQueue(sqs, "interruptions", {
    VisibilityTimeout: "1",
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }),
  });
  const handled: Notice[] = [];
  await using consumer = runConsumer(
    sqs,
    queueUrl,
    (n) => {
      handled.push(n);
      return Promise.resolve();
    },
    { visibilityTimeoutSeconds: 1 },
  );

  const unknown = JSON.stringify({
    ...(JSON.parse(spotWarning()) as object),
    "detail-type": "EC2 Instance-launch Lifecycle Action",
  });
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: unknown }));
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "{not json" }));
  await waitUntil("both outcomes", () => consumer.outcomes.length >= 2, SQS_WAIT);
  const byOutcome = Object.fromEntries(consumer.outcomes.map((o) => [o.outcome, o.action]));
  assert.deepEqual(byOutcome, { unknown: "deleted", malformed: "kept" });
  assert.equal(handled.length, 0);

  // Kept, the malformed message comes back after the visibility timeout and redrive moves it to the DLQ.
  await waitUntil(
    "malformed message in the DLQ",
    async () => (await depth(sqs, dlqUrl)).visible === 1,
    SQS_WAIT,
  );
  const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 0 }));
  assert.equal(dead.Messages?.[0]?.Body, "{not json");
  await waitUntil(
    "main queue empty",
    async () => {
      const d = await depth(sqs, queueUrl);
      return d.visible === 0 && d.inFlight === 0;
    },
    SQS_WAIT,
  );
});

/**
 * A consumer in a child process (the leader) receives a warning and holds it (its intake never records it); the
 * message must stay hidden past its 2 s visibility timeout while it is held (extended), and come back within that
 * timeout once the holder is SIGKILLed, so that the next leader handles it long before the warning's 2 minutes.
 */
test("consumer: a message held is kept hidden past its visibility timeout; once its holder is killed it comes back", async () => {
  await using moto = await startMoto();
  const sqs = moto.sqsClient();
  const queueUrl = await createQueue(sqs, "held", { VisibilityTimeout: "30" });
  const mod = (path: string): string => JSON.stringify(pathToFileURL(join(import.meta.dirname, path)).href);
  const script = `
    import { SQSClient } from "@aws-sdk/client-sqs";
    import { SqsConsumer } from ${mod("../../src/signals/sqs/consumer.ts")};
    import { systemClock } from ${mod("../../src/domain/clock.ts")};
    import { silentLogger } from ${mod("../../src/signals/logger.ts")};
    const client = new SQSClient(${JSON.stringify({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials })});
    // Each visibility extension the holder sends is printed: the test counts them.
    const send = client.send.bind(client);
    client.send = (command, ...rest) => {
      if (command.constructor.name === "ChangeMessageVisibilityCommand") console.log("extended");
      return send(command, ...rest);
    };
    const consumer = new SqsConsumer(client, ${JSON.stringify(queueUrl)}, { waitTimeSeconds: 1, visibilityTimeoutSeconds: 2 }, systemClock, silentLogger);
    void consumer.run((n) => { console.log("held " + n.id); return new Promise(() => undefined); }, new AbortController().signal);
  `;
  const holder = spawn(process.execPath, ["--input-type=module", "-e", script], {
    cwd: join(import.meta.dirname, "..", ".."),
    stdio: ["ignore", "pipe", "inherit"],
  });
  await using _kill = { [Symbol.asyncDispose]: () => Promise.resolve(void holder.kill("SIGKILL")) };
  let out = "";
  holder.stdout.on("data", (b: Buffer) => (out += b.toString()));
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: spotWarning() }));
  await waitUntil("the holder received the warning", () => out.includes("held "), SQS_WAIT);

  // Three extensions (one every half visibility timeout) after it was received, more than its 2 s timeout
  // later: still hidden, because the holder extends it while it is handled.
  await waitUntil(
    "the holder to extend the message's visibility three times",
    () => (out.match(/extended/g)?.length ?? 0) >= 3,
    SQS_WAIT,
  );
  assert.deepEqual(await depth(sqs, queueUrl), { visible: 0, inFlight: 1 }, "hidden while it is held");
  assert.equal(
    out.match(/held /g)?.length,
    1,
    "not delivered again (not even to its holder) while it is held",
  );

  holder.kill("SIGKILL");
  await using next = runConsumer(sqs, queueUrl, () => Promise.resolve(), { visibilityTimeoutSeconds: 2 });
  await waitUntil("the next consumer handled the warning", () => next.outcomes.length === 1, SQS_WAIT);
  assert.deepEqual(
    next.outcomes.map((o) => [o.outcome, o.action]),
    [["handled", "deleted"]],
  );
  assert.ok((next.outcomes[0]?.receiveCount ?? 0) >= 2, "delivered again after the holder died");
  assert.deepEqual(await depth(sqs, queueUrl), { visible: 0, inFlight: 0 });
});
