import { test } from "node:test";
import assert from "node:assert/strict";
import type { Notice } from "../../domain/notice.ts";
import { annotationNotice } from "../manual/manual.ts";
import { decideHandoff, decodeHandoff, encodeHandoff, InvalidHandoffError } from "./handoff.ts";

const T = Date.parse("2026-11-24T12:00:00Z");

function notice(over: Partial<Notice> = {}): Notice {
  return {
    id: "imds-spot/abc",
    kind: "spot-interruption",
    source: "imds",
    target: { kind: "instance", instanceId: "i-0123456789abcdef0" },
    issuedAt: T,
    deadline: T + 120_000,
    summary: "spot interruption notice (IMDS)",
    ...over,
  };
}

test("a handoff read back by the controller is the agent's notice, aimed at the node by name", () => {
  const value = encodeHandoff(notice());
  assert.deepEqual(annotationNotice({ nodeName: "ip-10-0-1-2", value, now: T + 999_000 }), {
    id: "imds-spot/abc",
    kind: "spot-interruption",
    source: "imds",
    target: { kind: "node", nodeName: "ip-10-0-1-2" },
    issuedAt: T,
    deadline: T + 120_000,
    summary: "spot interruption notice (IMDS) [handed over by lifeboat agent on node ip-10-0-1-2]",
  });
  const rebalance = encodeHandoff(
    notice({ id: "imds-rebalance/x", kind: "rebalance-recommendation", deadline: null }),
  );
  assert.equal(annotationNotice({ nodeName: "n", value: rebalance, now: T }).deadline, null);
});

test("a scheduled change's kind survives the handoff; a handoff without one (an older agent) has none", () => {
  const retirement = notice({
    id: "imds-scheduled/e-1/x",
    kind: "scheduled-change",
    scheduledChange: "retirement",
  });
  assert.equal(
    annotationNotice({ nodeName: "n", value: encodeHandoff(retirement), now: T }).scheduledChange,
    "retirement",
  );
  const { scheduledChange: _, ...withoutKind } = retirement;
  const older = encodeHandoff(withoutKind);
  assert.equal(annotationNotice({ nodeName: "n", value: older, now: T }).scheduledChange, undefined);
});

test("a hand-written deadline still works next to handoffs", () => {
  assert.equal(annotationNotice({ nodeName: "n", value: "2m", now: T }).deadline, T + 120_000);
});

test("a broken handoff is refused with a reason, never half-read", () => {
  assert.throws(() => decodeHandoff("{not json"), InvalidHandoffError);
  assert.throws(
    () =>
      decodeHandoff(
        JSON.stringify({
          v: 1,
          source: "imds",
          id: "x",
          kind: "manual",
          issuedAt: "2026-11-24T12:00:00Z",
          deadline: null,
        }),
      ),
    /kind/,
  );
  assert.throws(
    () =>
      decodeHandoff(
        JSON.stringify({
          v: 2,
          source: "imds",
          id: "x",
          kind: "spot-interruption",
          issuedAt: "x",
          deadline: null,
        }),
      ),
    /v:.*issuedAt/s,
  );
  assert.throws(() => annotationNotice({ nodeName: "n", value: '{"v":1}', now: T }), InvalidHandoffError);
});

test("decideHandoff: write on an empty node; same id is kept; more urgent replaces, less urgent does not", () => {
  const spot = notice();
  const rebalance = notice({ id: "imds-rebalance/r", kind: "rebalance-recommendation", deadline: null });
  const later = notice({ id: "imds-scheduled/e/1", kind: "scheduled-change", deadline: T + 86_400_000 });
  assert.equal(decideHandoff(undefined, spot).kind, "write");
  assert.equal(decideHandoff(encodeHandoff(spot), spot).kind, "keep");
  assert.equal(decideHandoff(encodeHandoff(rebalance), spot).kind, "write", "a deadline beats none");
  assert.equal(decideHandoff(encodeHandoff(spot), rebalance).kind, "keep", "none does not beat a deadline");
  assert.equal(decideHandoff(encodeHandoff(spot), later).kind, "keep", "a later deadline does not replace");
  assert.equal(decideHandoff(encodeHandoff(later), spot).kind, "write", "an earlier deadline replaces");
  const newer = notice({ id: "imds-rebalance/r2", kind: "rebalance-recommendation", deadline: null });
  assert.equal(decideHandoff(encodeHandoff(rebalance), newer).kind, "write");
  assert.equal(decideHandoff("2m", rebalance).kind, "keep", "a person's deadline is not replaced by none");
  assert.equal(decideHandoff("2m", spot).kind, "write", "the cloud's deadline replaces a person's");
  assert.equal(decideHandoff("{garbage", spot).kind, "write");
  const written = decideHandoff(undefined, spot);
  assert.deepEqual(
    written.kind === "write" ? decodeHandoff(written.value).deadline : null,
    "2026-11-24T12:02:00.000Z",
  );
});
