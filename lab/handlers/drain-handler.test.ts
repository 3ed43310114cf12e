import { test } from "node:test";
import assert from "node:assert/strict";
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { rebalanceRecommendation, spotInterruptionWarning, stateChange } from "../cloud/messages.ts";
import { classify, DrainHandler, jsonLinesLog, skipReason } from "./drain-handler.ts";
import type {
  DrainKube,
  DrainLog,
  DrainQueue,
  EvictionResult,
  PodRef,
  QueueMessage,
} from "./drain-handler.ts";

/** Lab seconds run 1000 times faster: the 5 s eviction retry takes 5 ms, the 120 s grace 120 ms. */
const TIME_SCALE = 0.001;
const AT = new Date("2026-01-01T00:00:00Z");
const ref = (instanceId: string): { instanceId: string; region: string } => ({
  instanceId,
  region: "us-east-1",
});

function nodeFixture(name: string, instanceId: string): V1Node {
  return { metadata: { name }, spec: { providerID: `aws:///us-east-1a/${instanceId}` } };
}

function podFixture(
  name: string,
  nodeName: string,
  extra: { daemonSet?: boolean; mirror?: boolean } = {},
): V1Pod {
  return {
    metadata: {
      name,
      namespace: "default",
      uid: `uid-${name}`,
      ...(extra.mirror === true ? { annotations: { "kubernetes.io/config.mirror": "x" } } : {}),
      ...(extra.daemonSet === true
        ? {
            ownerReferences: [
              { apiVersion: "apps/v1", kind: "DaemonSet", name: "ds", uid: "ds", controller: true },
            ],
          }
        : {}),
    },
    spec: { nodeName, containers: [] },
  };
}

/** An API server in memory: evictions delete pods unless a pod is listed in `blockedFor` (429 that many times). */
class FakeKube implements DrainKube {
  readonly nodes: V1Node[];
  pods: V1Pod[];
  readonly calls: string[] = [];
  readonly blockedFor = new Map<string, number>();
  constructor(nodes: V1Node[], pods: V1Pod[]) {
    this.nodes = nodes;
    this.pods = pods;
  }
  listNodes(): Promise<V1Node[]> {
    return Promise.resolve(this.nodes);
  }
  cordon(nodeName: string): Promise<void> {
    this.calls.push(`cordon ${nodeName}`);
    return Promise.resolve();
  }
  podsOnNode(nodeName: string): Promise<V1Pod[]> {
    return Promise.resolve(this.pods.filter((p) => p.spec?.nodeName === nodeName));
  }
  evict(pod: PodRef): Promise<EvictionResult> {
    this.calls.push(`evict ${pod.name}`);
    const blocked = this.blockedFor.get(pod.name) ?? 0;
    if (blocked > 0) {
      this.blockedFor.set(pod.name, blocked - 1);
      return Promise.resolve({
        kind: "blocked",
        message: "Cannot evict pod as it would violate the pod's disruption budget.",
      });
    }
    if (!this.pods.some((p) => p.metadata?.name === pod.name)) return Promise.resolve({ kind: "gone" });
    this.pods = this.pods.filter((p) => p.metadata?.name !== pod.name);
    return Promise.resolve({ kind: "evicted" });
  }
  podExists(pod: PodRef): Promise<boolean> {
    return Promise.resolve(
      this.pods.some((p) => p.metadata?.name === pod.name && p.metadata.uid === pod.uid),
    );
  }
}

class FakeQueue implements DrainQueue {
  readonly pending: QueueMessage[] = [];
  readonly deleted: string[] = [];
  #n = 0;
  put(body: unknown): string {
    const receiptHandle = `rh-${++this.#n}`;
    this.pending.push({ body: JSON.stringify(body), receiptHandle });
    return receiptHandle;
  }
  receive(): Promise<QueueMessage[]> {
    return Promise.resolve(this.pending.splice(0));
  }
  delete(receiptHandle: string): Promise<void> {
    this.deleted.push(receiptHandle);
    return Promise.resolve();
  }
}

