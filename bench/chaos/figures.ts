/**
 * The chaos bench's figures (docs/benchmarks.md, "Chaos"): what was doubled, stranded or faked, read off the
 * cluster at the end of the run, printed as a table and the final line
 *   chaos: evacuations=N lost_notices=N orphaned_surges=N replica_drift=N errors_5xx=N crashes=N
 */
import type { TimelineEntry } from "../../lab/cloud/cloud.ts";
import { NS } from "../../lab/harness/env.ts";
import { listEvacuations } from "../../lab/harness/evacuations.ts";
import type { Lab } from "../../lab/lab.ts";
import type { JunkKind } from "./junk-bodies.ts";
import type { Replica } from "./fleet.ts";
import type { Seen } from "./observe.ts";
import type { ChaosTraffic, Failure } from "./traffic.ts";

/** Instance id -> the node it was and the scenario second its warning was issued. */
export type Noticed = ReadonlyMap<string, { node: string; at: number }>;

/** What the junk phase sent and what the leader counted. */
export interface JunkResult {
  sent: Map<JunkKind, number>;
  sendSeconds: number;
  /** Seconds from the first junk body to the queue drained (or given up on). */
  junkSeconds: number;
  /** Messages still in the queue at the end. */
  left: number;
  /** The leader's outcome counters before and after. */
  before: Map<string, number>;
  after: Map<string, number>;
  foreignTouched: string[];
  touchedByJunk: string[];
  evacuationsOfForeign: string[];
}

/** Everything the run recorded. */
export interface ChaosRecord {
  settings: { seed: number; timeScale: number; junkCount: number; junkTimeout: number; t0Wall: number };
  app: { name: string; replicas: number };
  noticed: Noticed;
  reclaimedNodes: ReadonlySet<string>;
  seen: Seen;
  replicas: readonly Replica[];
  chaosLog: readonly string[];
  traffic: ChaosTraffic;
  junk: JunkResult;
  timeline: readonly TimelineEntry[];
}

export interface ChaosFigures {
  evacuations: number;
  done: number;
  failed: number;
  lost: { node: string; at: number }[];
  orphaned: string[];
  specReplicas: number;
  crashed: Replica[];
}

/** Reads the end state: the Evacuations' surges, the Deployment's replicas, the replicas that crashed. */
export async function readFigures(lab: Lab, r: ChaosRecord): Promise<ChaosFigures> {
  const final = await listEvacuations(lab);
  const orphaned = final.flatMap((e) =>
    (e.status?.surges ?? [])
      .filter((s) => s.retiredAt === undefined)
      .map((s) => `${e.metadata.name}: ${s.workload.kind}/${s.workload.name} +${s.by} (${e.status?.phase})`),
  );
  const specReplicas =
    (await lab.apps.readNamespacedDeployment({ name: r.app.name, namespace: NS })).spec?.replicas ?? 0;
  const { seen } = r;
  const evacuatedNodes = new Set(seen.evacuations.values());
  /** The figure: reclaimed nodes whose evacuation reached Done. */
  const evacuatedOk = new Set(
    [...seen.finished].filter(([, p]) => p === "Done").map(([name]) => seen.evacuations.get(name)),
  );
  return {
    evacuations: [...r.reclaimedNodes].filter((n) => evacuatedOk.has(n)).length,
    done: [...seen.finished.values()].filter((p) => p === "Done").length,
    failed: [...seen.finished.values()].filter((p) => p === "Failed").length,
    lost: [...r.noticed.values()].filter((n) => !evacuatedNodes.has(n.node)),
    orphaned,
    specReplicas,
    crashed: r.replicas.filter((x) => !x.killed && !x.process.running),
  };
}

export function printFigures(r: ChaosRecord, f: ChaosFigures): void {
  const rows = figureRows(r, f);
  for (const w of errorWindows(r.traffic.failures, r.seen, r.noticed, r.timeline))
    rows.push(["5xx window", w]);
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log("");
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  const drift = Math.abs(f.specReplicas - r.app.replicas);
  console.log(
    `chaos: evacuations=${f.evacuations} lost_notices=${f.lost.length} orphaned_surges=${f.orphaned.length} replica_drift=${drift} errors_5xx=${r.traffic.errors5xx} crashes=${f.crashed.length}`,
  );
}

