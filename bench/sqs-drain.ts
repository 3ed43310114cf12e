/**
 * How fast the SQS consumer drains a queue full of junk while real notices are still recorded before their
 * message is deleted: the product's SqsConsumer, NoticeDeduper, NoticeIntake and Serial, wired as the controller
 * wires them, against a busy reconciler (a section holding the intake's Serial for `--reconcile-ms`, again after
 * `--gap-ms`, as the controller does while evacuations run). The queue is moto (`--sqs moto`, real SQS
 * semantics) or an in-process queue answering every call after `--sqs-ms` (`--sqs fake`, no process started);
 * the Evacuation store is in memory and answers after `--api-ms`. Prints the drain rate, the outcomes, how long
 * real notices waited from receipt to record, and the most messages received and not yet settled at once (each
 * one invisible to a standby). Besides REAL warnings of live nodes the queue holds foreign instances' warnings
 * and state changes, replays (state changes, warnings) of nodes reclaimed before the run whose Evacuations are
 * Done, duplicates of the real warnings, malformed and unknown bodies, and `running` state changes of live
 * nodes. Asserts nothing.
 *
 *   npm run bench:sqs -- [--messages 2000] [--real 20] [--sqs fake|moto] [--sqs-ms 20] [--api-ms 5]
 *     [--reconcile-ms 200] [--gap-ms 100] [--concurrency 10] [--visibility 15]
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SQSClient,
  type Message,
} from "@aws-sdk/client-sqs";
import { startMoto, type Moto } from "../lab/aws/moto.ts";
import { Serial } from "../src/controller/serial.ts";
import { NoticeIntake } from "../src/controller/intake.ts";
import { systemClock } from "../src/domain/clock.ts";
import type { NodeView } from "../src/domain/snapshot.ts";
import type { ClusterView } from "../src/actuators/ports.ts";
import { Metrics } from "../src/observability/metrics.ts";
import { NoticeDeduper } from "../src/signals/dedupe.ts";
import { silentLogger } from "../src/signals/logger.ts";
import { SqsConsumer, type Outcome } from "../src/signals/sqs/consumer.ts";
import type { StoredEvacuation } from "../src/state/evacuation-resource.ts";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "2000" },
    real: { type: "string", default: "20" },
    sqs: { type: "string", default: "fake" },
    "sqs-ms": { type: "string", default: "20" },
    "api-ms": { type: "string", default: "5" },
    "reconcile-ms": { type: "string", default: "200" },
    "gap-ms": { type: "string", default: "100" },
    concurrency: { type: "string", default: "10" },
    visibility: { type: "string", default: "15" },
  },
});
const num = (name: keyof typeof values): number => {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number >= 0, got ${values[name]}`);
  return n;
};
const JUNK = num("messages");
const REAL = num("real");
const SQS_MS = num("sqs-ms");
const API_MS = num("api-ms");
const RECONCILE_MS = num("reconcile-ms");
const GAP_MS = num("gap-ms");
const CONCURRENCY = num("concurrency");
const VISIBILITY = num("visibility");
if (values.sqs !== "fake" && values.sqs !== "moto") throw new Error(`--sqs must be fake or moto`);

const sleep = (ms: number): Promise<void> => (ms > 0 ? systemClock.sleep(ms) : Promise.resolve());
const FIXTURES = join(import.meta.dirname, "../test/fixtures/events");
const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), "utf8")) as Record<string, unknown>;
const instanceOf = (i: number, prefix: string): string =>
  `i-0${prefix}${i.toString(16).padStart(15, "0")}`.slice(0, 19);

// ---- the queue's content: REAL warnings of live nodes, spread through JUNK bodies of every kind ----

const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
const spot = fixture("spot-interruption-warning.nth");
const stateChange = fixture("state-change-pending.nth");
const warning = (id: string, instanceId: string): string =>
  JSON.stringify({
    ...spot,
    id,
    time: now,
    detail: { "instance-id": instanceId, "instance-action": "terminate" },
  });
const state = (id: string, instanceId: string, s: string): string =>
  JSON.stringify({ ...stateChange, id, time: now, detail: { "instance-id": instanceId, state: s } });

/** A Ready, schedulable spot node of group `spot` in us-east-1a, as the cluster view shows it. */
const liveNode = (name: string, instanceId: string): NodeView => ({
  name,
  instanceId,
  nodeGroup: "spot",
  zone: "us-east-1a",
  ready: true,
  unschedulable: false,
  taints: [],
  labels: {},
  allocatable: { cpuMilli: 4000, memoryBytes: 16 * 2 ** 30, pods: 110 },
  evacuateRequest: null,
});
const nodes: NodeView[] = Array.from({ length: REAL + 10 }, (_, i) =>
  liveNode(`node-${i}`, instanceOf(i, "a")),
);
const realBodies = Array.from({ length: REAL }, (_, i) => warning(`real-${i}`, nodes[i]?.instanceId ?? ""));