function recordingLog(): {
  log: DrainLog;
  lines: { level: string; msg: string; fields: Record<string, unknown> }[];
} {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  return { log: (level, msg, fields = {}) => lines.push({ level, msg, fields }), lines };
}

function handler(kube: DrainKube, queue: DrainQueue, log: DrainLog): DrainHandler {
  return new DrainHandler({ kube, queue, log, settings: { timeScale: TIME_SCALE } });
}

test("classify: spot warning and leaving states drain, rebalance cordons, the rest is ignored with a reason", () => {
  assert.equal(classify(JSON.stringify(spotInterruptionWarning(ref("i-0abc"), AT))).action, "drain");
  assert.equal(classify(JSON.stringify(stateChange(ref("i-0abc"), AT, "shutting-down"))).action, "drain");
  assert.equal(classify(JSON.stringify(stateChange(ref("i-0abc"), AT, "terminated"))).action, "drain");
  assert.equal(classify(JSON.stringify(rebalanceRecommendation(ref("i-0abc"), AT))).action, "cordon");
  const pending = classify(JSON.stringify(stateChange(ref("i-0abc"), AT, "pending")));
  assert.deepEqual(pending, {
    action: "ignore",
    reason: "instance i-0abc entered state pending, which does not take it away",
  });
  assert.equal(classify("not json").action, "ignore");
  assert.equal(classify(JSON.stringify({ hello: 1 })).action, "ignore");
});

test("skipReason keeps DaemonSet and mirror pods on the node", () => {
  assert.equal(skipReason(podFixture("a", "n", { daemonSet: true })), "DaemonSet pod");
  assert.equal(skipReason(podFixture("b", "n", { mirror: true })), "mirror pod");
  assert.equal(skipReason(podFixture("c", "n")), null);
});

test("a spot warning: cordon, evict every pod but DaemonSet and mirror pods, then delete the message", async () => {
  const kube = new FakeKube(
    [nodeFixture("node-1", "i-0001"), nodeFixture("node-2", "i-0002")],
    [
      podFixture("app-1", "node-1"),
      podFixture("app-2", "node-1"),
      podFixture("ds-1", "node-1", { daemonSet: true }),
      podFixture("mirror-1", "node-1", { mirror: true }),
      podFixture("app-3", "node-2"),
    ],
  );
  const queue = new FakeQueue();
  const rh = queue.put(spotInterruptionWarning(ref("i-0001"), AT));
  const { log, lines } = recordingLog();
  await handler(kube, queue, log).handleMessage(queue.pending.shift()!);
  assert.deepEqual(kube.calls, ["cordon node-1", "evict app-1", "evict app-2"]);
  assert.deepEqual(
    kube.pods.map((p) => p.metadata?.name),
    ["ds-1", "mirror-1", "app-3"],
  );
  assert.deepEqual(queue.deleted, [rh]);
  assert.ok(lines.some((l) => l.msg === "node drained" && l.fields["evicted"] === 2));
});

test("a 429 is retried every 5 s until the PDB allows it", async () => {
  const kube = new FakeKube([nodeFixture("node-1", "i-0001")], [podFixture("app-1", "node-1")]);
  kube.blockedFor.set("app-1", 3);
  const queue = new FakeQueue();
  const rh = queue.put(spotInterruptionWarning(ref("i-0001"), AT));
  const { log, lines } = recordingLog();
  await handler(kube, queue, log).handleMessage(queue.pending.shift()!);
  assert.deepEqual(kube.calls, ["cordon node-1", "evict app-1", "evict app-1", "evict app-1", "evict app-1"]);
  assert.equal(lines.filter((l) => l.msg === "eviction blocked: retrying").length, 3);
  assert.deepEqual(queue.deleted, [rh]);
});

