import assert from "node:assert/strict";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { test } from "node:test";
import { startFaultProxy, type FaultProxy } from "./proxy.ts";

/** A loopback upstream that records what reached it; `/stream` sends one chunk now and one on `release()`. */
async function upstream(): Promise<{
  url: string;
  seen: { method: string; url: string; body: string }[];
  release: () => void;
  server: Server;
}> {
  const seen: { method: string; url: string; body: string }[] = [];
  const pending: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", body });
      if (req.url?.includes("watch=1") === true) {
        res.writeHead(200, { "content-type": "application/json" });
        res.write('{"type":"ADDED"}\n');
        pending.push(res);
        return;
      }
      res.writeHead(201, { "content-type": "text/plain", "x-upstream": "yes" });
      res.end(`echo ${req.method} ${req.url} ${body}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("no port");
  return {
    url: `http://127.0.0.1:${addr.port}`,
    seen,
    release: () => {
      for (const res of pending.splice(0)) res.end('{"type":"DELETED"}\n');
    },
    server,
  };
}

interface Reply {
  status: number;
  headers: IncomingMessage["headers"];
  body: string;
}

function call(
  base: string,
  method: string,
  path: string,
  body = "",
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers, agent: false }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function withProxy(
  flavor: "kube" | "aws",
  fn: (proxy: FaultProxy, up: Awaited<ReturnType<typeof upstream>>) => Promise<void>,
): Promise<void> {
  const up = await upstream();
  const proxy = await startFaultProxy({ upstream: up.url, flavor });
  try {
    await fn(proxy, up);
  } finally {
    up.release();
    await proxy.close();
    up.server.closeAllConnections();
    await new Promise((r) => up.server.close(r));
  }
}

const SCALE = "/apis/apps/v1/namespaces/default/deployments/web/scale";

test("requests pass through unchanged and are recorded with their verb and resource", async () => {
  await withProxy("kube", async (proxy, up) => {
    const reply = await call(proxy.url, "PUT", SCALE, '{"spec":{"replicas":3}}');
    assert.equal(reply.status, 201);
    assert.equal(reply.headers["x-upstream"], "yes");
    assert.equal(reply.body, `echo PUT ${SCALE} {"spec":{"replicas":3}}`);
    assert.deepEqual(
      up.seen.map((s) => s.body),
      ['{"spec":{"replicas":3}}'],
    );
    assert.deepEqual(
      proxy.requests.map((r) => [r.verb, r.resource, r.name, r.outcome, r.status, r.reachedUpstream]),
      [["update", "deployments/scale", "web", "forwarded", 201, true]],
    );
  });
});

