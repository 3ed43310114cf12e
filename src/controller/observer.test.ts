import assert from "node:assert/strict";
import { test } from "node:test";
import { Metrics } from "../observability/metrics.ts";
import { makeObserver } from "./observer.ts";

function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test("an evacuation that finished after its deadline counts one missed deadline, not two", async () => {
  const metrics = new Metrics();
  makeObserver(metrics).noticeToDone(130, -10, true);
  const text = await metrics.render();
  assert.equal(sample(text, "lifeboat_deadline_missed_total"), 1);
  assert.equal(sample(text, 'lifeboat_evacuations_completed_total{outcome="missed_deadline"}'), 1);
  assert.equal(sample(text, "lifeboat_deadline_slack_seconds_count"), 1);
});
