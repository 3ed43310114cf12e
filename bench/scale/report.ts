/** The scale bench's result for one size and handler, and how it is printed. */
import type { BenchHandler } from "./handler.ts";

/** What the reclaim itself measured. */
export interface ReclaimFigures {
  reclaimed: number;
  /** lifeboat only: its Evacuations of the reclaimed nodes, and how many were Done before the deadline. */
  evacuations: number | null;
  doneBeforeDeadline: number | null;
  emptiedBeforeDeadline: number;
  cordonS: number[];
  surgeS: number[];
  missingCordon: number;
  missingSurge: number;
  rssPeakMb: number;
  cpuSeconds: number;
  cpuEventSeconds: number;
  /** lifeboat only (its own client's counts): API requests by verb, all and during the event. */
  requests: Map<string, number> | null;
  eventRequests: Map<string, number> | null;
  /** The machine's load average at the event. */
  load: string;
  notes: string[];
}

export interface Result extends ReclaimFigures {
  handler: BenchHandler;
  nodes: number;
  pods: number;
  deployments: number;
  statefulSets: number;
  pdbs: number;
  /** Pods of the Deployments: Ready before the event, and the lowest sum seen during it. */
  deploymentPods: number;
  minReady: number;
  syncSeconds: number;
  setupSeconds: number;
}

export function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? NaN;
}

const sum = (m: ReadonlyMap<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
const verbs = (m: ReadonlyMap<string, number>): string =>
  [...m]
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([v, n]) => `${v} ${n}`)
    .join(", ");

export function printTable(r: Result): void {
  const f = (x: number): string => (Number.isNaN(x) ? "-" : x.toFixed(2));
  const spread = (xs: readonly number[]): string =>
    `${f(percentile(xs, 50))} / ${f(percentile(xs, 90))} / ${f(percentile(xs, 99))} / ${f(percentile(xs, 100))} s`;
  const lifeboat = r.handler === "lifeboat";
  const rows: [string, string][] = [
    ["nodes / pods", `${r.nodes} / ${r.pods}`],
    ["workloads", `${r.deployments} Deployments, ${r.statefulSets} StatefulSets, ${r.pdbs} PDBs`],
    ["setup (lab, pods Ready)", `${r.setupSeconds.toFixed(0)} s`],
    ["load average at the event", r.load],
    [
      lifeboat ? "controller start to informers synced" : "start to monitoring SQS",
      `${r.syncSeconds.toFixed(1)} s`,
    ],
    [
      "reclaimed (warned within 10 s)",
      `${r.reclaimed}${r.evacuations === null ? "" : `; ${r.evacuations} Evacuations`}`,
    ],
    [
      "emptied before the deadline",
      `${r.emptiedBeforeDeadline} of ${r.reclaimed} (every pod ${lifeboat ? "retired, or evicted at its last responsible moment" : "evicted"})`,
    ],
    ...(r.doneBeforeDeadline === null
      ? []
      : [
          [
            "Done before the deadline",
            `${r.doneBeforeDeadline} of ${r.reclaimed} (also every surge retired: replacements Ready)`,
          ] as [string, string],
        ]),
    [
      "notice -> cordon  p50 / p90 / p99 / max",
      `${spread(r.cordonS)}${r.missingCordon > 0 ? ` (${r.missingCordon} never cordoned)` : ""}`,
    ],
    ...(lifeboat
      ? [
          [
            "notice -> surge   p50 / p90 / p99 / max",
            `${spread(r.surgeS)}${r.missingSurge > 0 ? ` (${r.missingSurge} with a Deployment never surged)` : ""}`,
          ] as [string, string],
        ]
      : []),
    [
      "Deployment pods Ready, lowest",
      `${r.minReady} of ${r.deploymentPods} (${r.deploymentPods - r.minReady} below)`,
    ],
    [`${lifeboat ? "controller" : r.handler} peak RSS`, `${r.rssPeakMb.toFixed(0)} MB`],
    [
      `${lifeboat ? "controller" : r.handler} CPU (all / during the event)`,
      `${r.cpuSeconds.toFixed(1)} / ${r.cpuEventSeconds.toFixed(1)} s`,
    ],
    ...(r.requests === null || r.eventRequests === null
      ? []
      : [
          ["API requests (all)", `${sum(r.requests)}: ${verbs(r.requests)}`] as [string, string],
          [
            "API requests during the event",
            `${sum(r.eventRequests)} (${(sum(r.eventRequests) / Math.max(1, r.reclaimed)).toFixed(1)} per evacuation): ${verbs(r.eventRequests)}`,
          ] as [string, string],
        ]),
    ...r.notes.map((n): [string, string] => ["note", n]),
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\nscale at ${r.nodes} nodes: ${r.handler}`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
}

/** The last lines (figures at the largest size run): `scale: ...` for lifeboat, `scale-<handler>: ...` for the others. */
export function printSummary(results: readonly Result[]): void {
  const largest = Math.max(...results.map((r) => r.nodes));
  console.log("");
  const last = results.find((r) => r.nodes === largest && r.handler === "lifeboat");
  if (last !== undefined)
    console.log(
      `scale: nodes=${last.nodes} pods=${last.pods} reclaimed=${last.reclaimed} done_before_deadline=${last.emptiedBeforeDeadline} cordon_p99_s=${percentile(last.cordonS, 99).toFixed(2)} surge_p99_s=${percentile(last.surgeS, 99).toFixed(2)} rss_mb=${last.rssPeakMb.toFixed(0)} cpu_s=${last.cpuSeconds.toFixed(1)} api_requests=${sum(last.requests ?? new Map())}`,
    );
  for (const r of results.filter((x) => x.nodes === largest && x.handler !== "lifeboat"))
    console.log(
      `scale-${r.handler}: nodes=${r.nodes} pods=${r.pods} reclaimed=${r.reclaimed} drained_before_deadline=${r.emptiedBeforeDeadline} cordon_p99_s=${percentile(r.cordonS, 99).toFixed(2)} min_ready=${r.minReady}/${r.deploymentPods}`,
    );
}
