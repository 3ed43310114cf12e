import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { NonLoopbackUrlError, runLoad, UnboundedLoadError, type ResponseRecord } from "./loadgen.ts";
import { summarize } from "./summary.ts";

async function server(
  handler: http.RequestListener,
): Promise<{ url: string; sockets: Set<net.Socket> } & AsyncDisposable> {
  const sockets = new Set<net.Socket>();
  const srv = http.createServer((req, res) => {
    sockets.add(req.socket);
    handler(req, res);
  });
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`,
    sockets,
    [Symbol.asyncDispose]: async () => {
      srv.closeAllConnections();
      await new Promise<void>((resolve) =>
        srv.close(() => {
          resolve();
        }),
      );
    },
  };
}

test("sends the requested count at a steady rate, records status and target, over kept-alive connections", async () => {
  let n = 0;
  await using target = await server((_req, res) => {
    n += 1;
    res.writeHead(n % 5 === 0 ? 502 : 200, { "x-lab-target": `10.1.0.${n % 2}:8080` });
    res.end("ok");
  });
  const result = await runLoad({ url: target.url, rps: 200, maxRequests: 20, connections: 2 });
  assert.equal(result.records.length, 20);
  assert.ok(target.sockets.size <= 2, `used ${target.sockets.size} connections`);
  const summary = summarize(result.records);
  assert.deepEqual(summary.responses, { "200": 16, "502": 4 });
  assert.equal(summary.errors5xx, 4);
  assert.deepEqual(Object.keys(summary.byTarget).sort(), ["10.1.0.0:8080", "10.1.0.1:8080"]);
  const sendTimes = result.records.map((r) => r.at);
  assert.ok(
    sendTimes.at(-1)! - sendTimes[0]! >= 19 * 5 - 5,
    "19 intervals of 5 ms between the first and last send",
  );
});

test("open loop: requests keep leaving while earlier ones are unanswered", async () => {
  const held: http.ServerResponse[] = [];
  await using gate = await server((_req, res) => {
    held.push(res);
    if (held.length === 10) for (const r of held) r.end("released");
  });
  // The server answers nothing until all 10 requests arrived: a closed-loop client would wait forever.
  const result = await runLoad({ url: gate.url, rps: 100, durationSeconds: 0.1, connections: 64 });
  assert.deepEqual(summarize(result.records).responses, { "200": 10 });
});

test("client-side failures are recorded as status 0 with the error code", async () => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) =>
    probe.close(() => {
      resolve();
    }),
  );
  const refused = await runLoad({ url: `http://127.0.0.1:${port}/`, rps: 100, maxRequests: 2 });
  assert.deepEqual(
    refused.records.map((r) => [r.status, r.error]),
    [
      [0, "ECONNREFUSED"],
      [0, "ECONNREFUSED"],
    ],
  );

  await using hangs = await server(() => undefined);
  const timedOut = await runLoad({ url: hangs.url, rps: 100, maxRequests: 1, requestTimeoutSeconds: 0.05 });
  assert.deepEqual(
    timedOut.records.map((r) => [r.status, r.error]),
    [[0, "ClientTimeout"]],
  );
});

test("stops by itself after the duration, and early on abort", async () => {
  await using ok = await server((_req, res) => res.end("ok"));
  const controller = new AbortController();
  setTimeout(() => {
    controller.abort();
  }, 30);
  const result = await runLoad({ url: ok.url, rps: 100, durationSeconds: 60, signal: controller.signal });
  assert.ok(
    result.records.length > 0 && result.records.length < 6000,
    `sent ${result.records.length}, not the 6000 of the full minute`,
  );
});

test("refuses to run unbounded or towards a non-loopback address", async () => {
  await assert.rejects(runLoad({ url: "http://127.0.0.1:1/", rps: 1 }), UnboundedLoadError);
  await assert.rejects(runLoad({ url: "http://10.0.0.1/", rps: 1, maxRequests: 1 }), NonLoopbackUrlError);
});

test("summary: per-second timeline by status in simulated seconds from the origin", () => {
  const origin = 1_000_000;
  const rec = (atSec: number, status: number, error?: string): ResponseRecord => ({
    at: origin + atSec * 250, // time scale 0.25: one simulated second is 250 real ms
    status,
    latencyMs: 1,
    target: status === 0 ? undefined : "10.1.0.1:8080",
    ...(error === undefined ? {} : { error }),
  });
  const summary = summarize([rec(0, 200), rec(0.5, 200), rec(2.2, 502), rec(2.9, 0, "ECONNRESET")], {
    originMs: origin,
    timeScale: 0.25,
  });
  assert.deepEqual(summary.timeline, [
    { second: 0, byStatus: { "200": 2 } },
    { second: 1, byStatus: {} },
    { second: 2, byStatus: { "502": 1, "0": 1 } },
  ]);
  assert.equal(summary.clientErrors, 1);
  assert.deepEqual(summary.errorCodes, { ECONNRESET: 1 });
  assert.equal(summary.byTarget.none, 1);
});

test("a reused keep-alive connection closed before any response is sent again on a new one: no reset recorded; a reset on a new connection is", async () => {
  // The server closes a connection when its second request arrives, without answering: the idle-timeout
  // race of a load balancer, made certain.
  const perSocket = new Map<net.Socket, number>();
  await using lb = await server((req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    if (n === 2) {
      req.socket.destroy();
      return;
    }
    res.writeHead(200, { "x-lab-target": "10.1.0.1:8080" });
    res.end("ok");
  });
  const result = await runLoad({ url: lb.url, rps: 50, maxRequests: 4, connections: 1 });
  assert.deepEqual(
    result.records.map((r) => r.status),
    [200, 200, 200, 200],
  );
  assert.ok(
    result.records.some((r) => r.resent === true),
    "the request on the closed connection was sent again",
  );

  // Every connection reset at its first request: nothing to blame on a stale connection, so it counts.
  await using broken = await server((req) => {
    req.socket.destroy();
  });
  const failed = await runLoad({ url: broken.url, rps: 50, maxRequests: 2, connections: 1 });
  assert.deepEqual(
    failed.records.map((r) => [r.status, r.error]),
    [
      [0, "ECONNRESET"],
      [0, "ECONNRESET"],
    ],
  );
});
