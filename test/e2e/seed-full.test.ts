/**
 * End to end: seed-full (the seed's Deployment with every node full: one pod per node, no spare node) with
 * lifeboat's default headroom, through the same runner the benchmarks use. The replacement cannot wait for a
 * new node (70 s join + 10 s pull + 60 s readiness > 120 s), so it must preempt a headroom placeholder: no
 * 5xx, Ready replicas never below desired, and the report shows what the headroom cost.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { runScenario } from "../../lab/run/run-scenario.ts";
import { loadScenario } from "../../lab/scenarios/load.ts";
import type { HandlerReport, Report } from "../../lab/report/types.ts";

const TIME_SCALE = 0.25;
let dir = "";
let report: Report;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "lifeboat-e2e-seed-full-"));
  report = await runScenario({
    scenario: await loadScenario("seed-full"),
    handlers: ["lifeboat"],
    outDir: dir,
    timeScale: TIME_SCALE,
  });
});

after(async () => {
  if (process.env["LIFEBOAT_E2E_KEEP"] !== "1") await rm(dir, { recursive: true, force: true });
});

function lifeboat(): HandlerReport {
  const h = report.handlers.find((x) => x.handler === "lifeboat");
  assert.ok(h !== undefined, "no lifeboat in the report");
  return h;
}

test("lifeboat with its default headroom: no 5xx and never below desired, with no spare node", () => {
  const h = lifeboat();
  assert.equal(h.errors5xx, 0, `5xx with lifeboat: ${JSON.stringify(h.responses)}`);
  assert.ok(h.minReadyRatio >= 1, `min ready ratio ${h.minReadyRatio}`);
  assert.equal(h.replicaSecondsBelowDesired, 0);
  const evacuation = h.evacuations[0];
  assert.ok(evacuation !== undefined, "one evacuation observed");
  assert.ok(
    evacuation.replacementsReadyAt !== null && evacuation.replacementsReadyAt < evacuation.deadline,
    `replacement Ready before the deadline: ${JSON.stringify(evacuation)}`,
  );
  assert.ok(
    evacuation.retiredAt !== null && evacuation.retiredAt < evacuation.deadline,
    "every doomed pod gone before the deadline",
  );
});

test("the report prices the headroom: a placeholder held CPU, and the run paid for a fourth node", async () => {
  const h = lifeboat();
  const scenario = await loadScenario("seed-full");
  const cost = h.cost;
  assert.ok(cost !== undefined, "cost columns in the report");
  assert.ok(cost.placeholderCpuSeconds > 0, `placeholder CPU-seconds ${cost.placeholderCpuSeconds}`);
  const startNodes = scenario.cluster.nodeGroups.reduce((n, g) => n + g.count, 0);
  // Every node present at time zero: the three full ones and the one the placeholder holds.
  const atZero = h.series.nodes.filter((l) => l.from === 0).length;
  assert.equal(atZero, startNodes + 1, "one spare node held by the headroom at time zero");
});
