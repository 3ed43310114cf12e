import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { FakeClock } from "../domain/clock.ts";
import type { Notice } from "../domain/notice.ts";
import { NoticeDeduper } from "./dedupe.ts";

const T0 = Date.parse("2026-11-24T12:00:00Z");

function notice(over: Partial<Notice> = {}): Notice {
  return {
    id: "evt-1",
    kind: "spot-interruption",
    source: "sqs",
    target: { kind: "instance", instanceId: "i-0123456789abcdef0" },
    issuedAt: T0,
    deadline: T0 + 120_000,
    summary: "spot interruption warning",
    ...over,
  };
}

test("the same id is a duplicate (SQS redelivery)", () => {
  const d = new NoticeDeduper(new FakeClock(T0));
  assert.equal(d.duplicateOf(notice()), null);
  d.remember(notice());
  assert.match(d.duplicateOf(notice()) ?? "", /same notice id evt-1/);
});

test("the same instance, kind and deadline from another source is a duplicate; a deadline 10 s off still is", () => {
  const d = new NoticeDeduper(new FakeClock(T0));
  d.remember(notice());
  const imds = notice({ id: "imds-abc", source: "imds", deadline: T0 + 128_000 });
  assert.match(d.duplicateOf(imds) ?? "", /already handled as evt-1/);
  assert.equal(
    d.duplicateOf(notice({ id: "x", deadline: T0 + 200_000 })),
    null,
    "a different deadline is a new interruption",
  );
});

test("different kind, different target, or null vs a deadline are not duplicates", () => {
  const d = new NoticeDeduper(new FakeClock(T0));
  d.remember(notice());
  assert.equal(d.duplicateOf(notice({ id: "r", kind: "rebalance-recommendation", deadline: null })), null);
  assert.equal(
    d.duplicateOf(notice({ id: "o", target: { kind: "instance", instanceId: "i-0fffffffffffffff0" } })),
    null,
  );
  d.remember(notice({ id: "r1", kind: "rebalance-recommendation", deadline: null }));
  assert.notEqual(
    d.duplicateOf(notice({ id: "r2", kind: "rebalance-recommendation", deadline: null })),
    null,
    "two rebalances",
  );
});

test("entries expire after the TTL", async () => {
  const clock = new FakeClock(T0);
  const d = new NoticeDeduper(clock, { ttlMs: 60_000 });
  d.remember(notice());
  await clock.advance(59_999);
  assert.notEqual(d.duplicateOf(notice()), null);
  await clock.advance(1);
  assert.equal(d.duplicateOf(notice()), null);
  assert.equal(d.size, 0);
});

test("wrap: a duplicate skips the handler; a failed handling is not remembered", async () => {
  const d = new NoticeDeduper(new FakeClock(T0));
  const calls: string[] = [];
  const skipped: string[] = [];
  let fail = true;
  const handler = d.wrap(
    (n) => {
      calls.push(n.id);
      return fail ? Promise.reject(new Error("boom")) : Promise.resolve();
    },
    (n, reason) => skipped.push(`${n.id}: ${reason}`),
  );
  await assert.rejects(handler(notice()), /boom/);
  fail = false;
  await handler(notice());
  await handler(notice());
  assert.deepEqual(calls, ["evt-1", "evt-1"]);
  assert.equal(skipped.length, 1);
});

test("property: after remembering a notice, any notice with its id is a duplicate, whatever else differs", () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1 }),
      fc.option(fc.integer({ min: 0, max: 1e12 })),
      fc.string(),
      (id, deadline, instanceId) => {
        const d = new NoticeDeduper(new FakeClock(T0));
        d.remember(notice({ id }));
        return d.duplicateOf(notice({ id, deadline, target: { kind: "instance", instanceId } })) !== null;
      },
    ),
  );
});
