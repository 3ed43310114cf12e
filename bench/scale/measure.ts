/**
 * What the scale bench measures per reclaimed node, from its own watches (times are the bench's clock, from
 * just before the SendMessage call of the node's warning), and what it reads of the controller's process.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { SqsSender } from "../../lab/cloud/cloud.ts";
import { NS } from "../../lab/harness/env.ts";
import { listEvacuations } from "../../lab/harness/evacuations.ts";
import type { Lab } from "../../lab/lab.ts";
import { procStats, type StartedHandler } from "./handler.ts";
import type { Watcher } from "./watcher.ts";
import { listPods } from "./workloads.ts";

/** Where every pod runs, and each Deployment's replicas before the event. */
export interface Placement {
  /** Node -> the Deployments with a pod on it. */
  deploymentsOnNode: Map<string, Set<string>>;
  /** The pods a handler must move off each node (not DaemonSet or mirror pods), by uid. */
  movableOnNode: Map<string, string[]>;
  initialReplicas: Map<string, number>;
  /** Pods of the Deployments. */
  deploymentPods: number;
}

export async function readPlacement(lab: Lab): Promise<Placement> {
  const pods = await listPods(lab);
  const deploymentsOnNode = new Map<string, Set<string>>();
  const movableOnNode = new Map<string, string[]>();
  for (const p of pods) {
    const on = p.spec?.nodeName;
    const owner = p.metadata?.ownerReferences?.[0]?.kind;
    if (on !== undefined && owner !== "DaemonSet" && owner !== "Node")
      movableOnNode.set(on, [...(movableOnNode.get(on) ?? []), p.metadata?.uid ?? ""]);
  }
  for (const p of pods) {
    const node = p.spec?.nodeName;
    const rs = p.metadata?.ownerReferences?.find((o) => o.kind === "ReplicaSet")?.name;
    if (node === undefined || rs === undefined) continue;
    const deployment = rs.replace(/-[a-z0-9]+$/, "");
    let set = deploymentsOnNode.get(node);
    if (set === undefined) deploymentsOnNode.set(node, (set = new Set()));
    set.add(deployment);
  }
  const initialReplicas = new Map(
    (await lab.apps.listNamespacedDeployment({ namespace: NS })).items.map((d) => [
      d.metadata?.name ?? "",
      d.spec?.replicas ?? 0,
    ]),
  );
  const deploymentPods = [...initialReplicas.values()].reduce((a, b) => a + b, 0);
  return { deploymentsOnNode, movableOnNode, initialReplicas, deploymentPods };
}

/** When each warning was sent: performance.now() for latencies, epoch ms for its deadline. */
export class Warnings {
  readonly sentAt = new Map<string, number>();
  readonly sentEpoch = new Map<string, number>();

  /** `send`, noting when each instance's first message went out. */
  sender(send: SqsSender): SqsSender {
    return async (body) => {
      const id = (JSON.parse(body) as { detail?: { "instance-id"?: string } }).detail?.["instance-id"];
      if (id !== undefined && !this.sentAt.has(id)) {
        this.sentAt.set(id, performance.now());
        this.sentEpoch.set(id, Date.now());
      }
      await send(body);
    };
  }
}

/** Peak RSS of a process, sampled every second (VmHWM, so a peak between samples is not missed). */
export class RssSampler {
  peakMb = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(pid: number) {
    this.#timer = setInterval(() => {
      try {
        this.peakMb = Math.max(this.peakMb, procStats(pid).rssPeakMb);
      } catch {
        // the process is gone
      }
    }, 1_000);
  }

  stop(lastPeakMb: number): number {
    clearInterval(this.#timer);
    this.peakMb = Math.max(this.peakMb, lastPeakMb);
    return this.peakMb;
  }
}

/**
 * Emptied: every pod the handler had to move was leaving (retired by a scale-down, evicted, deleted) by
 * `deadline` (epoch ms).
 */
export function emptiedBy(placement: Placement, watcher: Watcher, node: string, deadline: number): boolean {
  return (placement.movableOnNode.get(node) ?? []).every((uid) => {
    const left = watcher.leftAt.get(uid);
    return left !== undefined && left <= deadline;
  });
}

