import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { FakeClock } from "../domain/clock.ts";
import { EventRecorder, REPORTING_CONTROLLER } from "./events.ts";
import type { EventBody, EventSpec, EventsClient } from "./events.ts";
import { createLogger } from "./logger.ts";

type Call =
  | { op: "create"; namespace: string; body: EventBody }
  | { op: "patch"; name: string; namespace: string; body: object; hasOptions: boolean };

/** An EventsClient that records calls; `failNext` makes the next call reject with the given error. */
class FakeEventsClient implements EventsClient {
  calls: Call[] = [];
  failNext: (Error & { code?: number }) | null = null;

  #maybeFail(): void {
    const error = this.failNext;
    this.failNext = null;
    if (error !== null) throw error;
  }

  createNamespacedEvent(param: { namespace: string; body: EventBody }): Promise<unknown> {
    this.calls.push({ op: "create", namespace: param.namespace, body: param.body });
    this.#maybeFail();
    return Promise.resolve(param.body);
  }

  patchNamespacedEvent(
    param: { name: string; namespace: string; body: object },
    options?: unknown,
  ): Promise<unknown> {
    this.calls.push({
      op: "patch",
      name: param.name,
      namespace: param.namespace,
      body: param.body,
      hasOptions: options !== undefined,
    });
    this.#maybeFail();
    return Promise.resolve(param.body);
  }
}

function apiError(code: number, message: string): Error & { code: number } {
  return Object.assign(new Error(message), { code });
}

function setup() {
  const clock = new FakeClock(Date.parse("2026-11-24T12:00:00Z"));
  const client = new FakeEventsClient();
  const lines: string[] = [];
  const logger = createLogger({ level: "info", destination: { write: (l: string) => void lines.push(l) } });
  const recorder = new EventRecorder({ client, clock, logger, instance: "lifeboat-0" });
  return { clock, client, lines, recorder };
}

const onNode = (overrides: Partial<EventSpec> = {}): EventSpec => ({
  object: { kind: "Node", name: "ip-10-0-1-7.ec2.internal", uid: "u-1" },
  reason: "Cordoned",
  message: "spot interruption at 12:02:00Z: cordoned, tainted lifeboat.dev/evacuating:NoSchedule",
  ...overrides,
});

test("a Node event goes to namespace default with the full core/v1 shape", async () => {
  const { client, recorder } = setup();
  await recorder.record(onNode());
  assert.equal(client.calls.length, 1);
  const call = client.calls[0]!;
  assert.equal(call.op, "create");
  if (call.op !== "create") return;
  assert.equal(call.namespace, "default");
  const { metadata, ...rest } = call.body;
  assert.equal(metadata.namespace, "default");
  assert.match(metadata.name, /^ip-10-0-1-7\.ec2\.internal\.[0-9a-f]+$/);
  assert.deepEqual(rest, {
    apiVersion: "v1",
    kind: "Event",
    involvedObject: { apiVersion: "v1", kind: "Node", name: "ip-10-0-1-7.ec2.internal", uid: "u-1" },
    reason: "Cordoned",
    message: "spot interruption at 12:02:00Z: cordoned, tainted lifeboat.dev/evacuating:NoSchedule",
    type: "Normal",
    count: 1,
    firstTimestamp: new Date("2026-11-24T12:00:00Z"),
    lastTimestamp: new Date("2026-11-24T12:00:00Z"),
    source: { component: "lifeboat" },
    reportingComponent: REPORTING_CONTROLLER,
    reportingInstance: "lifeboat-0",
  });
});

