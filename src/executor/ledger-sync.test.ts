import assert from "node:assert/strict";
import { test } from "node:test";
import type { LedgerEntry } from "../domain/surge-ledger.ts";
import { anEvacuation, T0 } from "../../test/fixtures/snapshot-builders.ts";
import { retireRecords, syncWithLedger } from "./ledger-sync.ts";

const web = { kind: "Deployment" as const, namespace: "shop", name: "web" };
const entry = (over: Partial<LedgerEntry> = {}): LedgerEntry => ({
  id: "evac-node-a/web-0",
  evacuation: "evac-node-a",
  pods: ["web-0"],
  by: 1,
  issuedAt: T0 + 1_000,
  retiredAt: null,
  ...over,
});

test("a ledger entry missing from the status is recovered as a surge record; another evacuation's entry is not", () => {
  const e = anEvacuation();
  const synced = syncWithLedger(e, web, [
    entry(),
    entry({ id: "evac-node-b/web-9", evacuation: "evac-node-b", pods: ["web-9"] }),
  ]);
  assert.ok(synced !== null);
  assert.deepEqual(synced.surges, [
    { id: "evac-node-a/web-0", workload: web, pods: ["web-0"], by: 1, issuedAt: T0 + 1_000, retiredAt: null },
  ]);
  assert.equal(synced.phase, "Surging");
  assert.equal(synced.timeline.surgeCreatedAt, T0 + 1_000);
  assert.equal(syncWithLedger(synced, web, [entry()]), null, "in line: nothing to change");
});

test("a retire in the ledger retires the record (legacy records without an id match by evacuation and first pod)", () => {
  const legacy = anEvacuation({
    phase: "Surging",
    surges: [{ workload: web, pods: ["web-0"], by: 1, issuedAt: T0 + 1_000, retiredAt: null }],
  });
  const synced = syncWithLedger(legacy, web, [entry({ retiredAt: T0 + 30_000 })]);
  assert.equal(synced?.surges.length, 1);
  assert.equal(synced?.surges[0]?.retiredAt, T0 + 30_000);
  assert.equal(synced?.phase, "Retiring");
  assert.equal(synced?.timeline.retiredAt, T0 + 30_000);
});

test("a ledger that does not mention a record leaves it alone; retireRecords retires only the ids given", () => {
  const open = anEvacuation({
    phase: "Surging",
    surges: [
      { id: "evac-node-a/web-0", workload: web, pods: ["web-0"], by: 1, issuedAt: T0, retiredAt: null },
    ],
  });
  assert.equal(syncWithLedger(open, web, []), null);
  assert.equal(retireRecords(open, web, ["evac-node-a/other"], T0 + 5), null);
  assert.equal(retireRecords(open, web, ["evac-node-a/web-0"], T0 + 5)?.surges[0]?.retiredAt, T0 + 5);
});
