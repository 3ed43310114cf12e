/**
 * End to end (issue 7 items 8 and 9): another party changes the Deployment while lifeboat's surge is
 * outstanding, with traffic through the ALB simulator, lifeboat as the handler, at a small time scale.
 * - scale-during-surge: a person scales it to 3 during the surge;
 * - rollout-during-surge: a rollout starts right after the surge.
 * Each must end with no 5xx, spec.replicas where the other party left it, and lifeboat removing no pod by
 * itself (no eviction, no delete, as its /metrics count them): the doomed pods leave through the ReplicaSet,
 * lowest deletion cost first.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { runScenario } from "../../lab/run/run-scenario.ts";
import { loadScenario } from "../../lab/scenarios/load.ts";
import type { HandlerReport } from "../../lab/report/types.ts";
import { MetricsTail, total, type Sample } from "../helpers/reconciles.ts";

const TIME_SCALE = 0.25;
const dirs: string[] = [];

after(async () => {
  if (process.env["LIFEBOAT_E2E_KEEP"] !== "1")
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function run(name: string): Promise<{ lifeboat: HandlerReport; metrics: Sample[] }> {
  const dir = await mkdtemp(join(tmpdir(), `lifeboat-e2e-${name}-`));
  dirs.push(dir);
  const tail = new MetricsTail(join(dir, "lifeboat.log"));
  const report = await runScenario({
    scenario: await loadScenario(name),
    handlers: ["lifeboat"],
    outDir: dir,
    timeScale: TIME_SCALE,
  }).finally(() => tail.stop());
  const lifeboat = report.handlers.find((h) => h.handler === "lifeboat");
  assert.ok(lifeboat !== undefined, "lifeboat ran");
  const metrics = await tail.stop();
  // Every pod move of an evacuation comes before its end: a scrape that counts the end counts them all.
  assert.ok(
    total(metrics, "lifeboat_evacuations_completed_total") >= 1,
    "scraped after the evacuation ended",
  );
  return { lifeboat, metrics };
}

/** Pods lifeboat removed by itself (Eviction API or delete), not through a scale-down; and its evictions. */
function removals(metrics: Sample[]): Record<string, number> {
  return {
    evict: total(metrics, "lifeboat_pods_moved_total", { method: "evict" }),
    delete: total(metrics, "lifeboat_pods_moved_total", { method: "delete" }),
    force_delete: total(metrics, "lifeboat_pods_moved_total", { method: "force_delete" }),
    evictions: total(metrics, "lifeboat_evictions_total"),
  };
}

const NO_REMOVALS = { evict: 0, delete: 0, force_delete: 0, evictions: 0 };

function assertClean(lifeboat: HandlerReport): void {
  assert.equal(lifeboat.evacuations.length, 1, "one reclaim observed");
  assert.equal(lifeboat.errors5xx, 0, `5xx with lifeboat: ${JSON.stringify(lifeboat.responses)}`);
  const e = lifeboat.evacuations[0];
  assert.ok(
    e?.retiredAt !== null && e !== undefined && e.retiredAt < e.deadline,
    "the doomed pod left in time",
  );
}

describe("another party's change during a surge", { timeout: 900_000 }, () => {
  it("scaled to 3 during the surge: no 5xx, replicas end at 3, lifeboat removes no pod by itself", async () => {
    const { lifeboat, metrics } = await run("scale-during-surge");
    assertClean(lifeboat);
    assert.deepEqual(removals(metrics), NO_REMOVALS);
    // It surged, and replicas end where the person left them: the surge was handed back, not retired.
    assert.ok(total(metrics, "lifeboat_pods_moved_total", { method: "surge" }) >= 1, "lifeboat surged");
    assert.deepEqual(lifeboat.workloads, [{ name: "app", desired: 3, replicas: 3 }]);
  });

  it("a rollout during the surge: no 5xx, replicas end at 4, lifeboat removes no pod by itself", async () => {
    const { lifeboat, metrics } = await run("rollout-during-surge");
    assertClean(lifeboat);
    assert.deepEqual(lifeboat.workloads, [{ name: "app", desired: 4, replicas: 4 }]);
    assert.deepEqual(removals(metrics), NO_REMOVALS);
  });
});
