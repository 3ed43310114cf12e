import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Metrics } from "./metrics.ts";
import { assessHealth, startObservabilityServer } from "./server.ts";
import type { HealthInputs, HealthReport } from "./server.ts";

function inputs(overrides: Partial<HealthInputs> = {}): HealthInputs {
  return {
    now: 100_000,
    loop: { kind: "waiting", dueAt: 101_000 },
    maxStallMs: 60_000,
    informersSynced: true,
    leadership: { kind: "leader" },
    ...overrides,
  };
}

const healthy: HealthReport = {
  live: { ok: true, reason: "ticking" },
  ready: { ok: true, reason: "leader" },
};

describe("assessHealth", () => {
  test("a hung reconcile fails liveness once it has run longer than the limit", () => {
    assert.deepEqual(assessHealth(inputs({ loop: { kind: "reconciling", since: 90_000 } })).live, {
      ok: true,
      reason: "reconciling for 10.0s",
    });
    assert.deepEqual(assessHealth(inputs({ loop: { kind: "reconciling", since: 30_000 } })).live, {
      ok: false,
      reason: "a reconcile has been running for 70.0s, more than 60.0s: the loop is stuck",
    });
  });

  test("a loop that never begins its next reconcile fails liveness once overdue by more than the limit", () => {
    assert.equal(assessHealth(inputs({ loop: { kind: "waiting", dueAt: 101_000 } })).live.ok, true);
    assert.equal(assessHealth(inputs({ loop: { kind: "waiting", dueAt: 50_000 } })).live.ok, true);
    assert.equal(assessHealth(inputs({ loop: { kind: "waiting", dueAt: 39_000 } })).live.ok, false);
  });

  test("a replica with no reconcile loop (standby) is alive", () => {
    assert.equal(assessHealth(inputs({ loop: { kind: "idle", reason: "not leading" } })).live.ok, true);
  });

  test("ready needs synced informers, then leader, healthy standby or no election", () => {
    assert.deepEqual(assessHealth(inputs({ informersSynced: false })).ready, {
      ok: false,
      reason: "informers have not synced yet",
    });
    assert.equal(assessHealth(inputs({ leadership: { kind: "disabled" } })).ready.ok, true);
    assert.equal(assessHealth(inputs({ leadership: { kind: "leader" } })).ready.ok, true);
    assert.deepEqual(
      assessHealth(inputs({ leadership: { kind: "standby", healthy: true, reason: "lease held by b" } }))
        .ready,
      {
        ok: true,
        reason: "informers synced; healthy standby (lease held by b)",
      },
    );
    assert.deepEqual(
      assessHealth(
        inputs({ leadership: { kind: "standby", healthy: false, reason: "cannot read the lease" } }),
      ).ready,
      {
        ok: false,
        reason: "informers synced; unhealthy standby: cannot read the lease",
      },
    );
  });
});

describe("startObservabilityServer", () => {
  test("serves /metrics, /healthz and /readyz on a free loopback port", async () => {
    const metrics = new Metrics();
    metrics.setLeader(true);
    let report: HealthReport = healthy;
    await using server = await startObservabilityServer({
      host: "127.0.0.1",
      port: 0,
      metrics,
      health: () => report,
    });
    assert.equal(server.address.host, "127.0.0.1");
    assert.ok(server.address.port > 0);

    const m = await fetch(`${server.url}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.headers.get("content-type") ?? "", /^text\/plain/);
    assert.match(await m.text(), /^lifeboat_leader 1$/m);

    const live = await fetch(`${server.url}/healthz`);
    assert.equal(live.status, 200);
    assert.deepEqual(await live.json(), { ok: true, reason: "ticking" });

    report = { live: healthy.live, ready: { ok: false, reason: "informers have not synced yet" } };
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { ok: false, reason: "informers have not synced yet" });
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  test("unknown paths are 404, writes are 405, and a failing health function is 500", async () => {
    await using server = await startObservabilityServer({
      host: "127.0.0.1",
      port: 0,
      health: () => {
        throw new Error("boom");
      },
    });
    assert.equal((await fetch(`${server.url}/nope`)).status, 404);
    assert.equal((await fetch(`${server.url}/metrics`)).status, 404, "no metrics given: not served");
    assert.equal((await fetch(`${server.url}/healthz`, { method: "POST" })).status, 405);
    const failed = await fetch(`${server.url}/healthz`);
    assert.equal(failed.status, 500);
    assert.match(await failed.text(), /boom/);
  });

  test("closing frees the port, and a busy port is an error", async () => {
    const first = await startObservabilityServer({ host: "127.0.0.1", port: 0, health: () => healthy });
    const port = first.address.port;
    await assert.rejects(
      startObservabilityServer({ host: "127.0.0.1", port, health: () => healthy }),
      /EADDRINUSE/,
    );
    await first.close();
    await first.close();
    await using again = await startObservabilityServer({ host: "127.0.0.1", port, health: () => healthy });
    assert.equal(again.address.port, port);
  });
});