test("Pod events go to the pod's namespace; Evacuation events to default with the CRD's apiVersion", async () => {
  const { client, recorder } = setup();
  await recorder.record({
    object: { kind: "Pod", namespace: "shop", name: "web-1" },
    reason: "EvictionBlocked",
    message: "PDB web allows 0 disruptions; retrying",
    related: { kind: "Evacuation", name: "ip-10-0-1-7-abc" },
  });
  await recorder.record({
    object: { kind: "Evacuation", name: "ip-10-0-1-7-abc" },
    reason: "EvacuationDone",
    message: "done 41 s before the deadline",
  });
  const [pod, evac] = client.calls;
  assert.ok(pod?.op === "create" && evac?.op === "create");
  assert.equal(pod.namespace, "shop");
  assert.deepEqual(pod.body.involvedObject, {
    apiVersion: "v1",
    kind: "Pod",
    name: "web-1",
    namespace: "shop",
  });
  assert.deepEqual(pod.body.related, {
    apiVersion: "lifeboat.dev/v1alpha1",
    kind: "Evacuation",
    name: "ip-10-0-1-7-abc",
  });
  assert.equal(pod.body.type, "Warning", "EvictionBlocked defaults to Warning");
  assert.equal(evac.namespace, "default");
  assert.deepEqual(evac.body.involvedObject, {
    apiVersion: "lifeboat.dev/v1alpha1",
    kind: "Evacuation",
    name: "ip-10-0-1-7-abc",
  });
});

test("workload events go to the workload's namespace with its API group", async () => {
  const { client, recorder } = setup();
  await recorder.record({
    object: { kind: "Deployment", namespace: "shop", name: "web" },
    reason: "PreStopTooShort",
    message: "preStop 5 s < LB propagation 20 s",
  });
  await recorder.record({
    object: { kind: "Job", namespace: "batch", name: "etl" },
    reason: "Evicted",
    message: "m",
  });
  const [deployment, job] = client.calls;
  assert.ok(deployment?.op === "create" && job?.op === "create");
  assert.equal(deployment.namespace, "shop");
  assert.deepEqual(deployment.body.involvedObject, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    name: "web",
    namespace: "shop",
  });
  assert.equal(deployment.body.type, "Warning");
  assert.equal(job.body.involvedObject.apiVersion, "batch/v1");
});

test("an explicit type overrides the reason's default", async () => {
  const { client, recorder } = setup();
  await recorder.record(onNode({ reason: "DryRun", type: "Warning" }));
  assert.ok(client.calls[0]?.op === "create" && client.calls[0].body.type === "Warning");
});

test("a repeat within 60 s bumps the count with a merge patch; after the window it is a new Event", async () => {
  const { clock, client, recorder } = setup();
  await recorder.record(onNode());
  await clock.advance(30_000);
  await recorder.record(onNode());
  await clock.advance(59_000);
  await recorder.record(onNode());
  assert.deepEqual(
    client.calls.map((c) => c.op),
    ["create", "patch", "patch"],
  );
  const created = client.calls[0];
  const lastPatch = client.calls[2];
  assert.ok(created?.op === "create" && lastPatch?.op === "patch");
  assert.equal(lastPatch.name, created.body.metadata.name);
  assert.equal(lastPatch.namespace, "default");
  assert.deepEqual(lastPatch.body, { count: 3, lastTimestamp: "2026-11-24T12:01:29.000Z" });
  assert.ok(lastPatch.hasOptions, "merge-patch content type is passed");

  await clock.advance(60_001);
  await recorder.record(onNode());
  assert.equal(client.calls.length, 4);
  const fresh = client.calls[3];
  assert.ok(fresh?.op === "create");
  assert.notEqual(fresh.body.metadata.name, created.body.metadata.name);
  assert.equal(fresh.body.count, 1);
});

test("a different message or reason is a different Event", async () => {
  const { client, recorder } = setup();
  await recorder.record(onNode());
  await recorder.record(onNode({ message: "other" }));
  await recorder.record(onNode({ reason: "Evicted" }));
  assert.deepEqual(
    client.calls.map((c) => c.op),
    ["create", "create", "create"],
  );
});

test("concurrent repeats patch only after the create landed", async () => {
  const { client, recorder } = setup();
  await Promise.all([recorder.record(onNode()), recorder.record(onNode()), recorder.record(onNode())]);
  assert.deepEqual(
    client.calls.map((c) =>
      c.op === "patch" ? `patch:${String((c.body as { count: number }).count)}` : c.op,
    ),
    ["create", "patch:2", "patch:3"],
  );
});

test("API errors are logged, never thrown; a failed create is retried as a create next time", async () => {
  const { client, lines, recorder } = setup();
  client.failNext = apiError(403, "events is forbidden");
  await recorder.record(onNode());
  assert.equal(lines.length, 1);
  const logged = JSON.parse(lines[0]!) as { level: string; error: { code: number; message: string } };
  assert.equal(logged.level, "warn");
  assert.deepEqual(logged.error, { code: 403, message: "events is forbidden" });
  await recorder.record(onNode());
  assert.deepEqual(
    client.calls.map((c) => c.op),
    ["create", "create"],
  );
});

