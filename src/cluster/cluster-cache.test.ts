/**
 * The cache against a loopback stand-in for the API server that can go away and come back: errors are logged,
 * informers restart with a doubling backoff on the injected clock, and the last known objects stay served.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { KubeConfig } from "@kubernetes/client-node";
import { FakeClock } from "../domain/clock.ts";
import { ClusterCache } from "./cluster-cache.ts";
import { RecordingLogger } from "./logger.ts";

const INSTANCE = "i-0123456789abcdef0";
const NODE = {
  apiVersion: "v1",
  kind: "Node",
  metadata: {
    name: "ip-10-0-1-4.us-east-1.compute.internal",
    resourceVersion: "5",
    labels: { "eks.amazonaws.com/nodegroup": "spot-a" },
    annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}", team: "a" },
    managedFields: [{ manager: "kubectl", operation: "Apply", fieldsType: "FieldsV1", fieldsV1: {} }],
  },
  spec: { providerID: `aws:///us-east-1a/${INSTANCE}` },
  status: {
    conditions: [{ type: "Ready", status: "True" }],
    allocatable: { cpu: "2", memory: "4Gi", pods: "29" },
  },
};

const POD = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "web-1", namespace: "shop", uid: "p1", resourceVersion: "7", labels: { app: "web" } },
  spec: { nodeName: NODE.metadata.name, containers: [{ name: "app", image: "web:1" }] },
  status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
};

const PODS = [1, 2, 3].map((i) => ({
  ...POD,
  metadata: { ...POD.metadata, name: `web-${i}`, uid: `p${i}` },
}));

/** Answers lists (one node, everything else empty) and holds watches open; or 503 for everything while down. */
class FakeApiServer implements AsyncDisposable {
  up = false;
  requests = 0;
  /** The query of every pod list request (its pages). */
  readonly podPages: string[] = [];
  /** Open watches of nodes, to send events into. */
  readonly nodeWatches: ServerResponse[] = [];
  /** Open watches of pods, to send events into. */
  readonly podWatches: ServerResponse[] = [];
  /** The ReplicaSets the list answers with. */
  replicaSets: object[] = [];
  readonly #server: Server;

  private constructor() {
    this.#server = createServer((req, res) => {
      this.handle(req, res);
    });
  }

  static async start(): Promise<FakeApiServer> {
    const api = new FakeApiServer();
    await new Promise<void>((resolve) => api.#server.listen(0, "127.0.0.1", resolve));
    return api;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests++;
    if (!this.up) {
      res.writeHead(503, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          message: "apiserver is shutting down",
          code: 503,
        }),
      );
      return;
    }
    const url = new URL(req.url ?? "/", this.url);
    if (url.searchParams.get("watch") === "true") {
      res.writeHead(200, { "content-type": "application/json" });
      res.flushHeaders(); // like the API server: headers at once, events later (here: none)
      if (url.pathname === "/api/v1/nodes") this.nodeWatches.push(res);
      if (url.pathname === "/api/v1/pods") this.podWatches.push(res);
      return;
    }
    if (url.pathname === "/api/v1/pods") {
      // Chunked like the API server: one pod per page here, whatever the limit asked for.
      this.podPages.push(url.searchParams.toString());
      const i = Number(url.searchParams.get("continue") ?? "0");
      const next = i + 1 < PODS.length ? { continue: String(i + 1) } : {};
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          kind: "PodList",
          apiVersion: "v1",
          metadata: { resourceVersion: "10", ...next },
          items: [PODS[i]],
        }),
      );
      return;
    }
    const items =
      url.pathname === "/api/v1/nodes"
        ? [NODE]
        : url.pathname === "/apis/apps/v1/replicasets"
          ? this.replicaSets
          : [];
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ kind: "List", apiVersion: "v1", metadata: { resourceVersion: "10" }, items }));
  }

  /** Sends a DELETED event for the node on every open node watch. */
  deleteNode(): void {
    const object = { ...NODE, metadata: { ...NODE.metadata, resourceVersion: "11" } };
    for (const res of this.nodeWatches) res.write(`${JSON.stringify({ type: "DELETED", object })}\n`);
  }

  /** Sends a MODIFIED event for the node, with these annotations (and a fresh last-applied copy), on every open node watch. */
  annotateNode(annotations: Record<string, string>): void {
    const object = {
      ...NODE,
      metadata: {
        ...NODE.metadata,
        resourceVersion: "12",
        annotations: { ...annotations, "kubectl.kubernetes.io/last-applied-configuration": '{"big":1}' },
      },
    };
    for (const res of this.nodeWatches) res.write(`${JSON.stringify({ type: "MODIFIED", object })}\n`);
  }

  /** Sends a watch event for a pod on every open pod watch. */
  sendPod(type: "ADDED" | "MODIFIED", object: object): void {
    for (const res of this.podWatches) res.write(`${JSON.stringify({ type, object })}\n`);
  }

  /** Drops every open connection (the watches), as a restarting API server does. */
  dropConnections(): void {
    this.#server.closeAllConnections();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }
}

