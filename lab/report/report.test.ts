import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sampleReport, SAMPLE_NODES } from "./fixtures.ts";
import {
  countResponses,
  evacuation,
  formatProgress,
  formatSummaryTable,
  minReadyRatio,
  nodeSeconds,
  placeholderCpuSeconds,
  renderReportHtml,
  replicaSecondsBelowDesired,
  requestsPerSecond,
  writeReport,
} from "./write.ts";
import type { Report } from "./write.ts";

/** Checks that every non-void tag is closed in order; returns the count of each opened tag. */
function tagCounts(html: string): Map<string, number> {
  const VOID = new Set(["meta", "br", "hr", "img", "input", "link"]);
  const stack: string[] = [];
  const counts = new Map<string, number>();
  const body = html.replace(/<!DOCTYPE[^>]*>/i, "").replace(/<style>[\s\S]*?<\/style>/, "<style></style>");
  for (const m of body.matchAll(/<(\/?)([a-zA-Z][\w:-]*)\b[^>]*?(\/?)>/g)) {
    const [, closing, name = "", selfClosing] = m;
    if (closing === "/") {
      const open = stack.pop();
      assert.equal(open, name, `</${name}> closes <${open ?? "nothing"}> at offset ${m.index}`);
      continue;
    }
    counts.set(name, (counts.get(name) ?? 0) + 1);
    if (selfClosing !== "/" && !VOID.has(name.toLowerCase())) stack.push(name);
  }
  assert.deepEqual(stack, [], "unclosed tags");
  return counts;
}

test("the report JSON has the issue's shape", () => {
  const report = sampleReport();
  assert.deepEqual(Object.keys(report), ["scenario", "timeScale", "handlers"]);
  const none = report.handlers[0]!;
  assert.deepEqual(Object.keys(none), [
    "handler",
    "version",
    "requests",
    "responses",
    "errors5xx",
    "minReadyRatio",
    "replicaSecondsBelowDesired",
    "cost",
    "evacuations",
    "series",
  ]);
  assert.deepEqual(Object.keys(none.evacuations[0]!), [
    "node",
    "noticeAt",
    "deadline",
    "cordonedAt",
    "replacementsReadyAt",
    "retiredAt",
    "nodeDiedAt",
    "slackSeconds",
  ]);
  assert.equal(none.requests, 330 * 40);
  assert.deepEqual(none.responses, { "200": 13_200 - 60 - 260, "502": 60, "504": 260 });
  assert.equal(none.errors5xx, 320);
  assert.equal(none.minReadyRatio, 0.75);
  assert.equal(none.evacuations[0]!.slackSeconds, null);
  const lifeboat = report.handlers[2]!;
  assert.deepEqual(
    [lifeboat.errors5xx, lifeboat.minReadyRatio, lifeboat.evacuations[0]!.slackSeconds],
    [0, 1, 22],
  );
  assert.equal(lifeboat.series.requestsPerSecond.length, 330);
  assert.equal(lifeboat.series.readyReplicas.length, 330);
  assert.equal(lifeboat.series.nodes.length, 7);
});

test("building blocks: counts, per-second buckets, ready ratio, slack", () => {
  assert.deepEqual(countResponses([{ status: 200 }, { status: 502 }, { status: 200 }, { status: "error" }]), {
    "200": 2,
    "502": 1,
    error: 1,
  });
  assert.deepEqual(
    requestsPerSecond(
      [
        { at: 0.1, status: 200 },
        { at: 0.9, status: 502 },
        { at: 2.5, status: 200 },
        { at: 3.2, status: 200 },
        { at: -0.5, status: 200 },
      ],
      3,
    ),
    [
      { t: 0, counts: { "200": 1, "502": 1 } },
      { t: 1, counts: {} },
      { t: 2, counts: { "200": 1 } },
    ],
  );
  assert.equal(
    minReadyRatio([
      { t: 0, ready: 4, desired: 4 },
      { t: 1, ready: 2, desired: 3 },
      { t: 2, ready: 0, desired: 0 },
    ]),
    0.667,
  );
  assert.equal(minReadyRatio([]), 1);
  // The dip's area: 1 replica short from t=1 to t=2.5, then 2 short until t=4 (the end of the run).
  assert.equal(
    replicaSecondsBelowDesired(
      [
        { t: 0, ready: 4, desired: 4 },
        { t: 1, ready: 3, desired: 4 },
        { t: 2.5, ready: 2, desired: 4 },
        { t: 3, ready: 3, desired: 5 },
        { t: 3.5, ready: 6, desired: 5 },
      ],
      4,
    ),
    1.5 + 1 + 1,
  );
  assert.equal(replicaSecondsBelowDesired([]), 0);
  const late = evacuation({
    node: "n",
    noticeAt: 0,
    deadline: 120,
    cordonedAt: 1,
    replacementsReadyAt: null,
    retiredAt: 125.04,
    nodeDiedAt: 120,
  });
  assert.equal(late.slackSeconds, -5);
});

