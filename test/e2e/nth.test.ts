/**
 * End to end: the real aws-node-termination-handler (queue-processor mode, its chart's defaults, its own
 * ServiceAccount) in the lab at time scale 1.0, on a short spot reclaim. Asserts that it cordons and drains the
 * reclaimed node before the instance dies, so that a broken NTH setup (binary, in-cluster credentials, RBAC,
 * EC2 lookup, managed tag) cannot pass silently as a handler that "did nothing wrong".
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { runScenario } from "../../lab/run/run-scenario.ts";
import { parseScenario } from "../../lab/scenarios/load.ts";
import { nthVersion } from "../../lab/handlers/nth.ts";
import type { HandlerReport, Report } from "../../lab/report/types.ts";

/**
 * As short as NTH allows: the warning at 5 s, the instance dies at 45 s (NTH ignores the deadline; it drains at
 * once, and the pods' 10 s preStop ends well before), the run stops at 55 s.
 */
const SCENARIO = `
name: nth-e2e
description: one spot reclaim, short, for the real aws-node-termination-handler
timeScale: 1
cluster:
  nodeGroups:
    - { name: spot-a, zone: us-east-1a, count: 2 }
    - { name: spot-b, zone: us-east-1b, count: 1 }
workloads:
  - name: web
    replicas: 2
    preStopSeconds: 10
    readiness: { initialDelaySeconds: 1, periodSeconds: 1, failureThreshold: 2, timeoutSeconds: 1 }
    terminationGracePeriodSeconds: 30
    pullSeconds: 1
    startSeconds: 1
    requestMs: 20
    onePerNode: true
    cpuRequest: 500m
traffic:
  rps: 20
  durationSeconds: 55
  warmupSeconds: 5
cloud:
  nodeJoinSeconds: 5
  noticeLeadSeconds: 40
  terminatedAfterSeconds: 5
  deleteTerminatedNodes: false
  autoscaler: { enabled: false }
events:
  - at: 5
    kind: spot-reclaim
    nodes: { count: 1 }
`;

let dir = "";
let report: Report;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "lifeboat-e2e-nth-"));
  report = await runScenario({
    scenario: parseScenario(SCENARIO, "nth-e2e"),
    handlers: ["nth"],
    outDir: dir,
    timeScale: 1,
  });
});

after(async () => {
  if (process.env["LIFEBOAT_E2E_KEEP"] !== "1") await rm(dir, { recursive: true, force: true });
});

function nth(): HandlerReport {
  const h = report.handlers.find((x) => x.handler === "nth");
  assert.ok(h !== undefined, "no nth in the report");
  return h;
}

test("nth: the real binary cordons the reclaimed node and drains it before the instance dies", () => {
  const h = nth();
  assert.equal(h.version, `aws-node-termination-handler ${nthVersion()}`);
  const evacuation = h.evacuations[0];
  assert.ok(evacuation !== undefined, "one reclaimed node");
  assert.ok(
    evacuation.cordonedAt !== null && evacuation.cordonedAt < evacuation.deadline,
    `cordoned before the deadline: ${JSON.stringify(evacuation)}`,
  );
  assert.ok(
    evacuation.retiredAt !== null && evacuation.retiredAt < evacuation.deadline,
    `every pod of the workload evicted and gone before the deadline: ${JSON.stringify(evacuation)}`,
  );
});

test("nth: its own log says it looked the instance up in EC2 and cordoned and drained that node", async () => {
  const node = nth().evacuations[0]?.node ?? "";
  const lines = (await readFile(join(dir, "nth.log"), "utf8"))
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const drained = lines.find(
    (l) => l["message"] === "Node successfully cordoned and drained" && l["node_name"] === node,
  );
  assert.ok(drained !== undefined, `no "cordoned and drained" line for ${node} in nth.log`);
  // The node's name came from EC2 (DescribeInstances' PrivateDnsName), as EKS names nodes.
  assert.match(node, /^ip-10-0-\d+-\d+\.ec2\.internal$/);
});