export interface EventWait {
  warnings: Warnings;
  watcher: Watcher;
  placement: Placement;
  running: StartedHandler;
  byInstance: ReadonlyMap<string, string>;
  reclaimedCount: number;
  /** Seconds from the event to the last node's deadline. */
  lastDeadline: number;
  log: (line: string) => void;
}

/**
 * Until every reclaimed node is emptied and (lifeboat) its Evacuation finished, or 30 s after the last
 * deadline; returns what was unmet then.
 */
export async function waitForEvacuations(w: EventWait): Promise<string[]> {
  const notes: string[] = [];
  const { warnings, watcher, reclaimedCount } = w;
  const emptiedNow = (): number =>
    [...warnings.sentAt.keys()].filter((i) =>
      emptiedBy(w.placement, watcher, w.byInstance.get(i) ?? "", Infinity),
    ).length;
  const tEvent = performance.now();
  for (;;) {
    await sleep(5_000);
    const elapsed = (performance.now() - tEvent) / 1000;
    const emptied = emptiedNow();
    const finished = await w.running.finished(reclaimedCount);
    if (warnings.sentAt.size === reclaimedCount && emptied === reclaimedCount && finished) break;
    if (elapsed > w.lastDeadline + 30) {
      if (emptied < reclaimedCount)
        notes.push(`${reclaimedCount - emptied} nodes not emptied 30 s after the last deadline`);
      if (!finished) notes.push("Evacuations not all Done or Failed 30 s after the last deadline");
      break;
    }
    if (Math.round(elapsed) % 30 < 5)
      w.log(
        `t=${elapsed.toFixed(0)} s: ${warnings.sentAt.size} warnings sent, ${emptied} nodes emptied, ${watcher.cordonedAt.size} cordoned, Deployment pods Ready min ${watcher.minReady}/${w.placement.deploymentPods}`,
      );
  }
  return notes;
}

/** Notice -> cordon and (lifeboat) notice -> surge per reclaimed node, in seconds. */
export function latencies(
  w: Pick<EventWait, "warnings" | "watcher" | "placement" | "byInstance">,
  surges: boolean,
): { cordonS: number[]; surgeS: number[]; missingCordon: number; missingSurge: number } {
  const out = { cordonS: [] as number[], surgeS: [] as number[], missingCordon: 0, missingSurge: 0 };
  for (const [instance, at] of w.warnings.sentAt) {
    const node = w.byInstance.get(instance);
    if (node === undefined) continue;
    const cordoned = w.watcher.cordonedAt.get(node);
    if (cordoned === undefined) out.missingCordon++;
    else out.cordonS.push((cordoned - at) / 1000);
    if (!surges) continue;
    const deployments = [...(w.placement.deploymentsOnNode.get(node) ?? [])];
    const surged = deployments.map((d) => w.watcher.surgedAt.get(d));
    if (surged.some((s) => s === undefined)) out.missingSurge++;
    else if (surged.length > 0) out.surgeS.push((Math.max(...(surged as number[])) - at) / 1000);
  }
  return out;
}

/** lifeboat's Evacuations of the reclaimed nodes, and how many were Done before their deadline. */
export async function evacuationFigures(
  lab: Lab,
  reclaimedNodes: ReadonlySet<string | undefined>,
): Promise<{ evacuations: number; doneBeforeDeadline: number }> {
  const ofReclaimed = (await listEvacuations(lab)).filter((e) => reclaimedNodes.has(e.spec.nodeName));
  // Done: every surge retired too, i.e. the replacements Ready.
  const doneBeforeDeadline = ofReclaimed.filter((e) => {
    const done = e.status?.timeline?.doneAt;
    return (
      e.status?.phase === "Done" &&
      done !== undefined &&
      e.spec.deadline !== undefined &&
      Date.parse(done) <= Date.parse(e.spec.deadline)
    );
  }).length;
  return { evacuations: ofReclaimed.length, doneBeforeDeadline };
}

/** API requests by verb between two readings. */
export function requestsBetween(
  before: ReadonlyMap<string, number> | null,
  after: ReadonlyMap<string, number> | null,
): Map<string, number> | null {
  if (after === null) return null;
  const out = new Map<string, number>();
  for (const [verb, n] of after) out.set(verb, n - (before?.get(verb) ?? 0));
  return out;
}