test("the summary table puts the handlers side by side under the issue's columns", () => {
  const table = formatSummaryTable(sampleReport());
  const lines = table.split("\n");
  assert.equal(lines[0], "scenario seed (time scale 1)");
  assert.match(
    lines[1]!,
    /^handler\s+version\s+requests\s+2xx\s+5xx\s+502\s+503\s+504\s+min ready ratio\s+replica-s below desired\s+node-s\s+placeholder cpu-s\s+evacuations\s+min slack$/,
  );
  assert.deepEqual(
    lines.slice(2).map((l) => l.split(/\s{2,}/)),
    [
      ["none", "-", "13200", "12880", "320", "60", "0", "260", "0.75", "110.0", "1956", "0", "0/1", "-"],
      [
        "nth",
        "NTH v1.25.6",
        "13200",
        "13190",
        "10",
        "10",
        "0",
        "0",
        "0.75",
        "71.0",
        "1910",
        "0",
        "1/1",
        "96.0 s",
      ],
      [
        "lifeboat",
        "lifeboat 0.1.0",
        "13200",
        "13200",
        "0",
        "0",
        "0",
        "0",
        "1.00",
        "0.0",
        "1910",
        "251",
        "1/1",
        "22.0 s",
      ],
    ],
  );
  // Columns line up: every row as long as the header or shorter only by trailing cells.
  const headerWidth = lines[1]!.length;
  assert.ok(lines.slice(2).every((l) => l.length === headerWidth));
});

test("cost: node-seconds within the run, placeholder CPU-seconds integrated until the end", () => {
  const lane = (from: number, to: number | null) => ({
    node: "n",
    group: null,
    zone: null,
    from,
    to,
    marks: [],
  });
  // From time zero (or the join) to the death (or the end); nothing outside [0, duration].
  assert.equal(
    nodeSeconds([lane(0, null), lane(100, null), lane(0, 150), lane(-20, 400)], 300),
    300 + 200 + 150 + 300,
  );
  assert.equal(nodeSeconds([], 300), 0);
  assert.equal(
    placeholderCpuSeconds(
      [
        { t: 0, cpuMilli: 1500 },
        { t: 10, cpuMilli: 0 },
        { t: 200, cpuMilli: 500 },
      ],
      300,
    ),
    15 + 50,
  );
  assert.equal(placeholderCpuSeconds([], 300), 0);
});

test("the progress line", () => {
  assert.equal(
    formatProgress({ handler: "lifeboat", elapsed: 165, total: 330, rps: 39.6, errors: 0 }),
    "[lifeboat] ##########---------- 165/330 s   40 rps     0 errors",
  );
  assert.equal(
    formatProgress({ handler: "none", elapsed: 400, total: 330, rps: 40, errors: 1 }),
    "[none] #################### 400/330 s   40 rps     1 error",
  );
});

test("the HTML: one lane per node per handler, three charts per handler, balanced tags, no scripts or external assets", () => {
  const report = sampleReport();
  const html = renderReportHtml(report);
  const counts = tagCounts(html);
  // legend + 3 charts per handler.
  assert.equal(counts.get("svg"), 1 + 3 * report.handlers.length);
  const lanes = [...html.matchAll(/<g class="lane" data-node="([^"]+)">/g)].map((m) => m[1]);
  assert.equal(
    lanes.length,
    report.handlers.reduce((n, h) => n + h.series.nodes.length, 0),
  );
  for (const node of SAMPLE_NODES)
    assert.equal(lanes.filter((l) => l === node).length, report.handlers.length);
  assert.equal(counts.get("script"), undefined);
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
  // The summary table at the top has a row per handler.
  assert.ok(html.indexOf('<table class="summary">') < html.indexOf("<section"));
  assert.equal([...html.matchAll(/<tr class="(good|bad)">/g)].length, 3);
  // The victim's lane has its notice, death and the handler's steps.
  assert.match(html, /<title>interruption notice at 30 s<\/title>/);
  assert.match(html, /<title>old pods retired at 128 s<\/title>/);
});

test("text from the report is escaped", () => {
  const report: Report = { ...sampleReport(), scenario: "<script>alert(1)</script>" };
  const html = renderReportHtml(report);
  assert.doesNotMatch(html, /<script>/);
  assert.match(html, /&lt;script&gt;/);
});

test("writeReport writes report.json and report.html", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lab-report-"));
  try {
    const report = sampleReport();
    const paths = await writeReport(join(dir, "out"), report);
    assert.deepEqual(JSON.parse(await readFile(paths.json, "utf8")), report);
    assert.match(await readFile(paths.html, "utf8"), /^<!DOCTYPE html>/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
