/** Pods on evacuating nodes: which way each one leaves (surge, evict at once, evict at its LRM, force-delete, or stay), and the eviction itself, with the PodDisruptionBudget rule at the last responsible moment. */
import type { Evacuation } from "../domain/evacuation.ts";
import { isPlaceholder } from "../domain/headroom.ts";
import type { PodView } from "../domain/snapshot.ts";
import { workloadKey } from "../domain/snapshot.ts";
import { lastResponsibleMoment } from "./budgets.ts";
import type { Doomed, PlanContext } from "./plan-context.ts";
import type { PlanSink } from "./plan-sink.ts";
import { isFinished, pushTo } from "./plan-words.ts";

export function classify(
  ctx: PlanContext,
  out: PlanSink,
): { byWorkload: Map<string, Doomed[]>; atOnce: Doomed[]; atLrm: Doomed[] } {
  const byWorkload = new Map<string, Doomed[]>();
  const atOnce: Doomed[] = [];
  const atLrm: Doomed[] = [];
  for (const evac of ctx.moving) {
    for (const pod of ctx.podsOn(evac.nodeName)) {
      if (evac.instanceGone) {
        forceDelete(out, pod, evac);
        continue;
      }
      if (pod.mirror) {
        out.skip(pod, evac, "mirror pod of a static pod: the kubelet owns it, the API cannot move it");
        continue;
      }
      if (pod.owner?.kind === "DaemonSet") {
        out.skip(
          pod,
          evac,
          `DaemonSet pod (${pod.owner.name}): it runs on every node and goes with this one`,
        );
        continue;
      }
      if (isFinished(pod)) {
        out.skip(pod, evac, `already finished (${pod.phase}): nothing to move`);
        continue;
      }
      if (pod.deleting) continue; // already leaving; completion waits for it to be gone
      if (isPlaceholder(pod)) {
        out.skip(pod, evac, "headroom placeholder: room, not a workload; the headroom keeper puts it back");
        continue;
      }
      const d: Doomed = {
        pod,
        evac,
        lrm: lastResponsibleMoment(evac.deadline, pod.preStopSeconds, ctx.budgets),
      };
      const owner = pod.owner;
      if (owner === null) {
        atLrm.push(d);
      } else if (owner.kind === "Deployment" || owner.kind === "ReplicaSet") {
        const key = workloadKey(owner);
        if (ctx.workloads.has(key)) {
          pushTo(byWorkload, key, d);
        } else {
          atLrm.push(d); // cannot judge its replacements without the workload: treat it like a bare pod
        }
      } else {
        atOnce.push(d);
      }
    }
  }
  return { byWorkload, atOnce, atLrm };
}

export function forceDelete(out: PlanSink, pod: PodView, evac: Evacuation): void {
  if (pod.mirror) {
    out.skip(pod, evac, "mirror pod of a static pod: it disappears with the node");
    return;
  }
  out.forceDeletes.push({
    kind: "force-delete",
    pod: { namespace: pod.namespace, name: pod.name },
    node: evac.nodeName,
    evacuation: evac.name,
    reason: `instance ${evac.instanceId ?? evac.nodeName} is shutting down or terminated: the pod cannot run (or run its preStop) any more; delete it now so endpoints and its controller let go at once instead of after the node-monitor grace period`,
  });
}

/**
 * Evicts `d`. Invariant: at or past the pod's last responsible moment a PodDisruptionBudget does not hold it
 * back: the node dies at the deadline whatever the PDB says, and a pod still in the load balancer then fails
 * every request sent to it. So a pod a PDB would refuse now is deleted gracefully instead (its preStop and
 * grace period run), and an eviction refused later is answered the same way by the executor.
 */
export function evict(
  ctx: PlanContext,
  out: PlanSink,
  d: Doomed,
  reason: string,
  atLastResponsibleMoment: boolean,
): void {
  const pod = { namespace: d.pod.namespace, name: d.pod.name };
  const pdbs = atLastResponsibleMoment ? ctx.blockingPdbs(d.pod) : [];
  if (pdbs.length > 0) {
    out.evicts.push({
      kind: "delete",
      pod,
      node: d.evac.nodeName,
      evacuation: d.evac.name,
      pdbs,
      reason: `${reason}; PodDisruptionBudget ${pdbs.join(", ")} allows no disruption now, but at the last responsible moment the disruption is no longer voluntary (the node dies at the deadline whatever the budget says): delete the pod with its own grace period instead of evicting it`,
    });
    return;
  }
  out.evicts.push({
    kind: "evict",
    pod,
    node: d.evac.nodeName,
    evacuation: d.evac.name,
    atLastResponsibleMoment,
    reason,
  });
}

/**
 * Said in advance, in the waits of pods that have an LRM: a PDB that allows no disruption now will not hold
 * them at the LRM. Empty when no such PDB selects them.
 */
export function pdbAtLrmNote(ctx: PlanContext, pods: readonly Doomed[]): string {
  const pdbs = [...new Set(pods.filter((d) => d.lrm !== null).flatMap((d) => ctx.blockingPdbs(d.pod)))];
  if (pdbs.length === 0) return "";
  return `; PodDisruptionBudget ${pdbs.join(", ")} allows no disruption now: if it still allows none at the last responsible moment, the pods are deleted anyway (graceful, Warning PdbOverridden), since the node dies whatever the budget says`;
}