test("a PDB that never allows it: the drain gives up at the node termination grace and leaves the message", async () => {
  const kube = new FakeKube([nodeFixture("node-1", "i-0001")], [podFixture("app-1", "node-1")]);
  kube.blockedFor.set("app-1", Number.POSITIVE_INFINITY);
  const queue = new FakeQueue();
  queue.put(spotInterruptionWarning(ref("i-0001"), AT));
  const { log, lines } = recordingLog();
  const h = handler(kube, queue, log);
  const outcome = await h.drain("node-1");
  assert.equal(outcome.kind, "timeout");
  assert.deepEqual(outcome.kind === "timeout" ? outcome.remaining : [], ["default/app-1"]);
  // 120 s grace / 5 s retry: about 24 attempts, never more.
  const attempts = kube.calls.filter((c) => c === "evict app-1").length;
  assert.ok(attempts >= 2 && attempts <= 24, `attempts ${attempts}`);
  await h.handleMessage(queue.pending.shift()!);
  assert.deepEqual(queue.deleted, []);
  assert.ok(lines.some((l) => l.level === "error" && l.msg.startsWith("drain did not complete")));
});

test("a rebalance recommendation only cordons", async () => {
  const kube = new FakeKube([nodeFixture("node-1", "i-0001")], [podFixture("app-1", "node-1")]);
  const queue = new FakeQueue();
  const rh = queue.put(rebalanceRecommendation(ref("i-0001"), AT));
  await handler(kube, queue, recordingLog().log).handleMessage(queue.pending.shift()!);
  assert.deepEqual(kube.calls, ["cordon node-1"]);
  assert.deepEqual(queue.deleted, [rh]);
});

test("an instance that is not a node of the cluster, and unhandled kinds, are dropped from the queue", async () => {
  const kube = new FakeKube([nodeFixture("node-1", "i-0001")], []);
  const queue = new FakeQueue();
  const a = queue.put(spotInterruptionWarning(ref("i-0fff"), AT));
  const b = queue.put({
    version: "0",
    id: "x",
    "detail-type": "AWS Health Event",
    source: "aws.health",
    detail: {},
  });
  const h = handler(kube, queue, recordingLog().log);
  for (const m of queue.pending.splice(0)) await h.handleMessage(m);
  assert.deepEqual(kube.calls, []);
  assert.deepEqual(queue.deleted, [a, b]);
});

test("run() polls, handles messages concurrently and stops on abort", async () => {
  const kube = new FakeKube(
    [nodeFixture("node-1", "i-0001"), nodeFixture("node-2", "i-0002")],
    [podFixture("app-1", "node-1"), podFixture("app-2", "node-2")],
  );
  const queue = new FakeQueue();
  queue.put(spotInterruptionWarning(ref("i-0001"), AT));
  queue.put(spotInterruptionWarning(ref("i-0002"), AT));
  const stop = new AbortController();
  const h = handler(kube, queue, recordingLog().log);
  const running = h.run(stop.signal);
  while (queue.deleted.length < 2) await new Promise((r) => setTimeout(r, 5));
  stop.abort();
  await running;
  assert.deepEqual(kube.pods, []);
  assert.deepEqual(kube.calls.filter((c) => c.startsWith("cordon")).sort(), [
    "cordon node-1",
    "cordon node-2",
  ]);
});

test("jsonLinesLog writes one JSON object per line", () => {
  const out: string[] = [];
  jsonLinesLog({ write: (s: string) => out.push(s) }, { handler: "drain" })("info", "node cordoned", {
    node: "n1",
  });
  assert.equal(out.length, 1);
  assert.ok(out[0]!.endsWith("\n"));
  const line = JSON.parse(out[0]!) as Record<string, unknown>;
  assert.deepEqual(
    { ...line, time: typeof line["time"] },
    { time: "string", level: "info", msg: "node cordoned", handler: "drain", node: "n1" },
  );
});
