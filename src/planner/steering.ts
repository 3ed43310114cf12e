/**
 * The pure steering planner: which nodes to taint `lifeboat.dev/pool-under-reclaim:PreferNoSchedule`, and
 * which to untaint. No I/O, no clock.
 *
 * A pool is an instance type in a zone (EC2 reclaims spot capacity per capacity pool: instance type and
 * availability zone). A burst is `threshold` distinct nodes of one pool with notices within `windowSeconds`;
 * the pool is steered until `taintSeconds` after the latest notice of its latest burst. Instance state changes
 * (shutting-down, terminated) do not count: they end a reclaim already counted. While steered, every
 * node of the pool that is not itself evacuating carries the taint (value: when it expires, epoch seconds), so
 * the scheduler scores the pool's nodes lower (TaintToleration) and surges and new pods prefer other pools;
 * nothing is evicted and a pod may still land there when nothing else fits. Once the time is over the taint
 * is removed. Notices count while their Evacuation exists (finished ones are kept for --evacuation-ttl-seconds)
 * and while their node does (a deleted node's pool is unknown).
 */
import type { Evacuation } from "../domain/evacuation.ts";
import { isActive } from "../domain/evacuation.ts";
import type { NodeView } from "../domain/snapshot.ts";
import type { SteeringSettings, SteeringStep } from "../domain/steering.ts";
import { INSTANCE_TYPE_LABEL, POOL_TAINT_KEY } from "../domain/steering.ts";

export interface SteeringInput {
  nodes: readonly NodeView[];
  evacuations: readonly Evacuation[];
  now: number;
  settings: SteeringSettings;
}

function poolOf(n: NodeView): string | null {
  const type = n.labels[INSTANCE_TYPE_LABEL];
  return type === undefined || n.zone === null ? null : `${type} in ${n.zone}`;
}

/** Epoch seconds in the taint's value; null when absent or unreadable. */
function taintUntil(n: NodeView): number | null {
  const taint = n.taints.find((t) => t.key === POOL_TAINT_KEY && t.effect === "PreferNoSchedule");
  if (taint === undefined) return null;
  const value = Number(taint.value);
  return Number.isFinite(value) ? value : 0;
}

/** When the pool's latest burst ends its steering (ms), or null without a burst. */
function steeredUntil(notices: readonly { node: string; at: number }[], s: SteeringSettings): number | null {
  const sorted = [...notices].sort((a, b) => a.at - b.at);
  let until: number | null = null;
  for (const [i, n] of sorted.entries()) {
    const inWindow = new Set(
      sorted
        .slice(0, i + 1)
        .filter((m) => m.at >= n.at - s.windowSeconds * 1000)
        .map((m) => m.node),
    );
    if (inWindow.size >= s.threshold) until = n.at + s.taintSeconds * 1000;
  }
  return until;
}

export function planSteering(input: SteeringInput): SteeringStep[] {
  const { nodes, evacuations, now, settings } = input;
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const notices = new Map<string, { node: string; at: number }[]>();
  for (const e of evacuations) {
    // A state change (shutting-down, terminated) is the reclaim's own end, not another reclaim.
    if (e.noticeKind === "instance-state-change") continue;
    const node = byName.get(e.nodeName);
    const pool = node === undefined ? null : poolOf(node);
    if (pool === null) continue;
    notices.set(pool, [...(notices.get(pool) ?? []), { node: e.nodeName, at: e.noticedAt }]);
  }
  const evacuating = new Set(evacuations.filter(isActive).map((e) => e.nodeName));
  const steps: SteeringStep[] = [];
  for (const n of [...nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    const pool = poolOf(n);
    const until =
      settings.threshold > 0 && pool !== null ? steeredUntil(notices.get(pool) ?? [], settings) : null;
    const current = taintUntil(n);
    const wanted = until !== null && until > now && !evacuating.has(n.name);
    if (wanted) {
      const untilSeconds = Math.ceil(until / 1000);
      // A later notice of the same burst moves the end by seconds: the taint is rewritten only when that
      // gains a tenth of its time, not on every notice (an AZ-wide reclaim: 100 notices, 300 nodes).
      if (current !== null && current > now / 1000 && current >= untilSeconds - settings.taintSeconds / 10)
        continue;
      const count = new Set((notices.get(pool ?? "") ?? []).map((x) => x.node)).size;
      steps.push({
        kind: "taint",
        node: n.name,
        until: untilSeconds,
        reason: `pool ${pool ?? "?"} is under reclaim (${count} of its nodes got notices within ${settings.windowSeconds} s): prefer other pools for new pods until ${new Date(untilSeconds * 1000).toISOString()}`,
      });
    } else if (current !== null && current * 1000 <= now) {
      steps.push({
        kind: "untaint",
        node: n.name,
        reason: `pool ${pool ?? "?"} is no longer under reclaim: the steering taint expired`,
      });
    }
  }
  return steps;
}
