/**
 * The Grafana dashboard and the Prometheus alerts shipped with the chart (charts/lifeboat/files/) name only
 * metrics, and label names, that the controller exports: a renamed metric fails here, not silently on a
 * user's dashboard (an alert on a metric that does not exist never fires).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { EVACUATION_PHASES, Metrics } from "./metrics.ts";

const chartFile = (path: string): string =>
  readFileSync(fileURLToPath(new URL(`../../charts/lifeboat/files/${path}`, import.meta.url)), "utf8");

interface RuleFile {
  groups: { name: string; rules: { alert: string; expr: string; labels?: Record<string, string> }[] }[];
}
interface Dashboard {
  panels: { title: string; targets: { expr: string }[] }[];
  templating: { list: { name: string; query?: unknown }[] };
}

const rules = parse(chartFile("prometheus-rules.yaml")) as RuleFile;
const dashboard = JSON.parse(chartFile("grafana-dashboard.json")) as Dashboard;

const alertExprs = rules.groups.flatMap((g) =>
  g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })),
);
const dashboardExprs = [
  ...dashboard.panels.flatMap((p) => p.targets.map((t) => ({ where: `panel "${p.title}"`, expr: t.expr }))),
  ...dashboard.templating.list
    .filter((v) => typeof v.query === "string" && v.query.includes("("))
    .map((v) => ({ where: `variable ${v.name}`, expr: v.query as string })),
];

/** Labels Prometheus adds to every scraped series (the target's), not the controller. */
const TARGET_LABELS = new Set(["job", "instance", "namespace", "pod", "service", "container", "endpoint"]);

/** Every series name the controller exports (histograms as _bucket, _sum, _count), with its label names. */
function exportedSeries(): Map<string, Set<string>> {
  const metrics = new Metrics({ defaultMetrics: true });
  const out = new Map<string, Set<string>>();
  for (const metric of metrics.registry.getMetricsAsArray()) {
    const m = metric as unknown as { name: string; labelNames?: string[] };
    const labels = new Set(m.labelNames ?? []);
    const type = (metric as unknown as { type?: string }).type;
    if (type === "histogram") {
      out.set(`${m.name}_bucket`, new Set([...labels, "le"]));
      out.set(`${m.name}_sum`, labels);
      out.set(`${m.name}_count`, labels);
    } else out.set(m.name, labels);
  }
  return out;
}

/** Series selectors in a PromQL expression: `name` or `name{matchers}`, with the label names matched. */
function selectors(expr: string): { name: string; labels: { name: string; value: string }[] }[] {
  const found: { name: string; labels: { name: string; value: string }[] }[] = [];
  // A metric name: lifeboat_*, or the process/Node.js metrics, or any identifier directly before `{`.
  const re = /\b((?:lifeboat|process|nodejs)_[a-zA-Z0-9_]+|[a-zA-Z_:][a-zA-Z0-9_:]*(?=\{))(\{([^}]*)\})?/g;
  for (const m of expr.matchAll(re)) {
    const name = m[1]!;
    const labels = [...(m[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"([^"]*)"/g)].map(
      (l) => ({ name: l[1]!, value: l[2]! }),
    );
    found.push({ name, labels });
  }
  return found;
}

test("alerts and dashboard name only metrics and labels the controller exports", () => {
  const series = exportedSeries();
  const problems: string[] = [];
  let checked = 0;
  for (const { where, expr } of [...alertExprs, ...dashboardExprs]) {
    const used = selectors(expr);
    if (used.length === 0) problems.push(`${where}: no metric found in ${expr}`);
    for (const { name, labels } of used) {
      checked++;
      const known = series.get(name);
      if (known === undefined) {
        problems.push(`${where}: ${name} is not a metric lifeboat exports`);
        continue;
      }
      for (const label of labels)
        if (!known.has(label.name) && !TARGET_LABELS.has(label.name))
          problems.push(`${where}: ${name} has no label ${label.name}`);
      for (const label of labels.filter((l) => l.name === "phase"))
        for (const phase of label.value.split("|"))
          if (!(EVACUATION_PHASES as readonly string[]).includes(phase))
            problems.push(`${where}: ${phase} is not an evacuation phase`);
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(checked > 20, `checked ${checked} selectors`);
});

test("the checker catches an unknown metric, an unknown label and an unknown phase", () => {
  const series = exportedSeries();
  const bad = selectors('sum(lifeboat_leaders) + lifeboat_evacuation_phase{phase="Surge", zone="a"}');
  assert.deepEqual(
    bad.map((s) => s.name),
    ["lifeboat_leaders", "lifeboat_evacuation_phase"],
  );
  assert.equal(series.has("lifeboat_leaders"), false);
  assert.equal(series.get("lifeboat_evacuation_phase")?.has("zone"), false);
  assert.equal((EVACUATION_PHASES as readonly string[]).includes("Surge"), false);
  assert.ok(series.has("lifeboat_deadline_slack_seconds_bucket"), "histograms export _bucket");
  assert.ok(series.has("process_cpu_seconds_total"), "default process metrics are exported");
});

test("the alerts cover a missed deadline, no leader, SQS delete failures and a stuck evacuation", () => {
  const byName = new Map(rules.groups.flatMap((g) => g.rules.map((r) => [r.alert, r])));
  const expect: Record<string, RegExp> = {
    LifeboatDeadlineMissed: /lifeboat_deadline_missed_total/,
    LifeboatNoLeader: /lifeboat_leader/,
    LifeboatSQSDeleteFailures: /lifeboat_sqs_messages_total\{outcome="failed"\}/,
    LifeboatEvacuationStuck: /lifeboat_evacuation_phase.*lifeboat_evacuations_completed_total/s,
  };
  for (const [alert, pattern] of Object.entries(expect)) {
    const rule = byName.get(alert);
    assert.ok(rule !== undefined, `alert ${alert} exists`);
    assert.match(rule.expr, pattern);
    assert.ok(rule.labels?.["severity"] !== undefined, `${alert} has a severity`);
  }
});
