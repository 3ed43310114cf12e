/**
 * End to end (issue 17): four spot reclaims 10 s apart on a small, full cluster, replacements slower than the
 * last responsible moment, traffic through the ALB simulator, lifeboat as the handler, at a small time scale.
 * Overlapping surges of one Deployment must each be taken back: no 5xx, the Deployment ends at its count
 * (not its count plus a surge per overlap), and every Evacuation is Done.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { runScenario } from "../../lab/run/run-scenario.ts";
import { loadScenario } from "../../lab/scenarios/load.ts";
import type { HandlerReport } from "../../lab/report/types.ts";

const TIME_SCALE = 0.25;
let dir = "";
let lifeboat: HandlerReport;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "lifeboat-e2e-overlap-"));
  const report = await runScenario({
    scenario: await loadScenario("overlapping-reclaims"),
    handlers: ["lifeboat"],
    outDir: dir,
    timeScale: TIME_SCALE,
  });
  const h = report.handlers.find((x) => x.handler === "lifeboat");
  assert.ok(h !== undefined, "lifeboat ran");
  lifeboat = h;
});

after(async () => {
  if (process.env["LIFEBOAT_E2E_KEEP"] !== "1") await rm(dir, { recursive: true, force: true });
});

test("four overlapping reclaims: no request fails", () => {
  assert.equal(lifeboat.evacuations.length, 4, "four reclaims observed");
  assert.equal(lifeboat.errors5xx, 0, `5xx with lifeboat: ${JSON.stringify(lifeboat.responses)}`);
});

test("the Deployment ends at its count: every surge was taken back", () => {
  assert.deepEqual(lifeboat.workloads, [{ name: "app", desired: 5, replicas: 5 }]);
});

test("every Evacuation is Done", () => {
  // At least one per reclaim; the instances' state changes that arrive after an evacuation finished (stopping,
  // terminated) open short ones of their own, and those finish too.
  const phases = lifeboat.evacuationPhases ?? {};
  assert.deepEqual(Object.keys(phases), ["Done"], `phases: ${JSON.stringify(phases)}`);
  assert.ok((phases["Done"] ?? 0) >= 4, `phases: ${JSON.stringify(phases)}`);
});
