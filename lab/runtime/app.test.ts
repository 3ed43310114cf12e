import { test } from "node:test";
import assert from "node:assert/strict";
import { Agent, request } from "node:http";
import { PodApp, type PodAppOptions } from "./app.ts";

function options(overrides: Partial<PodAppOptions> = {}): PodAppOptions {
  return {
    identity: { namespace: "default", name: "web-1", node: "node-a", podIP: "10.244.1.2" },
    requestDelayMs: 0,
    healthPaths: ["/healthz"],
    keepAliveTimeoutMs: 60_000,
    ignoreSigterm: false,
    ...overrides,
  };
}

interface Reply {
  status: number;
  body: string;
  connection: string | undefined;
}

function get(port: number, path: string, agent?: Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent: agent ?? false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

function errorCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String(err.code) : undefined;
}

test("every request gets 200 and a body naming the pod; health paths answer at once", async () => {
  const app = await PodApp.start(options({ requestDelayMs: 60_000 }));
  try {
    const health = await get(app.port, "/healthz");
    assert.equal(health.status, 200);
    const reply = await get(app.port, "/orders?delay=5");
    assert.equal(reply.status, 200);
    assert.deepEqual(JSON.parse(reply.body), {
      pod: "web-1",
      namespace: "default",
      node: "node-a",
      podIP: "10.244.1.2",
      path: "/orders",
      delayMs: 5,
    });
  } finally {
    app.kill();
  }
});

test("SIGTERM: new connections are refused, in-flight requests finish and their connections close", async () => {
  const app = await PodApp.start(options());
  const agent = new Agent({ keepAlive: true });
  try {
    const slow = get(app.port, "/?delay=300", agent);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(app.inFlight, 1);
    const shutdown = app.shutdown(5000);
    await assert.rejects(get(app.port, "/"), (err) => errorCode(err) === "ECONNREFUSED");
    const reply = await slow;
    assert.equal(reply.status, 200);
    assert.equal(reply.connection, "close");
    assert.deepEqual(await shutdown, { kind: "drained", inFlightAtSigterm: 1 });
  } finally {
    agent.destroy();
    app.kill();
  }
});

test("SIGKILL at the end of the grace period resets requests still in flight", async () => {
  const app = await PodApp.start(options());
  try {
    const slow = get(app.port, "/?delay=10000");
    await new Promise((resolve) => setTimeout(resolve, 50));
    const outcome = await app.shutdown(100);
    assert.deepEqual(outcome, { kind: "killed", inFlightAtKill: 1 });
    await assert.rejects(slow, (err) => errorCode(err) === "ECONNRESET");
  } finally {
    app.kill();
  }
});

test("an app that ignores SIGTERM serves new connections until it is killed", async () => {
  const app = await PodApp.start(options({ ignoreSigterm: true }));
  try {
    const shutdown = app.shutdown(300);
    const reply = await get(app.port, "/healthz");
    assert.equal(reply.status, 200);
    assert.equal((await shutdown).kind, "killed");
    await assert.rejects(get(app.port, "/"), (err) => errorCode(err) === "ECONNREFUSED");
  } finally {
    app.kill();
  }
});

test("kill (a dead host) resets open connections at once", async () => {
  const app = await PodApp.start(options());
  const slow = get(app.port, "/?delay=10000");
  await new Promise((resolve) => setTimeout(resolve, 50));
  app.kill();
  await assert.rejects(slow, (err) => errorCode(err) === "ECONNRESET");
});
