/**
 * End to end (issue 7 item 16): two spot reclaims 40 s apart on a Deployment behind a PodDisruptionBudget
 * with maxUnavailable 1, traffic through the ALB simulator, lifeboat as the handler, at a small time scale.
 * The budget refuses every eviction while a replacement is not Ready; lifeboat must still get each doomed
 * pod out of the load balancer before its node dies: no 5xx, and its /metrics count the override (a doomed pod
 * deleted over the budget).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { runScenario } from "../../lab/run/run-scenario.ts";
import { loadScenario } from "../../lab/scenarios/load.ts";
import type { HandlerReport } from "../../lab/report/types.ts";
import { MetricsTail, total, type Sample } from "../helpers/reconciles.ts";

const TIME_SCALE = 0.25;
let dir = "";
let lifeboat: HandlerReport;
/** lifeboat's /metrics, last scraped before the lab stopped it. */
let metrics: Sample[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "lifeboat-e2e-pdb-"));
  const tail = new MetricsTail(join(dir, "lifeboat.log"));
  const report = await runScenario({
    scenario: await loadScenario("pdb-two-reclaims"),
    handlers: ["lifeboat"],
    outDir: dir,
    timeScale: TIME_SCALE,
  }).finally(() => tail.stop());
  metrics = await tail.stop();
  const h = report.handlers.find((x) => x.handler === "lifeboat");
  assert.ok(h !== undefined, "lifeboat ran");
  lifeboat = h;
});

after(async () => {
  if (process.env["LIFEBOAT_E2E_KEEP"] !== "1") await rm(dir, { recursive: true, force: true });
});

test("both nodes are evacuated and no request fails although the budget refuses the LRM evictions", () => {
  assert.equal(lifeboat.evacuations.length, 2, "two reclaims observed");
  assert.equal(lifeboat.errors5xx, 0, `5xx with lifeboat: ${JSON.stringify(lifeboat.responses)}`);
  assert.equal(lifeboat.requests, lifeboat.responses["200"] ?? 0, "every request answered 200");
  for (const e of lifeboat.evacuations) {
    assert.ok(
      e.retiredAt !== null && e.retiredAt < e.deadline,
      `every doomed pod of ${e.node} gone before its deadline (retired ${String(e.retiredAt)}, deadline ${e.deadline})`,
    );
  }
});

test("the budget was overridden at a last responsible moment: doomed pods deleted over it, and counted", () => {
  // Every pod move of an evacuation comes before its end: a scrape that counts both ends counts them all.
  assert.ok(
    total(metrics, "lifeboat_evacuations_completed_total") >= 2,
    "scraped after both evacuations ended",
  );
  assert.ok(
    total(metrics, "lifeboat_pods_moved_total", { method: "delete" }) >= 1,
    "lifeboat deleted a doomed pod over the PodDisruptionBudget",
  );
});
