/**
 * End to end (issue 7 item 16): two spot reclaims 40 s apart on a Deployment behind a PodDisruptionBudget
 * with maxUnavailable 1, traffic through the ALB simulator, lifeboat as the handler, at a small time scale.
 * The budget refuses every eviction while a replacement is not Ready; lifeboat must still get each doomed
 * pod out of the load balancer before its node dies: no 5xx, and the log shows the override.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
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
  dir = await mkdtemp(join(tmpdir(), "lifeboat-e2e-pdb-"));
  const report = await runScenario({
    scenario: await loadScenario("pdb-two-reclaims"),
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

test("the budget was overridden at a last responsible moment, and the log names it", async () => {
  const lines = (await readFile(join(dir, "lifeboat.log"), "utf8"))
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { msg?: string });
  const overrides = lines.filter((l) =>
    /PodDisruptionBudget default\/app .*overridden at the last responsible moment|PodDisruptionBudget refused the eviction at the last responsible moment/.test(
      l.msg ?? "",
    ),
  );
  assert.ok(overrides.length >= 1, "lifeboat deleted a doomed pod over the PodDisruptionBudget");
});
