import { test } from "node:test";
import assert from "node:assert/strict";
import { LATENCY_BUCKETS, METRIC_PREFIX, Metrics } from "./metrics.ts";

/** The value of one sample line in the exposition text, e.g. `lifeboat_leader 1`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test("two Metrics in one process keep separate registries", async () => {
  const a = new Metrics();
  const b = new Metrics();
  a.setLeader(true);
  b.setLeader(false);
  assert.equal(sample(await a.render(), "lifeboat_leader"), 1);
  assert.equal(sample(await b.render(), "lifeboat_leader"), 0);
});

test("every metric is prefixed, has help text, and the documented set is complete", async () => {
  const metrics = new Metrics();
  const json = await metrics.registry.getMetricsAsJSON();
  const names = json.map((m) => m.name).sort();
  assert.deepEqual(names, [
    "lifeboat_actuator_errors_total",
    "lifeboat_deadline_missed_total",
    "lifeboat_deadline_slack_seconds",
    "lifeboat_evacuation_phase",
    "lifeboat_evacuations_completed_total",
    "lifeboat_evacuations_started_total",
    "lifeboat_events_dropped_total",
    "lifeboat_evictions_total",
    "lifeboat_kube_requests_total",
    "lifeboat_leader",
    "lifeboat_notice_event_age_seconds",
    "lifeboat_notice_to_cordon_seconds",
    "lifeboat_notice_to_done_seconds",
    "lifeboat_notice_to_replacements_ready_seconds",
    "lifeboat_notice_to_surge_seconds",
    "lifeboat_notices_total",
    "lifeboat_pods_moved_total",
    "lifeboat_reconciles_total",
    "lifeboat_sqs_messages_total",
  ]);
  for (const m of json) {
    assert.ok(m.name.startsWith(METRIC_PREFIX));
    assert.ok(m.help.length > 20, `${m.name} has too short a help text`);
  }
});

test("counters carry their labels", async () => {
  const metrics = new Metrics();
  metrics.noticeReceived({ kind: "spot-interruption", source: "sqs", outcome: "accepted" });
  metrics.noticeReceived({ kind: "spot-interruption", source: "sqs", outcome: "accepted" });
  metrics.noticeReceived({ kind: "unknown", source: "sqs", outcome: "malformed" });
  metrics.sqsMessageHandled("kept");
  metrics.evacuationStarted("rebalance-recommendation");
  metrics.evacuationCompleted("done");
  metrics.podsMoved({ workloadKind: "Deployment", method: "surge" }, 3);
  metrics.eviction("pdb_blocked");
  metrics.actuatorError("retire");
  metrics.reconciled("ok");
  metrics.reconciled("ok");
  metrics.reconciled("failed");
  const text = await metrics.render();
  assert.equal(
    sample(text, 'lifeboat_notices_total{kind="spot-interruption",source="sqs",outcome="accepted"}'),
    2,
  );
  assert.equal(sample(text, 'lifeboat_notices_total{kind="unknown",source="sqs",outcome="malformed"}'), 1);
  assert.equal(sample(text, 'lifeboat_sqs_messages_total{outcome="kept"}'), 1);
  assert.equal(sample(text, 'lifeboat_evacuations_started_total{reason_kind="rebalance-recommendation"}'), 1);
  assert.equal(sample(text, 'lifeboat_evacuations_completed_total{outcome="done"}'), 1);
  assert.equal(sample(text, 'lifeboat_pods_moved_total{workload_kind="Deployment",method="surge"}'), 3);
  assert.equal(sample(text, 'lifeboat_evictions_total{outcome="pdb_blocked"}'), 1);
  assert.equal(sample(text, 'lifeboat_actuator_errors_total{action="retire"}'), 1);
  assert.equal(sample(text, 'lifeboat_reconciles_total{outcome="ok"}'), 2);
  assert.equal(sample(text, 'lifeboat_reconciles_total{outcome="failed"}'), 1);
});

test("latency histograms span 50 ms to 300 s", async () => {
  const metrics = new Metrics();
  metrics.observeNoticeToCordon(0.04);
  metrics.observeNoticeToSurge(1.5);
  metrics.observeNoticeToReplacementsReady(75);
  metrics.observeNoticeToDone(250);
  const text = await metrics.render();
  assert.equal(LATENCY_BUCKETS[0], 0.05);
  assert.equal(LATENCY_BUCKETS.at(-1), 300);
  assert.equal(sample(text, 'lifeboat_notice_to_cordon_seconds_bucket{le="0.05"}'), 1);
  assert.equal(sample(text, 'lifeboat_notice_to_surge_seconds_bucket{le="1"}'), 0);
  assert.equal(sample(text, 'lifeboat_notice_to_surge_seconds_bucket{le="2"}'), 1);
  assert.equal(sample(text, 'lifeboat_notice_to_replacements_ready_seconds_bucket{le="90"}'), 1);
  assert.equal(sample(text, 'lifeboat_notice_to_done_seconds_bucket{le="180"}'), 0);
  assert.equal(sample(text, 'lifeboat_notice_to_done_seconds_bucket{le="300"}'), 1);
});

test("negative slack lands in negative buckets and counts a missed deadline once", async () => {
  const metrics = new Metrics();
  metrics.observeDeadlineSlack(35);
  metrics.observeDeadlineSlack(0);
  metrics.observeDeadlineSlack(-7);
  const text = await metrics.render();
  assert.equal(sample(text, 'lifeboat_deadline_slack_seconds_bucket{le="-5"}'), 1);
  assert.equal(sample(text, 'lifeboat_deadline_slack_seconds_bucket{le="0"}'), 2);
  assert.equal(sample(text, 'lifeboat_deadline_slack_seconds_bucket{le="45"}'), 3);
  assert.equal(sample(text, "lifeboat_deadline_slack_seconds_sum"), 28);
  assert.equal(sample(text, "lifeboat_deadline_missed_total"), 1);
});

test("the phase gauge is set from full counts; phases not given drop to 0", async () => {
  const metrics = new Metrics();
  metrics.setEvacuationPhases({ Surging: 2, Retiring: 1 });
  metrics.setEvacuationPhases({ Surging: 1, Done: 4 });
  const text = await metrics.render();
  assert.equal(sample(text, 'lifeboat_evacuation_phase{phase="Surging"}'), 1);
  assert.equal(sample(text, 'lifeboat_evacuation_phase{phase="Retiring"}'), 0);
  assert.equal(sample(text, 'lifeboat_evacuation_phase{phase="Done"}'), 4);
  assert.equal(sample(text, 'lifeboat_evacuation_phase{phase="Pending"}'), 0);
});

test("default process metrics are opt-in", async () => {
  assert.doesNotMatch(await new Metrics().render(), /process_cpu_user_seconds_total/);
  assert.match(await new Metrics({ defaultMetrics: true }).render(), /process_cpu_user_seconds_total/);
});
