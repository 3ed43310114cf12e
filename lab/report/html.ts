/**
 * report.html: one self-contained page (inline CSS and SVG, no scripts, no external assets). A summary table at
 * the top, then per handler, on one shared time axis: requests per second stacked by status (2xx green, 5xx red,
 * anything else amber), Ready replicas against desired, and one lane per node with its notice, evacuation steps
 * and death. Notice and deadline of every evacuation are drawn across the charts as vertical guides.
 */
import type { Evacuation, HandlerReport, LaneMarkKind, NodeLane, Report } from "./types.ts";
import { countInRange, SUMMARY_COLUMNS, summaryRow } from "./summary.ts";

const WIDTH = 960;
const LEFT = 190;
const RIGHT = 20;
const PLOT = WIDTH - LEFT - RIGHT;
const RPS_HEIGHT = 150;
const READY_HEIGHT = 110;
const LANE_HEIGHT = 24;
const AXIS = 22;

const COLORS = {
  ok: "#2e9e44",
  other: "#e0a020",
  error: "#d03030",
  ready: "#2563eb",
  desired: "#6b7280",
  notice: "#f97316",
  deadline: "#b91c1c",
};

interface MarkStyle {
  label: string;
  color: string;
  shape: "circle" | "square" | "diamond" | "triangle" | "cross";
}

/** How each lane marker is drawn; also the legend. */
export const MARK_STYLES: Record<LaneMarkKind, MarkStyle> = {
  joined: { label: "joined", color: "#6b7280", shape: "circle" },
  rebalance: { label: "rebalance recommendation", color: "#eab308", shape: "triangle" },
  notice: { label: "interruption notice", color: COLORS.notice, shape: "triangle" },
  cordon: { label: "cordon", color: "#7c3aed", shape: "square" },
  surge: { label: "surge (replacements created)", color: COLORS.ready, shape: "circle" },
  "replacements-ready": { label: "replacements ready", color: COLORS.ok, shape: "circle" },
  retired: { label: "old pods retired", color: "#065f46", shape: "diamond" },
  death: { label: "instance died", color: COLORS.error, shape: "cross" },
  deleted: { label: "Node deleted", color: "#374151", shape: "cross" },
};

