import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualScheduler } from "./scheduler.ts";
import {
  DrainExpiredError,
  TargetGroup,
  type Pick,
  type ProbeResult,
  type TargetGroupEvent,
  type TargetGroupOptions,
} from "./target-group.ts";

const a = { ip: "10.1.0.1", port: 8080, name: "shop/a" };
const b = { ip: "10.1.0.2", port: 8080, name: "shop/b" };
const s = 1000;

/** A target group on a manual clock whose health checks answer from `health` (default: pass). */
function fixture(options: TargetGroupOptions = {}) {
  const scheduler = new ManualScheduler();
  const health = new Map<string, boolean>();
  const events: TargetGroupEvent[] = [];
  const probes: string[] = [];
  const tg = new TargetGroup(
    "web",
    {
      scheduler,
      probe: (target) => {
        const key = `${target.ip}:${target.port}`;
        probes.push(key);
        const result: ProbeResult =
          (health.get(key) ?? true)
            ? { ok: true }
            : { ok: false, reason: "Target.FailedHealthChecks", detail: "refused" };
        return Promise.resolve(result);
      },
      onEvent: (e) => events.push(e),
    },
    options,
  );
  const start = scheduler.now();
  return {
    scheduler,
    tg,
    health,
    events,
    probes,
    start,
    at: (sec: number) => scheduler.advance(start + sec * s - scheduler.now()),
  };
}

function picked(pick: Pick): string {
  if (pick.kind === "none") return `none: ${pick.reason}`;
  pick.lease.release();
  return pick.lease.key;
}

test("no registered target answers none (503)", () => {
  const { tg } = fixture();
  assert.equal(picked(tg.pick()), "none: the target group has no registered targets");
});

test("a registered target is initial at once, reaches the data plane after 18 s and is healthy after one passing check", async () => {
  const f = fixture();
  f.tg.register([a]);
  assert.equal(f.tg.stateOf(a), "initial");
  await f.at(17.9);
  assert.equal(picked(f.tg.pick()), "none: no target is in the data plane yet or any more");
  assert.deepEqual(f.probes, []);
  await f.at(18);
  assert.equal(f.tg.stateOf(a), "healthy");
  assert.deepEqual(f.probes, ["10.1.0.1:8080"]);
  assert.equal(picked(f.tg.pick()), "10.1.0.1:8080");
});

test("health checks run every interval; two failures make a target unhealthy, two passes bring it back", async () => {
  const f = fixture();
  f.tg.register([a, b]);
  await f.at(18);
  f.health.set("10.1.0.1:8080", false);
  await f.at(33);
  assert.equal(f.tg.stateOf(a), "healthy", "one failure is below the unhealthy threshold");
  await f.at(48);
  assert.equal(f.tg.stateOf(a), "unhealthy");
  assert.equal(f.probes.filter((p) => p === "10.1.0.1:8080").length, 3);
  assert.deepEqual(
    [picked(f.tg.pick()), picked(f.tg.pick())],
    ["10.1.0.2:8080", "10.1.0.2:8080"],
    "only healthy targets get traffic",
  );
  f.health.set("10.1.0.1:8080", true);
  await f.at(63);
  assert.equal(
    f.tg.stateOf(a),
    "unhealthy",
    "an unhealthy target needs the healthy threshold (2), not one pass",
  );
  await f.at(78);
  assert.equal(f.tg.stateOf(a), "healthy");
});

test("a new target that fails its checks becomes unhealthy after the unhealthy threshold", async () => {
  const f = fixture();
  f.health.set("10.1.0.1:8080", false);
  f.tg.register([a]);
  await f.at(18);
  assert.equal(f.tg.stateOf(a), "initial");
  await f.at(33);
  assert.equal(f.tg.stateOf(a), "unhealthy");
});