test("a patch that finds the Event gone (404) creates it again", async () => {
  const { client, recorder } = setup();
  await recorder.record(onNode());
  client.failNext = apiError(404, "not found");
  await recorder.record(onNode());
  assert.deepEqual(
    client.calls.map((c) => c.op),
    ["create", "patch", "create"],
  );
  const recreated = client.calls[2];
  assert.ok(recreated?.op === "create" && recreated.body.count === 2);
});

test("long messages are truncated to 1024 characters", async () => {
  const { client, recorder } = setup();
  await recorder.record(onNode({ message: "x".repeat(5000) }));
  const call = client.calls[0];
  assert.ok(call?.op === "create");
  assert.equal(call.body.message.length, 1024);
  assert.ok(call.body.message.endsWith("..."));
});

test("through the real CoreV1Api, an Event is created, then its repeat merge-patches the count", async () => {
  const requests: { method: string; path: string; contentType: string; body: Record<string, unknown> }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      requests.push({
        method: req.method ?? "",
        path: req.url ?? "",
        contentType: req.headers["content-type"] ?? "",
        body: JSON.parse(text) as Record<string, unknown>,
      });
      res.writeHead(req.method === "POST" ? 201 : 200, { "content-type": "application/json" });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: "c",
          server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          skipTLSVerify: true,
        },
      ],
      users: [{ name: "u" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    // Typed: CoreV1Api must satisfy EventsClient for this to compile.
    const client: EventsClient = kc.makeApiClient(CoreV1Api);
    const recorder = new EventRecorder({
      client,
      clock: new FakeClock(Date.parse("2026-11-24T12:00:00Z")),
      logger: createLogger({ level: "silent" }),
      instance: "lifeboat-0",
    });
    await recorder.record(onNode());
    await recorder.record(onNode());
    const [created, patched] = requests;
    assert.equal(requests.length, 2);
    assert.equal(`${created?.method} ${created?.path}`, "POST /api/v1/namespaces/default/events");
    assert.equal(created?.body["reason"], "Cordoned");
    const name = (created?.body["metadata"] as { name?: string } | undefined)?.name ?? "";
    assert.equal(`${patched?.method} ${patched?.path}`, `PATCH /api/v1/namespaces/default/events/${name}`);
    assert.equal(patched?.contentType, "application/merge-patch+json");
    assert.equal(patched?.body["count"], 2);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  }
});

test("beyond maxPending unanswered writes a new Event is dropped, counted and logged once per hundred; then accepted again", async () => {
  const clock = new FakeClock(Date.parse("2026-11-24T12:00:00Z"));
  const answers: (() => void)[] = [];
  const client: EventsClient = {
    createNamespacedEvent: (param) =>
      new Promise((r) => {
        answers.push(() => {
          r(param.body);
        });
      }),
    patchNamespacedEvent: () => Promise.resolve({}),
  };
  const lines: string[] = [];
  const logger = createLogger({ level: "info", destination: { write: (l: string) => void lines.push(l) } });
  let dropped = 0;
  const recorder = new EventRecorder({
    client,
    clock,
    logger,
    instance: "lifeboat-0",
    maxPending: 3,
    onDropped: () => (dropped += 1),
  });
  const writes = [1, 2, 3, 4, 5].map((i) => recorder.record(onNode({ message: `event ${i}` })));
  assert.equal(answers.length, 3, "three writes sent");
  assert.equal(dropped, 2);
  assert.equal(recorder.dropped, 2);
  const dropLines = lines.filter((l) => typeof (JSON.parse(l) as { dropped?: unknown }).dropped === "number");
  assert.equal(dropLines.length, 1, "logged once (the line with the dropped count)");
  for (const answer of answers.splice(0)) answer();
  await Promise.all(writes);
  const later = recorder.record(onNode({ message: "event 6" }));
  assert.equal(answers.length, 1, "accepted again once the others were answered");
  answers[0]?.();
  await later;
});