export function escapeHtml(s: string): string {
  return s
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

function num(n: number): string {
  return String(Math.round(n * 10) / 10);
}

/** A short label for a node: the EC2 hostname's first part. */
export function shortNode(name: string): string {
  return name.split(".")[0] ?? name;
}

class Axis {
  readonly duration: number;
  constructor(duration: number) {
    this.duration = Math.max(1, duration);
  }
  x(t: number): number {
    return LEFT + (Math.min(Math.max(t, 0), this.duration) / this.duration) * PLOT;
  }
}

function niceStep(max: number, ticks: number): number {
  const raw = Math.max(max, 1) / ticks;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const m = raw / pow;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * pow;
}

function timeAxis(ax: Axis, y: number): string {
  const step = niceStep(ax.duration, 10);
  const parts = [`<line x1="${LEFT}" y1="${y}" x2="${LEFT + PLOT}" y2="${y}" class="axis"/>`];
  for (let t = 0; t <= ax.duration + 1e-9; t += step) {
    const x = num(ax.x(t));
    parts.push(
      `<line x1="${x}" y1="${y}" x2="${x}" y2="${y + 4}" class="axis"/>`,
      `<text x="${x}" y="${y + 15}" class="tick" text-anchor="middle">${num(t)} s</text>`,
    );
  }
  return parts.join("");
}

/** Vertical guides at every evacuation's notice and deadline. */
function guides(ax: Axis, evacuations: readonly Evacuation[], top: number, bottom: number): string {
  return evacuations
    .flatMap((e) => [
      `<line x1="${num(ax.x(e.noticeAt))}" y1="${top}" x2="${num(ax.x(e.noticeAt))}" y2="${bottom}" stroke="${COLORS.notice}" stroke-dasharray="3 3"><title>notice ${escapeHtml(shortNode(e.node))} at ${num(e.noticeAt)} s</title></line>`,
      `<line x1="${num(ax.x(e.deadline))}" y1="${top}" x2="${num(ax.x(e.deadline))}" y2="${bottom}" stroke="${COLORS.deadline}" stroke-dasharray="6 3"><title>deadline ${escapeHtml(shortNode(e.node))} at ${num(e.deadline)} s</title></line>`,
    ])
    .join("");
}

function requestsChart(h: HandlerReport, ax: Axis): string {
  const series = h.series.requestsPerSecond;
  const stacks = series.map((b) => {
    const ok = countInRange(b.counts, 200, 299);
    const error = countInRange(b.counts, 500, 599);
    const total = Object.values(b.counts).reduce((a, c) => a + c, 0);
    return { t: b.t, ok, error, other: total - ok - error, total };
  });
  const max = Math.max(1, ...stacks.map((s) => s.total));
  const step = niceStep(max, 4);
  const top = Math.ceil(max / step) * step;
  const y = (v: number): number => 10 + RPS_HEIGHT - (v / top) * RPS_HEIGHT;
  const w = Math.max(0.5, PLOT / ax.duration);
  const paths: Record<"ok" | "other" | "error", string[]> = { ok: [], other: [], error: [] };
  for (const s of stacks) {
    let base = 0;
    for (const key of ["ok", "other", "error"] as const) {
      const v = s[key];
      if (v <= 0) continue;
      const y0 = y(base);
      const y1 = y(base + v);
      paths[key].push(`M${num(ax.x(s.t))} ${num(y0)}h${num(w)}V${num(y1)}h${num(-w)}z`);
      base += v;
    }
  }
  const height = RPS_HEIGHT + 10 + AXIS;
  const grid: string[] = [];
  for (let v = 0; v <= top + 1e-9; v += step) {
    grid.push(
      `<line x1="${LEFT}" y1="${num(y(v))}" x2="${LEFT + PLOT}" y2="${num(y(v))}" class="grid"/><text x="${LEFT - 6}" y="${num(y(v) + 4)}" class="tick" text-anchor="end">${num(v)}</text>`,
    );
  }
  const errorSeconds = stacks.filter((s) => s.error > 0).map((s) => s.t);
  const caption =
    errorSeconds.length === 0
      ? "no 5xx"
      : `5xx from ${errorSeconds[0]} s to ${errorSeconds[errorSeconds.length - 1]} s`;
  return `<svg class="chart rps" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="requests per second by status for ${escapeHtml(h.handler)}">
<text x="10" y="24" class="label">requests/s</text><text x="10" y="40" class="sub">${escapeHtml(caption)}</text>
${grid.join("")}
<path d="${paths.ok.join("")}" fill="${COLORS.ok}"><title>2xx</title></path>
<path d="${paths.other.join("")}" fill="${COLORS.other}"><title>other (4xx, no response)</title></path>
<path d="${paths.error.join("")}" fill="${COLORS.error}"><title>5xx</title></path>
${guides(ax, h.evacuations, 10, 10 + RPS_HEIGHT)}
${timeAxis(ax, 10 + RPS_HEIGHT)}
</svg>`;
}

function readyChart(h: HandlerReport, ax: Axis): string {
  const samples = h.series.readyReplicas;
  const max = Math.max(1, ...samples.map((s) => Math.max(s.ready, s.desired)));
  const top = max + 1;
  const y = (v: number): number => 10 + READY_HEIGHT - (v / top) * READY_HEIGHT;
  const step = (key: "ready" | "desired"): string => {
    // A step line with a vertex only where the value changes.
    const pts: string[] = [];
    samples.forEach((s, i) => {
      const prev = samples[i - 1];
      if (prev === undefined) pts.push(`${num(ax.x(s.t))},${num(y(s[key]))}`);
      else if (prev[key] !== s[key])
        pts.push(`${num(ax.x(s.t))},${num(y(prev[key]))}`, `${num(ax.x(s.t))},${num(y(s[key]))}`);
    });
    const last = samples[samples.length - 1];
    if (last !== undefined) pts.push(`${num(ax.x(last.t + 1))},${num(y(last[key]))}`);
    return pts.join(" ");
  };
  const height = READY_HEIGHT + 10 + AXIS;
  const grid: string[] = [];
  const tick = niceStep(top, 4);
  for (let v = 0; v <= top + 1e-9; v += tick) {
    grid.push(
      `<line x1="${LEFT}" y1="${num(y(v))}" x2="${LEFT + PLOT}" y2="${num(y(v))}" class="grid"/><text x="${LEFT - 6}" y="${num(y(v) + 4)}" class="tick" text-anchor="end">${num(v)}</text>`,
    );
  }
  return `<svg class="chart ready" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="ready replicas against desired for ${escapeHtml(h.handler)}">
<text x="10" y="24" class="label">Ready replicas</text><text x="10" y="40" class="sub">min ratio ${h.minReadyRatio.toFixed(2)}</text>
${grid.join("")}
<polyline points="${step("desired")}" fill="none" stroke="${COLORS.desired}" stroke-width="1.5" stroke-dasharray="6 4"><title>desired</title></polyline>
<polyline points="${step("ready")}" fill="none" stroke="${COLORS.ready}" stroke-width="2"><title>Ready</title></polyline>
${guides(ax, h.evacuations, 10, 10 + READY_HEIGHT)}
${timeAxis(ax, 10 + READY_HEIGHT)}
</svg>`;
}

function marker(kind: LaneMarkKind, x: number, y: number, title: string): string {
  const s = MARK_STYLES[kind];
  const t = `<title>${escapeHtml(title)}</title>`;
  const cx = num(x);
  switch (s.shape) {
    case "circle":
      return `<circle cx="${cx}" cy="${y}" r="5" fill="${s.color}">${t}</circle>`;
    case "square":
      return `<rect x="${num(x - 5)}" y="${y - 5}" width="10" height="10" fill="${s.color}">${t}</rect>`;
    case "diamond":
      return `<path d="M${cx} ${y - 6}l6 6l-6 6l-6 -6z" fill="${s.color}">${t}</path>`;
    case "triangle":
      return `<path d="M${num(x - 6)} ${y - 6}h12l-6 11z" fill="${s.color}">${t}</path>`;
    case "cross":
      return `<path d="M${num(x - 5)} ${y - 5}l10 10m0 -10l-10 10" stroke="${s.color}" stroke-width="3">${t}</path>`;
  }
}

function lane(l: NodeLane, ax: Axis, y: number): string {
  const end = l.to ?? ax.duration;
  const label = `${shortNode(l.node)}${l.group === null ? "" : ` (${l.group})`}`;
  const marks = [...l.marks]
    .sort((a, b) => a.at - b.at)
    .map((m) =>
      marker(
        m.kind,
        ax.x(m.at),
        y,
        `${MARK_STYLES[m.kind].label} at ${num(m.at)} s${m.detail === undefined ? "" : `: ${m.detail}`}`,
      ),
    )
    .join("");
  return `<g class="lane" data-node="${escapeHtml(l.node)}"><title>${escapeHtml(l.node)}${l.zone === null ? "" : ` in ${escapeHtml(l.zone)}`}</title>
<text x="${LEFT - 8}" y="${y + 4}" class="tick" text-anchor="end">${escapeHtml(label)}</text>
<line x1="${num(ax.x(l.from))}" y1="${y}" x2="${num(ax.x(end))}" y2="${y}" class="lifeline"/>${marks}</g>`;
}

function lanesChart(h: HandlerReport, ax: Axis): string {
  const lanes = [...h.series.nodes].sort((a, b) => a.from - b.from || a.node.localeCompare(b.node));
  const height = 16 + lanes.length * LANE_HEIGHT + AXIS;
  const body = lanes.map((l, i) => lane(l, ax, 16 + i * LANE_HEIGHT + LANE_HEIGHT / 2)).join("\n");
  const bottom = 16 + lanes.length * LANE_HEIGHT;
  return `<svg class="chart lanes" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="node lanes for ${escapeHtml(h.handler)}">
<text x="10" y="12" class="label">nodes</text>
${guides(ax, h.evacuations, 10, bottom)}
${body}
${timeAxis(ax, bottom)}
</svg>`;
}

function legend(): string {
  const items = (Object.keys(MARK_STYLES) as LaneMarkKind[]).map((k, i) => {
    const x = 10 + (i % 5) * 185;
    const y = 14 + Math.floor(i / 5) * 20;
    return `${marker(k, x + 6, y, MARK_STYLES[k].label)}<text x="${x + 16}" y="${y + 4}" class="tick">${escapeHtml(MARK_STYLES[k].label)}</text>`;
  });
  const series = [
    `<rect x="10" y="50" width="12" height="10" fill="${COLORS.ok}"/><text x="26" y="59" class="tick">2xx</text>`,
    `<rect x="70" y="50" width="12" height="10" fill="${COLORS.other}"/><text x="86" y="59" class="tick">other / no response</text>`,
    `<rect x="210" y="50" width="12" height="10" fill="${COLORS.error}"/><text x="226" y="59" class="tick">5xx</text>`,
    `<line x1="280" y1="55" x2="300" y2="55" stroke="${COLORS.ready}" stroke-width="2"/><text x="306" y="59" class="tick">Ready</text>`,
    `<line x1="360" y1="55" x2="380" y2="55" stroke="${COLORS.desired}" stroke-width="1.5" stroke-dasharray="6 4"/><text x="386" y="59" class="tick">desired</text>`,
    `<line x1="450" y1="49" x2="450" y2="61" stroke="${COLORS.notice}" stroke-dasharray="3 3"/><text x="456" y="59" class="tick">notice</text>`,
    `<line x1="510" y1="49" x2="510" y2="61" stroke="${COLORS.deadline}" stroke-dasharray="6 3"/><text x="516" y="59" class="tick">deadline</text>`,
  ];
  return `<svg class="legend" width="${WIDTH}" height="70" viewBox="0 0 ${WIDTH} 70" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="legend">${items.join("")}${series.join("")}</svg>`;
}

function summaryTable(report: Report): string {
  const head = SUMMARY_COLUMNS;
  const rows = report.handlers.map((h) => {
    const cells = summaryRow(h);
    const cls = h.errors5xx > 0 ? "bad" : "good";
    return `<tr class="${cls}">${cells.map((c, i) => (i === 0 ? `<th scope="row"><a href="#h-${escapeHtml(c)}">${escapeHtml(c)}</a></th>` : `<td>${escapeHtml(c)}</td>`)).join("")}</tr>`;
  });
  return `<table class="summary"><thead><tr>${head.map((c) => `<th scope="col">${c}</th>`).join("")}</tr></thead><tbody>
${rows.join("\n")}
</tbody></table>`;
}

function evacuationTable(h: HandlerReport): string {
  if (h.evacuations.length === 0) return "";
  const f = (v: number | null): string => (v === null ? "-" : num(v));
  const rows = h.evacuations.map(
    (e) =>
      `<tr><th scope="row" title="${escapeHtml(e.node)}">${escapeHtml(shortNode(e.node))}</th><td>${f(e.noticeAt)}</td><td>${f(e.deadline)}</td><td>${f(e.cordonedAt)}</td><td>${f(e.replacementsReadyAt)}</td><td>${f(e.retiredAt)}</td><td>${f(e.nodeDiedAt)}</td><td>${f(e.slackSeconds)}</td></tr>`,
  );
  return `<table class="evacuations"><thead><tr><th scope="col">node</th><th scope="col">notice</th><th scope="col">deadline</th><th scope="col">cordoned</th><th scope="col">replacements ready</th><th scope="col">retired</th><th scope="col">died</th><th scope="col">slack</th></tr></thead><tbody>
${rows.join("\n")}
</tbody></table>`;
}

function handlerSection(h: HandlerReport, duration: number): string {
  const ax = new Axis(duration);
  const statuses = Object.entries(h.responses)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([s, n]) => `${escapeHtml(s)}: ${n}`)
    .join(", ");
  return `<section id="h-${escapeHtml(h.handler)}">
<h2>${escapeHtml(h.handler)}</h2>
<p class="sub">${h.version === null ? "" : `${escapeHtml(h.version)}; `}${h.requests} requests (${statuses}); ${h.errors5xx} 5xx; min ready ratio ${h.minReadyRatio.toFixed(2)}; ${h.replicaSecondsBelowDesired.toFixed(1)} replica-s below desired</p>
${requestsChart(h, ax)}
${readyChart(h, ax)}
${lanesChart(h, ax)}
${evacuationTable(h)}
</section>`;
}