/** Nodes reclaimed before the run: gone from the cluster, their Evacuations Done (the chaos bench's replays). */
const RECLAIMED = 10;
const reclaimedInstance = (i: number): string => instanceOf(i % RECLAIMED, "b");

type Kind = "real" | "foreign" | "replay" | "duplicate" | "malformed" | "unknown" | "live-running";
function junkBody(i: number): { kind: Kind; body: string } {
  const r = i % 20;
  if (r < 7) return { kind: "foreign", body: warning(`f-${i}`, instanceOf(i, "f")) };
  if (r < 8) return { kind: "replay", body: state(`rs-${i}`, reclaimedInstance(i), "terminated") };
  if (r < 9) return { kind: "replay", body: warning(`reclaimed-${i % RECLAIMED}`, reclaimedInstance(i)) };
  if (r < 11 && REAL > 0) return { kind: "duplicate", body: realBodies[i % REAL] ?? "" };
  if (r < 13) return { kind: "malformed", body: `{"version":"0","id":"m-${i}","detail-type":` };
  if (r < 14)
    return {
      kind: "malformed",
      body: JSON.stringify({ ...spot, id: `w-${i}`, detail: { "instance-id": 42 } }),
    };
  if (r < 17)
    return {
      kind: "unknown",
      body: JSON.stringify({ ...spot, id: `u-${i}`, "detail-type": "EC2 Something Else" }),
    };
  return {
    kind: "live-running",
    body: state(`r-${i}`, nodes[i % nodes.length]?.instanceId ?? "", "running"),
  };
}
const bodies: { kind: Kind; body: string }[] = [];
const every = REAL > 0 ? Math.max(1, Math.floor(JUNK / REAL)) : Infinity;
for (let i = 0, real = 0; i < JUNK || real < REAL; i++) {
  if (real < REAL && i % every === 0) bodies.push({ kind: "real", body: realBodies[real++] ?? "" });
  if (i < JUNK) bodies.push(junkBody(i));
}

// ---- the queue ----

