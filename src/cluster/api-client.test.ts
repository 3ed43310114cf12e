import { describe, it, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { FakeClock } from "../domain/clock.ts";
import { limitedKubeConfig, requestKind, TokenBucket, type RequestKind } from "./api-client.ts";

test("requests are named by verb and resource as the API server's request info names them", () => {
  const cases: [string, string, RequestKind][] = [
    ["GET", "https://k/api/v1/nodes", { verb: "list", resource: "nodes" }],
    ["GET", "https://k/api/v1/nodes?watch=true&resourceVersion=5", { verb: "watch", resource: "nodes" }],
    ["GET", "https://k/api/v1/nodes/n1", { verb: "get", resource: "nodes" }],
    ["PATCH", "https://k/api/v1/nodes/n1", { verb: "patch", resource: "nodes" }],
    ["GET", "https://k/api/v1/namespaces", { verb: "list", resource: "namespaces" }],
    ["GET", "https://k/api/v1/namespaces/default", { verb: "get", resource: "namespaces" }],
    [
      "POST",
      "https://k/api/v1/namespaces/shop/pods/web-1/eviction",
      { verb: "create", resource: "pods/eviction" },
    ],
    ["DELETE", "https://k/api/v1/namespaces/shop/pods/web-1", { verb: "delete", resource: "pods" }],
    [
      "PATCH",
      "https://k/apis/apps/v1/namespaces/shop/deployments/web",
      { verb: "patch", resource: "deployments" },
    ],
    [
      "PUT",
      "https://k/apis/lifeboat.dev/v1alpha1/evacuations/e1/status",
      { verb: "update", resource: "evacuations/status" },
    ],
    ["POST", "https://k/apis/lifeboat.dev/v1alpha1/evacuations", { verb: "create", resource: "evacuations" }],
    ["GET", "https://k/version", { verb: "get", resource: "" }],
  ];
  for (const [method, url, want] of cases)
    assert.deepEqual(requestKind(method, url), want, `${method} ${url}`);
});

describe("TokenBucket", () => {
  it("lets a burst through at once, then one request per 1/qps, in order", async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ qps: 10, burst: 3, clock });
    const done: number[] = [];
    const takes = Array.from({ length: 5 }, (_, i) =>
      bucket.take().then(() => {
        done.push(i);
      }),
    );
    await Promise.resolve();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(done, [0, 1, 2], "the burst");
    await clock.advance(99);
    assert.deepEqual(done, [0, 1, 2], "not before 100 ms");
    await clock.advance(1);
    assert.deepEqual(done, [0, 1, 2, 3]);
    await clock.advance(100);
    await Promise.all(takes);
    assert.deepEqual(done, [0, 1, 2, 3, 4]);
    assert.equal(bucket.waitMs, 100, "empty: the next waits a full interval");
    await clock.advance(1_000);
    assert.equal(bucket.waitMs, 0, "refilled (up to the burst)");
  });
});

describe("limitedKubeConfig", () => {
  it("counts every request by verb, holds requests beyond the burst until tokens come, and reuses connections", async () => {
    let served = 0;
    const server: Server = createServer((req, res) => {
      served++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ kind: "NodeList", apiVersion: "v1", metadata: {}, items: [] }));
    });
    let connections = 0;
    server.on("connection", () => connections++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const base = new KubeConfig();
      base.loadFromOptions({
        clusters: [
          {
            name: "c",
            server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
            skipTLSVerify: true,
          },
        ],
        users: [{ name: "u", token: "t" }],
        contexts: [{ name: "x", cluster: "c", user: "u" }],
        currentContext: "x",
      });
      const clock = new FakeClock();
      const seen: RequestKind[] = [];
      const kc = limitedKubeConfig(base, { qps: 1, burst: 2, clock, onRequest: (k) => seen.push(k) });
      const core = kc.makeApiClient(CoreV1Api);
      const calls = [core.listNode(), core.listNode(), core.listNode()];
      await Promise.all(calls.slice(0, 2));
      assert.equal(served, 2, "two within the burst");
      // The third sleeps on the clock until its token is due (the request starts a few ticks later).
      for (let i = 0; i < 1000 && clock.pending === 0; i++) await new Promise((r) => setImmediate(r));
      assert.equal(clock.pending, 1, "the third waits for a token");
      assert.equal(served, 2, "and is not sent meanwhile");
      await clock.advance(1_000);
      await calls[2];
      assert.equal(served, 3);
      assert.deepEqual(seen, Array(3).fill({ verb: "list", resource: "nodes" }));
      await clock.advance(2_000);
      await core.listNode();
      await core.listNode();
      assert.ok(
        connections <= 2,
        `one connection pool for every request (${connections} connections for 5 requests)`,
      );
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    }
  });
});
