import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { annotationNotice, InvalidDeadlineError, manualNotice, parseDeadline } from "./manual.ts";

const NOW = Date.parse("2026-11-24T12:00:00Z");

test("deadline values: now, durations, RFC 3339", () => {
  const cases: [string, number][] = [
    ["now", NOW],
    ["NOW", NOW],
    ["0s", NOW],
    ["90s", NOW + 90_000],
    ["2m", NOW + 120_000],
    ["1h30m", NOW + 5_400_000],
    ["1.5m", NOW + 90_000],
    ["500ms", NOW + 500],
    [" 2m ", NOW + 120_000],
    ["2026-11-24T12:05:00Z", NOW + 300_000],
    ["2026-11-24T13:05:00+01:00", NOW + 300_000],
    ["2026-11-24T12:00:01.5Z", NOW + 1500],
  ];
  for (const [value, expected] of cases) assert.equal(parseDeadline(value, NOW), expected, value);
});

test("bad deadline values throw InvalidDeadlineError with the value and a hint", () => {
  for (const [value, why] of [
    ["", /empty/],
    ["soon", /not a duration/],
    ["2", /not a duration/],
    ["2 m", /not a duration/],
    ["2mx", /not a duration/],
    ["-2m", /negative/],
    ["2026-11-24T12:05", /seconds and a zone/],
    ["2026-11-24 12:05:00Z", /not a duration/],
    ["2026-13-45T12:05:00Z", /not a real date/],
  ] as const) {
    assert.throws(
      () => parseDeadline(value, NOW),
      (err: unknown) =>
        err instanceof InvalidDeadlineError &&
        err.value === value &&
        why.test(err.message) &&
        /Use "now"/.test(err.message),
      value,
    );
  }
});

test("property: any h/m/s combination parses to now + its sum", () => {
  fc.assert(
    fc.property(fc.nat(48), fc.nat(59), fc.nat(59), (h, m, s) => {
      const value = `${h}h${m}m${s}s`;
      return parseDeadline(value, NOW) === NOW + ((h * 60 + m) * 60 + s) * 1000;
    }),
  );
});

test("manualNotice targets the node by name", () => {
  assert.deepEqual(
    manualNotice({ nodeName: "ip-10-0-1-5", deadlineMs: NOW + 120_000, now: NOW, requestId: "req-1" }),
    {
      id: "req-1",
      kind: "manual",
      source: "manual",
      target: { kind: "node", nodeName: "ip-10-0-1-5" },
      issuedAt: NOW,
      deadline: NOW + 120_000,
      summary: "manual evacuation of node ip-10-0-1-5 (deadline 2026-11-24T12:02:00.000Z)",
    },
  );
  assert.equal(manualNotice({ nodeName: "n", deadlineMs: null, now: NOW, requestId: "r" }).deadline, null);
});

test("annotation: stable id across reads, deadline from when it was first seen, source annotation", () => {
  const first = annotationNotice({ nodeName: "n1", value: "2m", now: NOW });
  const later = annotationNotice({ nodeName: "n1", value: "2m", now: NOW + 30_000 });
  assert.equal(first.id, later.id);
  assert.equal(first.source, "annotation");
  assert.equal(first.deadline, NOW + 120_000);
  assert.deepEqual(first.target, { kind: "node", nodeName: "n1" });
  assert.throws(
    () => annotationNotice({ nodeName: "n1", value: "yesterday", now: NOW }),
    InvalidDeadlineError,
  );
});