function kubeConfigFor(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "fake", server, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "fake", cluster: "fake", user: "u" }],
    currentContext: "fake",
  });
  return kc;
}

async function until(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = performance.now();
  while (!predicate()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const total = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

describe("ClusterCache against an API server that comes and goes", () => {
  it("logs, backs off, recovers, and keeps serving the last objects", { timeout: 30_000 }, async () => {
    await using api = await FakeApiServer.start();
    const clock = new FakeClock();
    const log = new RecordingLogger();
    await using cache = new ClusterCache({
      kubeConfig: kubeConfigFor(api.url),
      clock,
      log,
      restartInitialMs: 500,
      restartMaxMs: 4_000,
    });
    let synced = false;
    void cache.synced.then(() => {
      synced = true;
    });

    // Down from the start: every informer fails once and waits 500 ms on the fake clock.
    await cache.start();
    assert.equal(total(cache.failures()), 7);
    const delays = (): unknown[] =>
      log.records.filter((r) => r.level === "warn").map((r) => r.obj["restartInMs"]);
    assert.deepEqual(delays(), Array(7).fill(500));
    assert.equal(synced, false);
    assert.equal(cache.nodeByInstanceId(INSTANCE), null);

    // Still down: the next round backs off to 1 s.
    await clock.advance(500);
    await until("second failures", () => total(cache.failures()) === 14);
    assert.deepEqual(delays().slice(7), Array(7).fill(1_000));

    // Back up: the restarts list and watch, and the data arrives.
    api.up = true;
    await clock.advance(1_000);
    await cache.synced;
    assert.equal(cache.nodeByInstanceId(INSTANCE)?.name, NODE.metadata.name);
    assert.equal(cache.snapshot(clock.now()).nodes.length, 1);

    // Gone again mid-watch: nothing throws, the failure is logged, the last known node is still served.
    const before = total(cache.failures());
    api.up = false;
    api.dropConnections();
    await until("watch failures after the drop", () => total(cache.failures()) > before);
    assert.equal(cache.nodeByInstanceId(INSTANCE)?.name, NODE.metadata.name);
    assert.equal(cache.snapshot(clock.now()).nodes[0]?.nodeGroup, "spot-a");
  });
});

describe("ClusterCache remembers deleted nodes", () => {
  it(
    "a deleted node's instance id resolves to it for 15 minutes, then no longer",
    { timeout: 30_000 },
    async () => {
      await using api = await FakeApiServer.start();
      api.up = true;
      const clock = new FakeClock();
      await using cache = new ClusterCache({
        kubeConfig: kubeConfigFor(api.url),
        clock,
        log: new RecordingLogger(),
      });
      await cache.start();
      await cache.synced;
      assert.equal(cache.deletedNodeByInstanceId(INSTANCE), null, "not deleted yet");
      await until("the node watch", () => api.nodeWatches.length > 0);
      const deletedAt = clock.now();
      api.deleteNode();
      await until("the delete", () => cache.nodeByInstanceId(INSTANCE) === null);
      assert.deepEqual(
        {
          name: cache.deletedNodeByInstanceId(INSTANCE)?.node.name,
          at: cache.deletedNodeByInstanceId(INSTANCE)?.deletedAt,
        },
        { name: NODE.metadata.name, at: deletedAt },
      );
      await clock.advance(15 * 60_000);
      assert.equal(
        cache.deletedNodeByInstanceId(INSTANCE)?.node.name,
        NODE.metadata.name,
        "still at 15 minutes",
      );
      await clock.advance(1);
      assert.equal(cache.deletedNodeByInstanceId(INSTANCE), null, "forgotten after 15 minutes");
    },
  );
});

describe("ClusterCache keeps only what lifeboat reads", () => {
  it(
    "objects from the list and from watch events are cached trimmed (no last-applied copy)",
    { timeout: 30_000 },
    async () => {
      await using api = await FakeApiServer.start();
      api.up = true;
      const clock = new FakeClock();
      await using cache = new ClusterCache({
        kubeConfig: kubeConfigFor(api.url),
        clock,
        log: new RecordingLogger(),
      });
      await cache.start();
      await cache.synced;
      assert.deepEqual(cache.nodeAnnotations(NODE.metadata.name), { team: "a" }, "from the list");
      await until("the node watch", () => api.nodeWatches.length > 0);
      api.annotateNode({ team: "b" });
      await until("the update", () => cache.nodeAnnotations(NODE.metadata.name)?.["team"] === "b");
      assert.deepEqual(cache.nodeAnnotations(NODE.metadata.name), { team: "b" }, "from a watch event");
    },
  );
});

describe("ClusterCache snapshots", () => {
  it("reuse an unchanged pod's view from one snapshot to the next", { timeout: 30_000 }, async () => {
    await using api = await FakeApiServer.start();
    api.up = true;
    const clock = new FakeClock();
    await using cache = new ClusterCache({
      kubeConfig: kubeConfigFor(api.url),
      clock,
      log: new RecordingLogger(),
    });
    await cache.start();
    await cache.synced;
    const first = cache.snapshot(clock.now()).pods;
    const second = cache.snapshot(clock.now()).pods;
    assert.deepEqual(
      first.map((p) => p.name),
      ["web-1", "web-2", "web-3"],
    );
    assert.equal(second[0], first[0], "the same view object: nothing copied again");
  });

  it("lists in pages of 500, as client-go's reflector does", { timeout: 30_000 }, async () => {
    await using api = await FakeApiServer.start();
    api.up = true;
    const clock = new FakeClock();
    await using cache = new ClusterCache({
      kubeConfig: kubeConfigFor(api.url),
      clock,
      log: new RecordingLogger(),
    });
    await cache.start();
    await cache.synced;
    assert.deepEqual(api.podPages, ["limit=500", "continue=1&limit=500", "continue=2&limit=500"]);
    assert.equal(cache.snapshot(clock.now()).pods.length, 3);
  });

  it(
    "resolve a pod's owner through the ReplicaSet cache; pods from the list and from watch events alike",
    { timeout: 30_000 },
    async () => {
      await using api = await FakeApiServer.start();
      api.up = true;
      // web-7d9f by the Deployment naming rule would be Deployment "web": its owner says "frontend".
      api.replicaSets = [
        {
          apiVersion: "apps/v1",
          kind: "ReplicaSet",
          metadata: {
            name: "web-7d9f",
            namespace: "shop",
            resourceVersion: "3",
            ownerReferences: [
              { apiVersion: "apps/v1", kind: "Deployment", name: "frontend", uid: "d", controller: true },
            ],
          },
          spec: { replicas: 1, selector: {} },
        },
      ];
      const clock = new FakeClock();
      await using cache = new ClusterCache({
        kubeConfig: kubeConfigFor(api.url),
        clock,
        log: new RecordingLogger(),
      });
      await cache.start();
      await cache.synced;
      await until("the pod watch", () => api.podWatches.length > 0);
      const owned = (name: string, rv: string, annotations: Record<string, string> = {}): object => ({
        ...POD,
        metadata: {
          ...POD.metadata,
          name,
          uid: name,
          resourceVersion: rv,
          annotations: { ...annotations, "kubectl.kubernetes.io/last-applied-configuration": "{}" },
          labels: { app: "web", "pod-template-hash": "7d9f" },
          ownerReferences: [
            { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-7d9f", uid: "rs", controller: true },
          ],
        },
      });
      api.sendPod("ADDED", owned("web-7d9f-a", "20"));
      await until("the added pod", () => cache.snapshot(clock.now()).pods.length === 4);
      const first = cache.snapshot(clock.now()).pods.find((p) => p.name === "web-7d9f-a");
      assert.deepEqual(first?.owner, { kind: "Deployment", namespace: "shop", name: "frontend" });
      assert.deepEqual(first.annotations, {}, "no last-applied copy");
      assert.equal(
        cache.snapshot(clock.now()).pods.find((p) => p.name === "web-7d9f-a"),
        first,
        "the view with the resolved owner is kept: the next snapshot copies nothing",
      );
      api.sendPod(
        "MODIFIED",
        owned("web-7d9f-a", "21", { "controller.kubernetes.io/pod-deletion-cost": "-1" }),
      );
      await until(
        "the update",
        () =>
          cache.snapshot(clock.now()).pods.find((p) => p.name === "web-7d9f-a")?.annotations[
            "controller.kubernetes.io/pod-deletion-cost"
          ] === "-1",
      );
      const updated = cache.snapshot(clock.now()).pods.find((p) => p.name === "web-7d9f-a");
      assert.deepEqual(updated?.owner, { kind: "Deployment", namespace: "shop", name: "frontend" });
      assert.equal(
        first.annotations["controller.kubernetes.io/pod-deletion-cost"],
        undefined,
        "the old view unchanged",
      );
    },
  );
});