test("fail-open: when every routable target is unhealthy, traffic goes to all of them round-robin", async () => {
  const f = fixture();
  f.health.set("10.1.0.1:8080", false);
  f.health.set("10.1.0.2:8080", false);
  f.tg.register([a, b]);
  await f.at(33);
  const first = f.tg.pick();
  assert.equal(first.kind === "target" && first.failOpen, true);
  if (first.kind === "target") first.lease.release();
  assert.deepEqual([picked(f.tg.pick()), picked(f.tg.pick())].sort(), ["10.1.0.1:8080", "10.1.0.2:8080"]);
});

test("a deregistered target is draining at once but keeps getting new requests until propagation, then ends when idle", async () => {
  const f = fixture();
  f.tg.register([a, b]);
  await f.at(18);
  f.tg.deregister([a]);
  assert.equal(f.tg.stateOf(a), "draining");
  assert.deepEqual(f.tg.registeredTargets(), [b]);
  await f.at(35.9);
  const seen = new Set([picked(f.tg.pick()), picked(f.tg.pick())]);
  assert.ok(seen.has("10.1.0.1:8080"), "the data plane still routes to a draining target before propagation");
  await f.at(36);
  assert.equal(f.tg.stateOf(a), "unused", "no request in flight: draining ends as soon as new requests stop");
  assert.deepEqual([picked(f.tg.pick()), picked(f.tg.pick())], ["10.1.0.2:8080", "10.1.0.2:8080"]);
});

test("draining waits for in-flight requests and ends early when the last one finishes", async () => {
  const f = fixture();
  f.tg.register([a]);
  await f.at(18);
  const pick = f.tg.pick();
  assert.equal(pick.kind, "target");
  if (pick.kind !== "target") return;
  f.tg.deregister([a]);
  await f.at(100);
  assert.equal(f.tg.stateOf(a), "draining");
  assert.equal(picked(f.tg.pick()), "none: no target is in the data plane yet or any more");
  pick.lease.release();
  assert.equal(f.tg.stateOf(a), "unused");
  assert.equal(pick.lease.signal.aborted, false);
});

test("requests still in flight when the deregistration delay expires are aborted (502)", async () => {
  const f = fixture({ deregistrationDelaySeconds: 60 });
  f.tg.register([a]);
  await f.at(18);
  const pick = f.tg.pick();
  if (pick.kind !== "target") return assert.fail("expected a target");
  f.tg.deregister([a]);
  await f.at(77.9);
  assert.equal(pick.lease.signal.aborted, false);
  await f.at(78);
  assert.ok(pick.lease.signal.reason instanceof DrainExpiredError);
  assert.equal(f.tg.stateOf(a), "unused");
  assert.ok(f.events.some((e) => e.kind === "drain-expired" && e.inFlight === 1));
  assert.equal(picked(f.tg.pick()), "none: the target group has no registered targets");
});

test("registering a draining target again brings it back without dropping its requests", async () => {
  const f = fixture();
  f.tg.register([a]);
  await f.at(18);
  f.tg.deregister([a]);
  await f.at(19);
  f.tg.register([a]);
  assert.equal(f.tg.stateOf(a), "initial");
  await f.at(40);
  assert.equal(f.tg.stateOf(a), "healthy");
  assert.equal(picked(f.tg.pick()), "10.1.0.1:8080");
});

test("timeScale shrinks every duration", async () => {
  const f = fixture({ timeScale: 0.1 });
  f.tg.register([a]);
  await f.scheduler.advance(1799);
  assert.equal(f.tg.stateOf(a), "initial");
  await f.scheduler.advance(1);
  assert.equal(f.tg.stateOf(a), "healthy");
});

test("events tell the story of a target", async () => {
  const f = fixture({ deregistrationDelaySeconds: 30 });
  f.tg.register([a]);
  await f.at(18);
  f.tg.deregister([a]);
  await f.at(40);
  const states = f.events.filter((e) => e.kind === "state").map((e) => `${e.from}->${e.to}`);
  assert.deepEqual(states, ["none->initial", "initial->healthy", "healthy->draining", "draining->unused"]);
});