test("a watch streams: the first event arrives before the upstream ends the response", async () => {
  await withProxy("kube", async (proxy, up) => {
    const first = await new Promise<string>((resolve, reject) => {
      const req = request(`${proxy.url}/api/v1/pods?watch=1`, { agent: false }, (res) => {
        res.once("data", (c: Buffer) => {
          resolve(c.toString());
        });
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(first, '{"type":"ADDED"}\n');
    assert.equal(proxy.requests[0]?.verb, "watch");
    up.release();
  });
});

test("a status fault answers in the Kubernetes Status shape and never reaches the upstream", async () => {
  await withProxy("kube", async (proxy, up) => {
    const rule = proxy.inject({
      match: { verb: "update", resource: "deployments/scale" },
      fault: { kind: "status", status: 409 },
      times: 1,
    });
    const failed = await call(proxy.url, "PUT", SCALE, "{}");
    assert.equal(failed.status, 409);
    const status = JSON.parse(failed.body) as { kind: string; reason: string; code: number };
    assert.deepEqual([status.kind, status.reason, status.code], ["Status", "Conflict", 409]);
    assert.equal(up.seen.length, 0);
    assert.equal((await call(proxy.url, "PUT", SCALE, "{}")).status, 201, "times: 1 fails only the first");
    assert.deepEqual([rule.matched, rule.failed], [2, 1]);
    assert.equal((await call(proxy.url, "GET", SCALE)).status, 201, "a GET does not match verb update");
  });
});

test("when: response forwards the request and replaces the answer: the upstream acted, the client saw 500", async () => {
  await withProxy("kube", async (proxy, up) => {
    proxy.inject({ match: { verb: "update" }, fault: { kind: "status", status: 500 }, when: "response" });
    assert.equal((await call(proxy.url, "PUT", SCALE, "{}")).status, 500);
    assert.equal(up.seen.length, 1);
    assert.equal(proxy.requests[0]?.reachedUpstream, true);
  });
});

test("reset destroys the connection; hang stays silent until its time is up", async () => {
  await withProxy("kube", async (proxy, up) => {
    proxy.inject({ match: { verb: "patch" }, fault: { kind: "reset" } });
    proxy.inject({ match: { verb: "delete" }, fault: { kind: "hang", ms: 300 } });
    await assert.rejects(call(proxy.url, "PATCH", "/api/v1/nodes/n1", "{}"), /socket hang up|ECONNRESET/);
    const started = Date.now();
    await assert.rejects(
      call(proxy.url, "DELETE", "/api/v1/namespaces/default/pods/p"),
      /socket hang up|ECONNRESET/,
    );
    assert.ok(Date.now() - started >= 250, `hung ${Date.now() - started} ms`);
    assert.equal(up.seen.length, 0);
  });
});

test("unreachable cuts open watches, resets new connections for its window, then lets them through", async () => {
  await withProxy("kube", async (proxy) => {
    const cut = new Promise<string>((resolve) => {
      const req = request(`${proxy.url}/api/v1/pods?watch=1`, { agent: false }, (res) => {
        res.on("data", () => undefined);
        res.on("close", () => {
          resolve(res.complete ? "completed" : "cut");
        });
      });
      req.on("error", () => {
        resolve("cut");
      });
      req.end();
    });
    await new Promise((r) => setTimeout(r, 100));
    proxy.unreachable(400);
    assert.equal(await cut, "cut");
    await assert.rejects(call(proxy.url, "GET", "/api/v1/nodes"), /ECONNRESET|socket hang up/);
    await new Promise((r) => setTimeout(r, 450));
    assert.equal((await call(proxy.url, "GET", "/api/v1/nodes")).status, 201);
  });
});

test("the AWS flavor matches the action (query protocol body or X-Amz-Target) and answers in that protocol", async () => {
  await withProxy("aws", async (proxy, up) => {
    proxy.inject({ match: { action: "DeleteMessage" }, fault: { kind: "status", status: 500 } });
    proxy.inject({ match: { action: "CompleteLifecycleAction" }, fault: { kind: "status", status: 429 } });
    const json = await call(proxy.url, "POST", "/", "{}", { "x-amz-target": "AmazonSQS.DeleteMessage" });
    assert.equal(json.status, 500);
    assert.equal((JSON.parse(json.body) as { __type: string }).__type, "InternalFailure");
    const form = "Action=CompleteLifecycleAction&Version=2011-01-01";
    const xml = await call(proxy.url, "POST", "/", form, {
      "content-type": "application/x-www-form-urlencoded",
    });
    assert.equal(xml.status, 429);
    assert.match(xml.body, /<Code>ThrottlingException<\/Code>/);
    const ok = await call(proxy.url, "POST", "/", "Action=RecordLifecycleActionHeartbeat");
    assert.equal(ok.status, 201);
    assert.deepEqual(
      up.seen.map((s) => s.body),
      ["Action=RecordLifecycleActionHeartbeat"],
    );
    assert.deepEqual(
      proxy.requests.map((r) => r.action),
      ["DeleteMessage", "CompleteLifecycleAction", "RecordLifecycleActionHeartbeat"],
    );
  });
});
