import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type net from "node:net";
import type { AddressInfo } from "node:net";
import { errorHeader, startAlbProxy, targetHeader, targetNameHeader, type AlbProxyOptions } from "./proxy.ts";
import { realScheduler } from "./scheduler.ts";
import { TargetGroup, type TargetRef, type TargetGroupOptions } from "./target-group.ts";
import type { Resolver } from "./resolve.ts";
import { freePort } from "../controlplane/ports.ts";

const timeScale = 0.005; // connect timeout 50 ms, idle timeout 300 ms

interface Backend extends AsyncDisposable {
  port: number;
}

async function backend(handler: http.RequestListener): Promise<Backend> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    [Symbol.asyncDispose]: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}

/** A target group on real timers whose targets are routable at once (no propagation, checks always pass). */
async function group(targets: TargetRef[], options: TargetGroupOptions = {}): Promise<TargetGroup> {
  const tg = new TargetGroup(
    "web",
    { scheduler: realScheduler, probe: () => Promise.resolve({ ok: true }) },
    { propagationSeconds: 0, timeScale, ...options },
  );
  tg.register(targets);
  while (targets.some((t) => tg.stateOf(t) !== "healthy")) await new Promise((r) => setTimeout(r, 5));
  return tg;
}

const loopback =
  (ports: Record<string, number>): Resolver =>
  (ip) => {
    const port = ports[ip];
    return port === undefined ? null : { host: "127.0.0.1", port };
  };

async function proxyFor(tg: TargetGroup, options: Partial<AlbProxyOptions> & { resolve: Resolver }) {
  return startAlbProxy({ timeScale, routes: [{ targetGroup: tg }], ...options });
}

async function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

test("forwards to the target, names it in a header, and round-robins over targets", async () => {
  await using one = await backend((_req, res) => res.end("one"));
  await using two = await backend((_req, res) => res.end("two"));
  const tg = await group([
    { ip: "10.1.0.1", port: 8080, name: "shop/a" },
    { ip: "10.1.0.2", port: 8080 },
  ]);
  await using proxy = await proxyFor(tg, {
    resolve: loopback({ "10.1.0.1": one.port, "10.1.0.2": two.port }),
  });
  const first = await get(`${proxy.url}/x`);
  const second = await get(`${proxy.url}/x`);
  assert.deepEqual([first.body, second.body].sort(), ["one", "two"]);
  assert.equal(first.status, 200);
  const byBody = first.body === "one" ? first : second;
  assert.equal(byBody.headers[targetHeader], "10.1.0.1:8080");
  assert.equal(byBody.headers[targetNameHeader], "shop/a");
  tg.close();
});

test("routes by Host header and path prefix, 404 when no rule matches", async () => {
  await using api = await backend((_req, res) => res.end("api"));
  await using web = await backend((_req, res) => res.end("web"));
  const apiTg = await group([{ ip: "10.1.0.1", port: 80 }]);
  const webTg = await group([{ ip: "10.1.0.2", port: 80 }]);
  await using proxy = await startAlbProxy({
    timeScale,
    resolve: loopback({ "10.1.0.1": api.port, "10.1.0.2": web.port }),
    routes: [
      { pathPrefix: "/api", targetGroup: apiTg },
      { host: "shop.example", targetGroup: webTg },
    ],
  });
  assert.equal((await get(`${proxy.url}/api/items`)).body, "api");
  assert.equal((await get(`${proxy.url}/`, { host: "shop.example" })).body, "web");
  assert.equal((await get(`${proxy.url}/`, { host: "other.example" })).status, 404);
  apiTg.close();
  webTg.close();
});

test("503 when the target group has no registered targets", async () => {
  const tg = await group([]);
  await using proxy = await proxyFor(tg, { resolve: loopback({}) });
  const res = await get(proxy.url);
  assert.equal(res.status, 503);
  assert.equal(res.headers[errorHeader], "NoTargets");
});

