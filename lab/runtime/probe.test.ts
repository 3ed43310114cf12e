import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { FakeClock } from "../../common/clock.ts";
import {
  httpCheck,
  probeSettings,
  ProbeStateMachine,
  runProber,
  tcpCheck,
  type ProbeSettings,
} from "./probe.ts";

test("probe settings take Kubernetes defaults and the time scale", () => {
  assert.deepEqual(probeSettings({}, 1), {
    initialDelayMs: 0,
    periodMs: 10_000,
    timeoutMs: 1000,
    successThreshold: 1,
    failureThreshold: 3,
  });
  assert.deepEqual(
    probeSettings(
      { initialDelaySeconds: 60, periodSeconds: 10, failureThreshold: 2, timeoutSeconds: 10 },
      0.25,
    ),
    {
      initialDelayMs: 15_000,
      periodMs: 2500,
      timeoutMs: 2500,
      successThreshold: 1,
      failureThreshold: 2,
    },
  );
});

test("readiness starts false and needs successThreshold consecutive successes", () => {
  const machine = new ProbeStateMachine({ successThreshold: 2, failureThreshold: 3 });
  assert.equal(machine.ready, false);
  assert.equal(machine.observe(true), false);
  assert.equal(machine.observe(false), false);
  assert.equal(machine.observe(true), false);
  assert.equal(machine.observe(true), true);
  assert.equal(machine.ready, true);
});

test("readiness drops only after failureThreshold consecutive failures", () => {
  const machine = new ProbeStateMachine({ successThreshold: 1, failureThreshold: 2 });
  machine.observe(true);
  assert.equal(machine.observe(false), false);
  assert.equal(machine.observe(true), false);
  assert.equal(machine.observe(false), false);
  assert.equal(machine.observe(false), true);
  assert.equal(machine.ready, false);
  assert.equal(machine.observe(false), false);
});

/** Runs a prober on a FakeClock against a scripted sequence of results; returns when readiness flipped, in ms. */
async function scriptedProber(
  settings: ProbeSettings,
  results: (elapsedMs: number) => boolean,
  runForMs: number,
): Promise<{ changes: [number, boolean][]; probesAt: number[] }> {
  const clock = new FakeClock();
  const start = clock.now();
  const changes: [number, boolean][] = [];
  const probesAt: number[] = [];
  const abort = new AbortController();
  const done = runProber({
    clock,
    settings,
    signal: abort.signal,
    due: () => clock.now() - start >= settings.initialDelayMs,
    check: () => {
      probesAt.push(clock.now() - start);
      return Promise.resolve(results(clock.now() - start));
    },
    onChange: (ready) => changes.push([clock.now() - start, ready]),
  });
  await new Promise((resolve) => setImmediate(resolve)); // let the first (immediate) probe finish at t = 0
  for (let t = 0; t < runForMs; t += 1000) await clock.advance(1000);
  abort.abort();
  await done;
  return { changes, probesAt };
}

test("the seed's probe (initialDelay 60, period 10) first probes at 60 s and turns ready there", async () => {
  const settings = probeSettings({ initialDelaySeconds: 60, periodSeconds: 10, failureThreshold: 2 }, 1);
  const { changes, probesAt } = await scriptedProber(settings, () => true, 85_000);
  assert.deepEqual(probesAt, [60_000, 70_000, 80_000]);
  assert.deepEqual(changes, [[60_000, true]]);
});

test("after failureThreshold failed periods the container turns unready, and ready again on success", async () => {
  const settings = probeSettings({ periodSeconds: 10, failureThreshold: 2 }, 1);
  // Healthy until 30 s, failing from 30 s to 60 s, healthy after.
  const { changes } = await scriptedProber(settings, (t) => t < 30_000 || t >= 60_000, 75_000);
  assert.deepEqual(changes, [
    [0, true],
    [40_000, false],
    [60_000, true],
  ]);
});

test("httpCheck passes on 2xx/3xx, fails on 5xx and on a refused port; tcpCheck on accept", async () => {
  let status = 200;
  const server = createServer((_req, res) => {
    res.writeHead(status).end();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  assert.ok(address !== null && typeof address !== "string");
  try {
    assert.equal(await httpCheck(address.port, "/ready", 1000), true);
    status = 302;
    assert.equal(await httpCheck(address.port, "/ready", 1000), true);
    status = 503;
    assert.equal(await httpCheck(address.port, "/ready", 1000), false);
    assert.equal(await tcpCheck(address.port, 1000), true);
  } finally {
    server.close();
  }
  await once(server, "close");
  assert.equal(await httpCheck(address.port, "/ready", 1000), false);
  assert.equal(await tcpCheck(address.port, 1000), false);
});
