/**
 * A surge or retire that starts from the informer's copy of the workload: one PATCH when the copy is current,
 * a 409 and a fresh read when it is stale, and never a decision to write nothing taken from a cached copy.
 * The client is a fake (the 409 on cue is failure injection); the ledger logic is the real one.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1Deployment } from "@kubernetes/client-node";
import {
  planLedgerChange,
  serializeLedger,
  SURGE_LEDGER_ANNOTATION,
  type LedgerChange,
} from "../../domain/surge-ledger.ts";
import { changeSurgeLedger, type LedgerClient } from "./scale.ts";

const WEB = { kind: "Deployment" as const, namespace: "shop", name: "web" };
const SURGE: LedgerChange = { kind: "surge", records: [{ evacuation: "e1", pods: ["web-1"] }], at: 1_000 };

/** One Deployment in a fake API server: resourceVersion checked on patch (409 when stale), calls counted. */
function fakeApps(
  initial: V1Deployment,
): LedgerClient & { current: V1Deployment; reads: number; patches: number } {
  const api = {
    current: initial,
    reads: 0,
    patches: 0,
    readNamespacedDeployment: () => {
      api.reads++;
      return Promise.resolve(structuredClone(api.current));
    },
    patchNamespacedDeployment: (p: { body: object }) => {
      api.patches++;
      const body = p.body as {
        metadata: { resourceVersion?: string; annotations: Record<string, string> };
        spec?: { replicas: number };
      };
      if (body.metadata.resourceVersion !== api.current.metadata?.resourceVersion)
        return Promise.reject(Object.assign(new Error("conflict"), { code: 409, body: '{"code":409}' }));
      api.current = {
        ...api.current,
        metadata: {
          ...api.current.metadata,
          resourceVersion: String(Number(api.current.metadata?.resourceVersion) + 1),
          annotations: { ...api.current.metadata?.annotations, ...body.metadata.annotations },
        },
        spec: {
          selector: {},
          template: {},
          ...api.current.spec,
          replicas: body.spec?.replicas ?? api.current.spec?.replicas ?? 1,
        },
      };
      return Promise.resolve(api.current);
    },
    readNamespacedReplicaSet: () => Promise.reject(new Error("not used")),
    patchNamespacedReplicaSet: () => Promise.reject(new Error("not used")),
  };
  return api;
}

const deployment = (rv: string, replicas: number, ledger: string | null = null): V1Deployment => ({
  metadata: {
    name: "web",
    namespace: "shop",
    resourceVersion: rv,
    annotations: ledger === null ? {} : { [SURGE_LEDGER_ANNOTATION]: ledger },
  },
  spec: { replicas, selector: {}, template: {} },
});

test("a current cached copy: the surge is one PATCH and no GET", async () => {
  const api = fakeApps(deployment("5", 3));
  const out = await changeSurgeLedger(api, WEB, SURGE, () => deployment("5", 3));
  assert.equal(out.kind, "applied");
  assert.deepEqual(
    { reads: api.reads, patches: api.patches, replicas: api.current.spec?.replicas },
    { reads: 0, patches: 1, replicas: 4 },
  );
});

test("a stale cached copy: the PATCH conflicts, the workload is read fresh and the surge applied on top", async () => {
  const api = fakeApps(deployment("9", 6)); // someone scaled 3 -> 6 since the cache's copy
  const out = await changeSurgeLedger(api, WEB, SURGE, () => deployment("5", 3));
  assert.equal(out.kind, "applied");
  assert.deepEqual(
    { reads: api.reads, patches: api.patches, replicas: api.current.spec?.replicas },
    { reads: 1, patches: 2, replicas: 7 },
  );
});

test("a cached copy that says the surge is already done is checked by a fresh read before writing nothing", async () => {
  const done = planLedgerChange([], SURGE);
  const cachedLedger = serializeLedger(done.entries, 4);
  // The cache shows the surge in the ledger; the API server does not (that copy was never written).
  const api = fakeApps(deployment("5", 3));
  const out = await changeSurgeLedger(api, WEB, SURGE, () => deployment("6", 4, cachedLedger));
  assert.equal(out.kind, "applied");
  assert.equal(api.reads, 1, "read fresh");
  assert.equal(api.current.spec?.replicas, 4, "and surged: the cached copy did not stop the write");
});