interface Queue {
  client: SQSClient;
  url: string;
  /** Messages received and neither deleted nor back in the queue, now; and the most at once. */
  held(): { now: number; max: number };
  depth(): Promise<number>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** An in-process queue behind a real SQSClient: every call answers after SQS_MS; visibility timeouts honoured. */
function fakeQueue(): Queue {
  const client = new SQSClient({
    region: "us-east-1",
    endpoint: "http://127.0.0.1:9",
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
  let seq = 0;
  const visible: Message[] = bodies.map((b, i) => ({ MessageId: `m${i}`, Body: b.body, Attributes: {} }));
  const hidden = new Map<string, { message: Message; until: number }>();
  let max = 0;
  const expire = (): void => {
    const t = systemClock.now();
    for (const [rh, h] of hidden) {
      if (h.until > t) continue;
      hidden.delete(rh);
      visible.push(h.message);
    }
  };
  client.middlewareStack.add(
    (_next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      await sleep(SQS_MS);
      expire();
      const rh = String(input["ReceiptHandle"]);
      if (context.commandName === "DeleteMessageCommand") {
        hidden.delete(rh);
        return { output: { $metadata: {} }, response: {} };
      }
      if (context.commandName === "ChangeMessageVisibilityCommand") {
        const h = hidden.get(rh);
        if (h !== undefined) h.until = systemClock.now() + Number(input["VisibilityTimeout"]) * 1000;
        return { output: { $metadata: {} }, response: {} };
      }
      const n = Number(input["MaxNumberOfMessages"] ?? 1);
      const vis = Number(input["VisibilityTimeout"] ?? 30);
      const out = visible.splice(0, n).map((m) => ({ ...m, ReceiptHandle: `rh-${seq++}` }));
      for (const m of out) hidden.set(m.ReceiptHandle, { message: m, until: systemClock.now() + vis * 1000 });
      max = Math.max(max, hidden.size);
      if (out.length === 0) await sleep(200); // a short stand-in for the long poll's wait on an empty queue
      return { output: { Messages: out, $metadata: {} }, response: {} };
    },
    { step: "initialize", name: "fakeQueue" },
  );
  return {
    client,
    url: "http://fake/queue",
    held: () => ({ now: hidden.size, max }),
    depth: () => {
      expire();
      return Promise.resolve(visible.length + hidden.size);
    },
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
}

async function motoQueue(): Promise<Queue> {
  const moto: Moto = await startMoto();
  const client = moto.sqsClient();
  const created = await client.send(
    new CreateQueueCommand({ QueueName: "drain", Attributes: { VisibilityTimeout: String(VISIBILITY) } }),
  );
  const url = created.QueueUrl ?? "";
  for (let i = 0; i < bodies.length; i += 10) {
    const entries = bodies.slice(i, i + 10).map((b, j) => ({ Id: String(j), MessageBody: b.body }));
    await client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
  }
  const attr = async (
    name: "ApproximateNumberOfMessages" | "ApproximateNumberOfMessagesNotVisible",
  ): Promise<number> => {
    const out = await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: [name] }));
    return Number(out.Attributes?.[name] ?? NaN);
  };
  let max = 0;
  let current = 0;
  const poll = setInterval(() => {
    attr("ApproximateNumberOfMessagesNotVisible").then(
      (n) => ((current = n), (max = Math.max(max, n))),
      () => undefined,
    );
  }, 100);
  return {
    client,
    url,
    held: () => ({ now: current, max }),
    depth: async () =>
      (await attr("ApproximateNumberOfMessages")) + (await attr("ApproximateNumberOfMessagesNotVisible")),
    [Symbol.asyncDispose]: async () => {
      clearInterval(poll);
      await moto[Symbol.asyncDispose]();
    },
  };
}

// ---- the controller's wiring, with an in-memory store and a busy reconciler ----

class MemoryStore {
  readonly items: StoredEvacuation[] = [];
  /** Receipt (noticedAt) to record, ms, per created evacuation. */
  readonly waits: number[] = [];
  async list(): Promise<StoredEvacuation[]> {
    await sleep(API_MS);
    return [...this.items];
  }
  async create(s: StoredEvacuation): Promise<StoredEvacuation> {
    await sleep(API_MS);
    this.items.push(s);
    this.waits.push(systemClock.now() - s.evacuation.noticedAt);
    return s;
  }
  async updateSpec(s: StoredEvacuation): Promise<StoredEvacuation> {
    await sleep(API_MS);
    return s;
  }
  async updateStatus(s: StoredEvacuation): Promise<StoredEvacuation> {
    await sleep(API_MS);
    return s;
  }
}

const byInstance = new Map(nodes.map((n) => [n.instanceId ?? "", n]));
const cluster: ClusterView = {
  snapshot: () => {
    throw new Error("unused");
  },
  nodeByInstanceId: (id) => byInstance.get(id) ?? null,
  nodeByName: (name) => nodes.find((n) => n.name === name) ?? null,
};

await using queue = values.sqs === "moto" ? await motoQueue() : fakeQueue();
const serial = new Serial();
const store = new MemoryStore();
for (let i = 0; i < RECLAIMED; i++) {
  const e = {
    name: `evac-reclaimed-${i}`,
    nodeName: `reclaimed-${i}`,
    instanceId: reclaimedInstance(i),
    mode: "evacuate" as const,
    noticeIds: [`reclaimed-${i}`],
    noticeKind: "spot-interruption" as const,
    deadline: Date.parse(now) - 60_000,
    certainDeadline: Date.parse(now) - 60_000,
    noticedAt: Date.parse(now) - 180_000,
    phase: "Done" as const,
    surges: [],
    evictions: [],
    timeline: { noticedAt: Date.parse(now) - 180_000 },
    instanceGone: true,
    instanceState: "terminated" as const,
  };
  store.items.push({ evacuation: e, lifecycleHook: null, message: "", resourceVersion: "1" });
}
const intake = new NoticeIntake({
  cluster,
  store,
  policy: { rebalancePolicy: "prewarm", rebalancePolicyByNodeGroup: {} },
  clock: systemClock,
  log: silentLogger,
  metrics: new Metrics(),
  events: { emit: () => undefined },
  onRecorded: () => undefined,
  serial,
  hookTimeouts: null,
});
const handler = new NoticeDeduper(systemClock).wrap((n) => intake.handle(n));
const outcomes = new Map<string, number>();
let settled = 0;
const consumer = new SqsConsumer(
  queue.client,
  queue.url,
  {
    waitTimeSeconds: 1,
    maxMessages: 10,
    concurrency: CONCURRENCY,
    visibilityTimeoutSeconds: VISIBILITY,
    ready: () => intake.idle(),
    malformed: "delete",
    unknown: "delete",
    foreign: "delete",
    hooks: {
      onOutcome: (_label, outcome: Outcome, detail) => {
        settled++;
        const key = `${outcome}/${detail.action}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      },
    },
  },
  systemClock,
  silentLogger,
);

const stop = new AbortController();
const reconciler = (async () => {
  while (!stop.signal.aborted) {
    await serial.run(() => sleep(RECONCILE_MS));
    await sleep(GAP_MS);
  }
})();
const started = systemClock.now();
const running = consumer.run(handler, stop.signal);
let left = bodies.length;
while (systemClock.now() - started < 30 * 60_000) {
  await sleep(250);
  left = await queue.depth();
  if (left === 0 && store.items.length >= REAL + RECLAIMED) break;
}
const seconds = (systemClock.now() - started) / 1000;
stop.abort();
await Promise.allSettled([running, reconciler]);

const sorted = [...store.waits].sort((a, b) => a - b);
const pct = (p: number): string =>
  sorted.length === 0 ? "-" : String(sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]);
const kinds = new Map<Kind, number>();
for (const b of bodies) kinds.set(b.kind, (kinds.get(b.kind) ?? 0) + 1);
console.log(
  `sent: ${bodies.length} (${[...kinds].map(([k, n]) => `${k} ${n}`).join(", ")}); queue ${values.sqs}` +
    (values.sqs === "fake" ? ` ${SQS_MS} ms/call` : "") +
    `; store ${API_MS} ms/call; reconcile holds the intake ${RECONCILE_MS} ms every ${RECONCILE_MS + GAP_MS} ms`,
);
console.log(`consumer: concurrency ${CONCURRENCY}, visibility ${VISIBILITY} s`);
console.log(
  `outcomes: ${[...outcomes]
    .sort()
    .map(([k, n]) => `${k} ${n}`)
    .join(", ")}`,
);
console.log(
  `real notices recorded: ${store.items.length - RECLAIMED}/${REAL}; receipt to record ms p50 ${pct(50)} p90 ${pct(90)} max ${pct(100)}`,
);
console.log(`most messages received and not settled at once (hidden from a standby): ${queue.held().max}`);
console.log(
  `sqs-drain: messages=${settled} left=${left} seconds=${seconds.toFixed(1)} per_second=${(settled / seconds).toFixed(1)}`,
);