test("502 when the target refuses the connection", async () => {
  const port = await freePort();
  const tg = await group([{ ip: "10.1.0.1", port: 8080 }]);
  await using proxy = await proxyFor(tg, { resolve: loopback({ "10.1.0.1": port }) });
  const res = await get(proxy.url);
  assert.equal(res.status, 502);
  assert.equal(res.headers[errorHeader], "ECONNREFUSED");
  assert.equal(res.headers[targetHeader], "10.1.0.1:8080");
  tg.close();
});

test("502 when the target resets or closes the connection with the request outstanding", async () => {
  await using resets = await backend((req) => req.socket.resetAndDestroy());
  await using closes = await backend((req) => req.socket.end());
  for (const port of [resets.port, closes.port]) {
    const tg = await group([{ ip: "10.1.0.1", port: 8080 }]);
    await using proxy = await proxyFor(tg, { resolve: loopback({ "10.1.0.1": port }) });
    const res = await get(proxy.url);
    assert.equal(res.status, 502);
    assert.equal(res.headers[errorHeader], "ECONNRESET");
    tg.close();
  }
});

test("dead host: 502 at once when refused, 504 after the connect timeout when silent", async () => {
  const tg = await group([{ ip: "10.1.0.1", port: 8080 }]);
  await using refusing = await proxyFor(tg, { resolve: loopback({}), deadHost: "refuse" });
  assert.equal((await get(refusing.url)).status, 502);
  await using silent = await proxyFor(tg, { resolve: loopback({}), deadHost: () => "blackhole" });
  const res = await get(silent.url);
  assert.equal(res.status, 504);
  assert.equal(res.headers[errorHeader], "ConnectTimeout");
  tg.close();
});

test("504 when the target accepts but sends nothing within the idle timeout", async () => {
  await using hangs = await backend(() => undefined);
  const tg = await group([{ ip: "10.1.0.1", port: 8080 }]);
  await using proxy = await proxyFor(tg, { resolve: loopback({ "10.1.0.1": hangs.port }) });
  const res = await get(proxy.url);
  assert.equal(res.status, 504);
  assert.equal(res.headers[errorHeader], "IdleTimeout");
  tg.close();
});

test("502 for a request still in flight when the deregistration delay expires", async () => {
  await using slow = await backend(() => undefined);
  const target = { ip: "10.1.0.1", port: 8080 };
  const tg = await group([target], { deregistrationDelaySeconds: 20 }); // 100 ms, below the 300 ms idle timeout
  await using proxy = await proxyFor(tg, { resolve: loopback({ "10.1.0.1": slow.port }) });
  const pending = get(proxy.url);
  while (tg.describeTargetHealth()[0]?.inFlight !== 1) await new Promise((r) => setTimeout(r, 5));
  tg.deregister([target]);
  const res = await pending;
  assert.equal(res.status, 502);
  assert.equal(res.headers[errorHeader], "DrainExpired");
  assert.equal(tg.stateOf(target), "unused");
  tg.close();
});

test("the proxy keeps connections to targets alive across requests", async () => {
  const sockets = new Set<net.Socket>();
  await using counting = await backend((req, res) => {
    sockets.add(req.socket);
    res.end("ok");
  });
  const tg = await group([{ ip: "10.1.0.1", port: 8080 }]);
  await using proxy = await proxyFor(tg, { resolve: loopback({ "10.1.0.1": counting.port }) });
  for (let i = 0; i < 5; i++) assert.equal((await get(proxy.url)).status, 200);
  assert.equal(sockets.size, 1);
  tg.close();
});

test("the resolver may only answer loopback addresses", async () => {
  const tg = await group([{ ip: "10.1.0.1", port: 8080 }]);
  await using proxy = await proxyFor(tg, { resolve: () => ({ host: "10.1.0.1", port: 8080 }) });
  const res = await get(proxy.url);
  assert.equal(res.status, 500);
  assert.equal(res.headers[errorHeader], "NonLoopbackTarget");
  tg.close();
});