const CSS = `body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#111827;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 4px;border-top:1px solid #e5e7eb;padding-top:16px}
.sub{color:#4b5563;font-size:12px}
table{border-collapse:collapse;margin:8px 0}th,td{padding:3px 10px;border-bottom:1px solid #e5e7eb;text-align:right;font-variant-numeric:tabular-nums}
th[scope=row],thead th:first-child{text-align:left}tr.bad th[scope=row]{color:#b91c1c}tr.good th[scope=row]{color:#047857}
svg{display:block;margin:2px 0}svg .label{font-size:13px;font-weight:600;fill:#111827}svg .sub{font-size:11px;fill:#4b5563}
svg .tick{font-size:11px;fill:#374151}svg .axis{stroke:#9ca3af}svg .grid{stroke:#f3f4f6}svg .lifeline{stroke:#9ca3af;stroke-width:2}`;

/** The whole page. */
export function renderReportHtml(report: Report): string {
  const duration = Math.max(1, ...report.handlers.map((h) => h.series.durationSeconds));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lifeboat lab: ${escapeHtml(report.scenario)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>lifeboat lab: ${escapeHtml(report.scenario)}</h1>
<p class="sub">time scale ${report.timeScale}; times in seconds from the scenario start</p>
${summaryTable(report)}
${legend()}
${report.handlers.map((h) => handlerSection(h, duration)).join("\n")}
</body>
</html>
`;
}
