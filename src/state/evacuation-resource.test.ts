import { test } from "node:test";
import assert from "node:assert/strict";
import { aNotice, NOTICE_T0 } from "../../test/fixtures/notices.ts";
import { foldNotice } from "../planner/fold-notice.ts";
import { instanceDown } from "../domain/evacuation.ts";
import { fromResource, slackSeconds, toResource } from "./evacuation-resource.ts";

const node = { name: "n1", instanceId: "i-0aaaaaaaaaaaaaaaa", nodeGroup: "g" };
const policy = { rebalancePolicy: "prewarm" as const, rebalancePolicyByNodeGroup: {} };

test("an evacuation survives the round trip through its resource unchanged", () => {
  const d = foldNotice(null, aNotice(), node, policy, NOTICE_T0 + 1_000);
  assert.ok(d.kind === "create");
  const stored = {
    ...d.stored,
    evacuation: {
      ...d.stored.evacuation,
      phase: "Surging" as const,
      surges: [
        {
          workload: { kind: "Deployment" as const, namespace: "shop", name: "web" },
          pods: ["web-1"],
          by: 1,
          issuedAt: NOTICE_T0 + 2_000,
          retiredAt: null,
        },
      ],
      evictions: [
        {
          pod: { namespace: "shop", name: "db-0" },
          at: NOTICE_T0 + 3_000,
          outcome: "blocked-by-pdb" as const,
        },
      ],
      timeline: {
        noticedAt: NOTICE_T0 + 1_000,
        cordonedAt: NOTICE_T0 + 1_200,
        surgeCreatedAt: NOTICE_T0 + 2_000,
      },
    },
    resourceVersion: "42",
  };
  const resource = toResource(stored, NOTICE_T0 + 5_000);
  assert.equal(resource.metadata.labels?.["lifeboat.dev/node"], "n1");
  assert.equal(resource.spec.deadline, "2026-11-24T12:02:00.000Z");
  assert.deepEqual(fromResource(JSON.parse(JSON.stringify(resource)) as typeof resource), stored);
});

test("slack is the time from done (or now) to the deadline, negative when missed, null without a deadline", () => {
  const d = foldNotice(null, aNotice(), node, policy, NOTICE_T0);
  assert.ok(d.kind === "create");
  const e = d.stored.evacuation;
  assert.equal(slackSeconds(e, NOTICE_T0 + 30_000), 90);
  assert.equal(slackSeconds({ ...e, timeline: { ...e.timeline, doneAt: NOTICE_T0 + 125_500 } }, 0), -5.5);
  assert.equal(slackSeconds({ ...e, deadline: null }, NOTICE_T0), null);
});

test("a Done evacuation's slack runs from when its last pod left: its eviction, else the retire that removed it", () => {
  const d = foldNotice(null, aNotice(), node, policy, NOTICE_T0);
  assert.ok(d.kind === "create");
  const web = { kind: "Deployment" as const, namespace: "shop", name: "web" };
  const done = {
    ...d.stored.evacuation,
    phase: "Done" as const,
    surges: [
      {
        workload: web,
        pods: ["web-0", "web-1"],
        by: 2,
        issuedAt: NOTICE_T0 + 1_000,
        retiredAt: NOTICE_T0 + 150_000,
      },
    ],
    evictions: [
      { pod: { namespace: "shop", name: "web-0" }, at: NOTICE_T0 + 80_000, outcome: "evicted" as const },
    ],
    timeline: { noticedAt: NOTICE_T0, doneAt: NOTICE_T0 + 160_000 },
  };
  assert.equal(slackSeconds(done, 0), -30, "web-1 left with the retire, 30 s after the deadline");
  const bothEvicted = {
    ...done,
    evictions: [...done.evictions, { ...done.evictions[0]!, pod: { namespace: "shop", name: "web-1" } }],
  };
  assert.equal(slackSeconds(bothEvicted, 0), 40, "both left at their LRM; the late retire made nobody late");
  const refused = {
    ...bothEvicted,
    evictions: [
      ...bothEvicted.evictions,
      { pod: { namespace: "db", name: "db-0" }, at: NOTICE_T0 + 10_000, outcome: "blocked-by-pdb" as const },
    ],
  };
  assert.equal(slackSeconds(refused, 0), -40, "a pod last refused left at an unknown time: the end counts");
  assert.equal(slackSeconds({ ...done, surges: [], evictions: [] }, 0), -40, "no pod moved: the end counts");
});

test("a record written before certainDeadline and instanceState reads them as before: from the notice kind, and gone as down", () => {
  const d = foldNotice(null, aNotice(), node, policy, NOTICE_T0);
  assert.ok(d.kind === "create");
  const gone = { ...d.stored, evacuation: { ...d.stored.evacuation, instanceGone: true } };
  const resource = toResource(gone, NOTICE_T0);
  delete resource.spec.certainDeadline;
  assert.equal(resource.status?.instanceState, undefined);
  const read = fromResource(resource).evacuation;
  assert.equal(read.certainDeadline, NOTICE_T0 + 120_000, "a spot warning's deadline is its certain end");
  assert.equal(read.instanceState, null);
  assert.equal(instanceDown(read), true, "gone, and not saying how far: released as before");
  const manual = { ...resource, spec: { ...resource.spec, noticeKind: "manual" as const } };
  assert.equal(fromResource(manual).evacuation.certainDeadline, null);
  const stopping = { ...gone, evacuation: { ...gone.evacuation, instanceState: "stopping" as const } };
  const roundTrip = fromResource(toResource(stopping, NOTICE_T0)).evacuation;
  assert.equal(roundTrip.instanceState, "stopping");
  assert.equal(instanceDown(roundTrip), false);
});
