import { test } from "node:test";
import assert from "node:assert/strict";
import type { V1Lease } from "@kubernetes/client-node";
import { decide, MicroTime } from "./leader-elector.ts";

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