function figureRows(r: ChaosRecord, f: ChaosFigures): [string, string][] {
  const { settings: s, seen, traffic, junk } = r;
  const sentCount = [...junk.sent.values()].reduce((a, b) => a + b, 0);
  return [
    ["seed / time scale", `${s.seed} / ${s.timeScale}`],
    ["wall time", `${((Date.now() - s.t0Wall) / 1000).toFixed(0)} s`],
    ["spot warnings sent (phase 1)", String(r.noticed.size)],
    ["evacuations seen / Done / Failed", `${seen.evacuations.size} / ${f.done} / ${f.failed}`],
    ["leader kills", String(r.replicas.filter((x) => x.killed).length)],
    ["chaos", r.chaosLog.filter((l) => !l.includes("SIGKILL")).join("; ") || "-"],
    ["requests / 5xx or errors", `${traffic.requests} / ${traffic.errors5xx}`],
    ["5xx by status", [...traffic.statuses].map(([st, n]) => `${st}: ${n}`).join(", ") || "-"],
    ["lost notices", f.lost.map((n) => `${n.node} (t=${n.at.toFixed(0)} s)`).join(", ") || "0"],
    ["orphaned surges", f.orphaned.join("; ") || "0"],
    ["Deployment spec.replicas at the end", `${f.specReplicas} (desired ${r.app.replicas})`],
    ["replicas that crashed", f.crashed.map((x) => `${x.identity} (${x.process.logPath})`).join(", ") || "0"],
    [
      "junk bodies sent",
      `${sentCount} of ${s.junkCount} (sent in ${junk.sendSeconds.toFixed(0)} s, --junk-timeout ${s.junkTimeout} s); ${junk.left} still in the queue after ${junk.junkSeconds.toFixed(0)} s`,
    ],
    ...[...junk.sent].sort().map(([k, n]): [string, string] => [`  sent: ${k}`, String(n)]),
    ...[...new Set([...junk.before.keys(), ...junk.after.keys()])]
      .sort()
      .map((k): [string, string] => [
        `  counted by the leader: ${k}`,
        String((junk.after.get(k) ?? 0) - (junk.before.get(k) ?? 0)),
      ]),
    ["nodes touched that got no notice", junk.foreignTouched.join(", ") || "0"],
    ["nodes touched during the junk phase", junk.touchedByJunk.join(", ") || "0"],
    ["Evacuations of nodes that got no notice", junk.evacuationsOfForeign.join(", ") || "0"],
  ];
}

/**
 * Failed requests grouped into windows (no gap over 5 scenario seconds), each with its statuses, the nodes
 * of the targets that failed, and what the cloud and lifeboat did to those nodes: where a 5xx came from.
 */
function errorWindows(
  failures: readonly Failure[],
  seen: Seen,
  noticed: Noticed,
  timeline: readonly TimelineEntry[],
): string[] {
  const sorted = [...failures].sort((a, b) => a.t - b.t);
  const windows: (typeof sorted)[] = [];
  for (const f of sorted) {
    const last = windows.at(-1);
    if (last !== undefined && f.t - (last.at(-1)?.t ?? 0) <= 5) last.push(f);
    else windows.push([f]);
  }
  return windows.map((w) => {
    const count = new Map<string, number>();
    for (const f of w) count.set(f.status, (count.get(f.status) ?? 0) + 1);
    const nodes = new Set(
      w.map((f) => seen.podNodes.get(f.target.split(":")[0] ?? "") ?? `target ${f.target}`),
    );
    const about = [...nodes].map((node) => aboutNode(node, seen, noticed, timeline));
    return `t=${w[0]?.t.toFixed(0)}..${w.at(-1)?.t.toFixed(0)} s: ${[...count].map(([s, n]) => `${n} x ${s}`).join(", ")}; ${about.join(" | ")}`;
  });
}

/** What the cloud and lifeboat did to a node: its notice, its death, its Evacuations' timelines. */
function aboutNode(node: string, seen: Seen, noticed: Noticed, timeline: readonly TimelineEntry[]): string {
  const notice = [...noticed.values()].find((n) => n.node === node);
  const died = timeline.find((e) => e.node === node && e.kind === "node-killed");
  const evac = [...seen.latest.values()].filter((e) => e.spec.nodeName === node);
  const tl = evac.map((e) => {
    const at = (iso: string | undefined): string =>
      iso === undefined ? "-" : ((Date.parse(iso) - Date.parse(e.spec.noticedAt)) / 1000).toFixed(1);
    const t = e.status?.timeline ?? {};
    return `${e.metadata.name} ${e.status?.phase ?? "?"} cordon +${at(t.cordonedAt)} surge +${at(t.surgeCreatedAt)} ready +${at(t.replacementsReadyAt)} retired +${at(t.retiredAt)} done +${at(t.doneAt)} (s after notice received)`;
  });
  return `${node}: notice t=${notice?.at.toFixed(0) ?? "-"}, died t=${died?.at.toFixed(0) ?? "-"}; ${tl.join("; ") || "no Evacuation"}`;
}
