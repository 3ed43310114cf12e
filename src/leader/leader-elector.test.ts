import { test } from "node:test";
import assert from "node:assert/strict";
import type { CoordinationV1Api, V1Lease } from "@kubernetes/client-node";
import { FakeClock } from "../domain/clock.ts";
import { NotLeaderError } from "./fence.ts";
import { decide, LeaderElector, MicroTime } from "./leader-elector.ts";

function lease(holder: string): V1Lease {
  return { metadata: { name: "lifeboat" }, spec: { holderIdentity: holder, leaseDurationSeconds: 15 } };
}

test("acquires when there is no lease", () => {
  assert.equal(decide(null, "a", 0, 0, 15_000).kind, "acquire");
});

test("renews a lease it holds", () => {
  assert.equal(decide(lease("a"), "a", 0, 100_000, 15_000).kind, "renew");
});

test("stands by while another holder's record changed less than a lease duration ago (on our clock)", () => {
  const d = decide(lease("b"), "a", 10_000, 24_999, 15_000);
  assert.deepEqual(d, { kind: "standby", holder: "b", reason: "b holds the lease" });
});

test("takes over once the other holder has not renewed for a whole lease duration", () => {
  const d = decide(lease("b"), "a", 10_000, 25_000, 15_000);
  assert.equal(d.kind, "acquire");
  assert.match(d.reason, /b has not renewed for 15 s/);
});

test("acquires a released lease at once", () => {
  assert.equal(decide(lease(""), "a", 10_000, 10_001, 15_000).kind, "acquire");
});

test("lease times are written with microseconds, as the API server's MicroTime requires", () => {
  assert.equal(
    new MicroTime(Date.parse("2026-11-24T16:02:10.790Z")).toISOString(),
    "2026-11-24T16:02:10.790000Z",
  );
  assert.equal(JSON.stringify({ t: new MicroTime(0) }), '{"t":"1970-01-01T00:00:00.000000Z"}');
});

test("fence: a leader that cannot renew refuses writes from renewDeadline on, before a standby may take over", async () => {
  const clock = new FakeClock(0);
  let stored: V1Lease | null = null;
  let failing = false;
  const api = {
    readNamespacedLease: () =>
      stored === null
        ? Promise.reject(Object.assign(new Error("not found"), { code: 404 }))
        : Promise.resolve(stored),
    createNamespacedLease: (p: { body: V1Lease }) => {
      stored = { ...p.body, metadata: { ...p.body.metadata, resourceVersion: "1" } };
      return Promise.resolve(stored);
    },
    replaceNamespacedLease: (p: { body: V1Lease }) => {
      if (failing) return Promise.reject(Object.assign(new Error("fault: 500"), { code: 500 }));
      stored = p.body;
      return Promise.resolve(stored);
    },
  } as unknown as CoordinationV1Api;
  const quiet = { info: () => undefined, warn: () => undefined };
  const elector = new LeaderElector(
    api,
    {
      namespace: "d",
      leaseName: "l",
      identity: "a",
      leaseDurationSeconds: 15,
      renewDeadlineSeconds: 10,
      retryPeriodSeconds: 2,
    },
    clock,
    quiet,
  );
  const stop = new AbortController();
  let stepped = -1;
  const running = elector.run(
    { onStartedLeading: () => undefined, onStoppedLeading: () => (stepped = clock.now()) },
    stop.signal,
  );
  await clock.advance(0);
  assert.throws(
    () => {
      new LeaderElector(
        api,
        {
          namespace: "d",
          leaseName: "l",
          identity: "b",
          leaseDurationSeconds: 15,
          renewDeadlineSeconds: 10,
          retryPeriodSeconds: 2,
        },
        clock,
        quiet,
      ).assertHeld("x");
    },
    NotLeaderError,
    "a replica that never led may not write",
  );
  elector.assertHeld("cordon");
  await clock.advance(4_000);
  elector.assertHeld("cordon");
  failing = true; // last successful renewal at t=4 s
  await clock.advance(9_900); // t=13.9 s: 9.9 s since the last renewal, within the renew deadline
  elector.assertHeld("surge");
  await clock.advance(100); // t=14 s: 10 s since the last renewal
  assert.throws(() => {
    elector.assertHeld("surge");
  }, NotLeaderError);
  assert.ok(stepped === -1 || stepped >= 14_000);
  // A standby may acquire only 15 s after it last saw the record change (t=4 s): at t=19 s, 5 s later.
  assert.equal(decide(stored, "b", 4_000, 14_000, 15_000).kind, "standby");
  stop.abort();
  await clock.advance(2_000);
  await running;
});
