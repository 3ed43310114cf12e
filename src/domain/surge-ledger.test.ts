import assert from "node:assert/strict";
import { test } from "node:test";
import {
  parseLedger,
  planLedgerChange,
  RETIRED_RETENTION_MS,
  serializeLedger,
  type LedgerEntry,
} from "./surge-ledger.ts";

const T = Date.parse("2026-01-01T00:00:00.000Z");
const surge = (at: number, records: { evacuation: string; pods: string[] }[]) =>
  ({ kind: "surge", records, at }) as const;
const retire = (at: number, ids: string[], legacy = false) =>
  ({
    kind: "retire",
    at,
    surges: ids.map((id) => ({
      id,
      evacuation: id.split("/")[0] ?? "",
      pods: [id.split("/")[1] ?? ""],
      by: 1,
      legacy,
    })),
  }) as const;

test("a surge adds one entry per evacuation and is a no-op when repeated (the pods are already in the ledger)", () => {
  const first = planLedgerChange(
    [],
    surge(T, [
      { evacuation: "e1", pods: ["web-a", "web-b"] },
      { evacuation: "e2", pods: ["web-c"] },
    ]),
  );
  assert.equal(first.delta, 3);
  assert.deepEqual(
    first.entries.map((e) => [e.id, e.evacuation, e.pods, e.by, e.retiredAt]),
    [
      ["e1/web-a", "e1", ["web-a", "web-b"], 2, null],
      ["e2/web-c", "e2", ["web-c"], 1, null],
    ],
  );
  const again = planLedgerChange(
    first.entries,
    surge(T + 5_000, [{ evacuation: "e1", pods: ["web-a", "web-b"] }]),
  );
  assert.equal(again.delta, 0);
  assert.deepEqual(again.entries, first.entries);
  assert.deepEqual(
    again.touched.map((e) => e.id),
    ["e1/web-a"],
    "the existing entry is reported",
  );
  const more = planLedgerChange(
    first.entries,
    surge(T + 5_000, [{ evacuation: "e1", pods: ["web-b", "web-d"] }]),
  );
  assert.equal(more.delta, 1, "only the pod no entry names yet");
  assert.deepEqual(more.entries.at(-1)?.pods, ["web-d"]);
});

test("a retire removes `by` once: repeated, or for a surge retired and pruned long ago, it writes nothing", () => {
  const open = planLedgerChange([], surge(T, [{ evacuation: "e1", pods: ["web-a"] }])).entries;
  const retired = planLedgerChange(open, retire(T + 10_000, ["e1/web-a"]));
  assert.equal(retired.delta, -1);
  assert.equal(retired.entries[0]?.retiredAt, T + 10_000);
  const again = planLedgerChange(retired.entries, retire(T + 12_000, ["e1/web-a"]));
  assert.equal(again.delta, 0);
  assert.equal(again.touched[0]?.retiredAt, T + 10_000);
  const later = T + 10_000 + RETIRED_RETENTION_MS;
  const pruned = planLedgerChange(retired.entries, surge(later, [{ evacuation: "e3", pods: ["web-z"] }]));
  assert.deepEqual(
    pruned.entries.map((e) => e.id),
    ["e3/web-z"],
    "retired entries past retention are dropped",
  );
  const unknown = planLedgerChange(pruned.entries, retire(later, ["e1/web-a"]));
  assert.deepEqual([unknown.delta, unknown.unknown], [0, ["e1/web-a"]]);
});

test("a legacy surge (recorded only in an Evacuation status) is retired once and then recorded as retired", () => {
  const first = planLedgerChange([], retire(T, ["e0/web-old"], true));
  assert.equal(first.delta, -1);
  assert.equal(first.entries[0]?.retiredAt, T);
  assert.equal(planLedgerChange(first.entries, retire(T + 1, ["e0/web-old"], true)).delta, 0);
});

test("the annotation round-trips; anything else is reported malformed, never read as empty", () => {
  const entries: LedgerEntry[] = [
    { id: "e1/web-a", evacuation: "e1", pods: ["web-a"], by: 1, issuedAt: T, retiredAt: null },
    { id: "e2/web-b", evacuation: "e2", pods: ["web-b"], by: 1, issuedAt: T, retiredAt: T + 1_000 },
  ];
  const text = serializeLedger(entries);
  assert.ok(text !== null);
  assert.deepEqual(JSON.parse(text), {
    v: 1,
    surges: [
      { id: "e1/web-a", evacuation: "e1", pods: ["web-a"], by: 1, issuedAt: "2026-01-01T00:00:00.000Z" },
      {
        id: "e2/web-b",
        evacuation: "e2",
        pods: ["web-b"],
        by: 1,
        issuedAt: "2026-01-01T00:00:00.000Z",
        retiredAt: "2026-01-01T00:00:01.000Z",
      },
    ],
  });
  assert.deepEqual(parseLedger(text), { kind: "ok", entries, replicas: null });
  assert.equal(serializeLedger([]), null, "an empty ledger removes the annotation");
  assert.deepEqual(parseLedger(undefined), { kind: "ok", entries: [], replicas: null });
  for (const bad of [
    "{",
    "[]",
    '{"surges":[{"id":1}]}',
    '{"surges":[{"id":"x","evacuation":"e","pods":["p"],"by":-1,"issuedAt":"2026-01-01T00:00:00Z"}]}',
  ])
    assert.equal(parseLedger(bad).kind, "malformed", bad);
});

test("the ledger records the replicas of its write; a hand-back closes entries without a replica change, and their pods may be surged again under a new id", () => {
  const open: LedgerEntry[] = [
    { id: "e1/web-a", evacuation: "e1", pods: ["web-a"], by: 1, issuedAt: T, retiredAt: null },
  ];
  const text = serializeLedger(open, 5);
  assert.ok(text !== null);
  assert.deepEqual(parseLedger(text), { kind: "ok", entries: open, replicas: 5 });

  const back = planLedgerChange(open, { kind: "hand-back", ids: ["e1/web-a"], at: T + 1_000 });
  assert.equal(back.delta, 0);
  assert.deepEqual(back.entries, [{ ...open[0], retiredAt: T + 1_000, handedBackAt: T + 1_000 }]);
  const reread = parseLedger(serializeLedger(back.entries, 3) ?? "");
  assert.deepEqual(reread, { kind: "ok", entries: back.entries, replicas: 3 });

  const again = planLedgerChange(back.entries, {
    kind: "surge",
    records: [{ evacuation: "e1", pods: ["web-a"] }],
    at: T + 2_000,
  });
  assert.equal(again.delta, 1, "a handed-back entry no longer covers its pod");
  assert.deepEqual(
    again.entries.map((e) => `${e.id} ${e.retiredAt === null ? "open" : "closed"}`),
    ["e1/web-a closed", "e1/web-a#2 open"],
  );
});
