/** Room for the replacements: warns when a surge does not fit outside the evacuation, and asks for an early node when configured. */
import type { Evacuation } from "../domain/evacuation.ts";
import { isPlaceholder } from "../domain/headroom.ts";
import type { Resources, WorkloadView } from "../domain/snapshot.ts";
import { workloadKey } from "../domain/snapshot.ts";
import type { Doomed, PlanContext } from "./plan-context.ts";
import type { PlanSink } from "./plan-sink.ts";
import { isFinished, plural } from "./plan-words.ts";

/**
 * First-fit of the surged pods' requests into the free room of schedulable nodes outside the evacuation;
 * the room held by headroom placeholders counts as free (src/planner/headroom.ts).
 */
export function capacityWarnings(
  ctx: PlanContext,
  out: PlanSink,
  surged: { view: WorkloadView; pods: Doomed[] }[],
): void {
  if (surged.length === 0) return;
  const free = freeRoom(ctx);
  const short = new Map<string, { evac: Evacuation; misfits: number }>();
  for (const { view, pods } of surged) {
    let misfits = 0;
    for (const d of pods) {
      const key = workloadKey(view.ref);
      const slot = free.find(
        (f) =>
          f.pods >= 1 &&
          f.cpuMilli >= d.pod.requests.cpuMilli &&
          f.memoryBytes >= d.pod.requests.memoryBytes &&
          !(d.pod.onePerNode && f.workloads.has(key)),
      );
      if (slot === undefined) {
        misfits++;
        const entry = short.get(d.evac.name) ?? { evac: d.evac, misfits: 0 };
        entry.misfits++;
        short.set(d.evac.name, entry);
        continue;
      }
      slot.pods -= 1;
      slot.cpuMilli -= d.pod.requests.cpuMilli;
      slot.memoryBytes -= d.pod.requests.memoryBytes;
      slot.workloads.add(key);
    }
    if (misfits > 0) {
      out.warns.push({
        kind: "warn",
        code: "InsufficientCapacity",
        subject: workloadKey(view.ref),
        reason: `${misfits} of ${plural(pods.length, "replacement")} do not fit on the schedulable nodes outside the evacuation (requests and one-per-node anti-affinity counted, tolerations ignored): they stay Pending until a node joins`,
      });
    }
  }
  if (!ctx.policy.earlyNode) return;
  for (const { evac, misfits } of short.values()) {
    if (evac.instanceId === null) continue;
    out.nodeRequests.push({
      kind: "request-node",
      node: evac.nodeName,
      instanceId: evac.instanceId,
      evacuation: evac.name,
      count: 1,
      reason: `no room for ${plural(misfits, "replacement")} of ${evac.nodeName}'s pods (headroom included): ask its Auto Scaling group for a node like it now instead of waiting for the autoscaler to see the Pending pods`,
    });
  }
}

export function freeRoom(ctx: PlanContext): (Resources & { pods: number; workloads: Set<string> })[] {
  const eligible = ctx.snapshot.nodes.filter(
    (n) =>
      n.ready &&
      !n.unschedulable &&
      !ctx.evacuatingNodes.has(n.name) &&
      !n.taints.some((t) => t.effect === "NoSchedule" || t.effect === "NoExecute"),
  );
  return eligible.map((n) => {
    // Placeholders of lifeboat's headroom are room: a surge pod preempts them (they have a lower priority).
    const used = ctx.podsOn(n.name).filter((p) => !isFinished(p) && !isPlaceholder(p));
    return {
      pods: n.allocatable.pods - used.length,
      cpuMilli: n.allocatable.cpuMilli - used.reduce((s, p) => s + p.requests.cpuMilli, 0),
      memoryBytes: n.allocatable.memoryBytes - used.reduce((s, p) => s + p.requests.memoryBytes, 0),
      // Workloads with a pod here: a one-per-node replacement of theirs cannot land here.
      workloads: new Set(used.flatMap((p) => (p.owner === null || p.deleting ? [] : [workloadKey(p.owner)]))),
    };
  });
}
