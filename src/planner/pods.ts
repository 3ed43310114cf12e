/** Pods on evacuating nodes: which way each one leaves (surge, evict at once, evict at its LRM, force-delete, release a StatefulSet pod of a stopped instance, or stay), and the eviction itself, with the PodDisruptionBudget rule at the last responsible moment. */
import type { Evacuation } from "../domain/evacuation.ts";
import { isPlaceholder } from "../domain/headroom.ts";
import { instanceDown } from "../domain/evacuation.ts";
import { OUT_OF_SERVICE_TAINT } from "../domain/plan.ts";
import type { PodView } from "../domain/snapshot.ts";
import { podKey, workloadKey } from "../domain/snapshot.ts";
import { lastResponsibleMoment } from "./budgets.ts";
import { pdbRule } from "./death.ts";
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
      if (pod.mirror) {
        out.skip(
          pod,
          evac,
          evac.instanceGone
            ? "mirror pod of a static pod: it disappears with the node"
            : "mirror pod of a static pod: the kubelet owns it, the API cannot move it",
        );
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
      if (evac.instanceGone) {
        if (pod.owner?.kind !== "StatefulSet") {
          forceDelete(out, pod, evac);
          continue;
        }
        if (instanceDown(evac)) {
          releaseStatefulPod(ctx, out, pod, evac);
          continue;
        }
        // Stopping or shutting-down: the OS may still run this identity, and a force-delete would let the
        // StatefulSet start it again elsewhere while it runs here. It leaves the graceful way below (evicted at
        // once, its PodDisruptionBudget overridden: the node is already dying) until the instance is down.
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

export function forceDelete(
  out: PlanSink,
  pod: PodView,
  evac: Evacuation,
  reason = `instance ${evac.instanceId ?? evac.nodeName} is ${evac.instanceState ?? "shutting down or terminated"}: the pod cannot run (or run its preStop) any more; delete it now so endpoints and its controller let go at once instead of after the node-monitor grace period`,
): void {
  out.forceDeletes.push({
    kind: "force-delete",
    pod: { namespace: pod.namespace, name: pod.name },
    node: evac.nodeName,
    evacuation: evac.name,
    reason,
  });
}

/**
 * Releases a StatefulSet pod of an instance that is stopped or terminated: force-deleted, so that the
 * StatefulSet starts its identity elsewhere. Invariant: never before the node carries the out-of-service
 * taint (or is gone), so that the attach-detach controller lets go of its volumes at once instead of after
 * its 6-minute wait; until then the taint is planned and the pod waits for it.
 */
function releaseStatefulPod(ctx: PlanContext, out: PlanSink, pod: PodView, evac: Evacuation): void {
  const instance = `instance ${evac.instanceId ?? evac.nodeName} is ${evac.instanceState ?? "gone"}`;
  const node = ctx.nodes.get(evac.nodeName);
  const { key, value, effect } = OUT_OF_SERVICE_TAINT;
  const taint = `${key}=${value}:${effect}`;
  if (node === undefined || node.taints.some((t) => t.key === key && t.effect === effect)) {
    forceDelete(
      out,
      pod,
      evac,
      `${instance}: nothing runs this StatefulSet identity any more; release it (delete with grace period 0) so the StatefulSet starts it elsewhere, its volumes free at once (${node === undefined ? "the node is gone" : `the node carries ${taint}`})`,
    );
    return;
  }
  if (!out.outOfService.some((s) => s.node === node.name))
    out.outOfService.push({
      kind: "taint-out-of-service",
      node: node.name,
      evacuation: evac.name,
      reason: `${instance}: taint ${node.name} ${taint} so the volumes of its StatefulSet pods detach at once (instead of after the attach-detach controller's 6-minute wait) when they are released`,
    });
  out.wait(
    podKey(pod),
    ctx.now + ctx.budgets.reviewIntervalSeconds * 1000,
    `${instance}: StatefulSet pod released once ${node.name} carries ${taint}`,
  );
}

/**
 * Evicts `d`. Invariant: a PodDisruptionBudget is overridden only when the node's death is certain
 * (./death.ts): at or past the pod's last responsible moment before that end, the node dies whatever the PDB
 * says, and a pod still in the load balancer then fails every request sent to it. So a pod a PDB would refuse
 * now is deleted gracefully instead (its preStop and grace period run), and an eviction refused later is
 * answered the same way by the executor. When the end is not certain (a manual deadline, an ASG lifecycle
 * hook lifeboat heartbeats, a scheduled reboot) the budget holds, at the LRM too: the eviction is retried
 * until it allows one, and a wait says why.
 */
export function evict(
  ctx: PlanContext,
  out: PlanSink,
  d: Doomed,
  reason: string,
  atLastResponsibleMoment: boolean,
): void {
  const pod = { namespace: d.pod.namespace, name: d.pod.name };
  const evictStep = (overridePdb: boolean, why: string): void => {
    out.evicts.push({
      kind: "evict",
      pod,
      node: d.evac.nodeName,
      evacuation: d.evac.name,
      atLastResponsibleMoment,
      overridePdb,
      reason: `${reason}${why}`,
    });
  };
  if (!atLastResponsibleMoment) {
    evictStep(false, "");
    return;
  }
  const rule = pdbRule(d.evac, d.pod.preStopSeconds, ctx.budgets, ctx.now);
  const pdbs = ctx.blockingPdbs(d.pod);
  if (rule.override && pdbs.length > 0) {
    out.evicts.push({
      kind: "delete",
      pod,
      node: d.evac.nodeName,
      evacuation: d.evac.name,
      pdbs,
      reason: `${reason}; PodDisruptionBudget ${pdbs.join(", ")} allows no disruption now, but at the last responsible moment the disruption is no longer voluntary (${rule.why}): delete the pod with its own grace period instead of evicting it`,
    });
    return;
  }
  if (rule.override || pdbs.length === 0) {
    evictStep(rule.override, "");
    return;
  }
  const holds = `PodDisruptionBudget ${pdbs.join(", ")} allows no disruption now and holds the pod at its last responsible moment too (${rule.why})`;
  evictStep(false, `; ${holds}: the eviction is retried until the budget allows one`);
  out.wait(podKey(d.pod), rule.until, `${holds}: evicting again until it allows one`);
}

/**
 * Said in advance, in the waits of pods that have an LRM: whether a PDB that allows no disruption now will
 * hold them at the LRM. Empty when no such PDB selects them.
 */
export function pdbAtLrmNote(ctx: PlanContext, pods: readonly Doomed[]): string {
  const atLrm = pods.filter((d): d is Doomed & { lrm: number } => d.lrm !== null);
  const pdbsOf = (list: readonly Doomed[]): string[] => [
    ...new Set(list.flatMap((d) => ctx.blockingPdbs(d.pod))),
  ];
  const overridden = atLrm.filter((d) => pdbRule(d.evac, d.pod.preStopSeconds, ctx.budgets, d.lrm).override);
  const held = atLrm.filter((d) => !overridden.includes(d));
  const notes: string[] = [];
  const deleted = pdbsOf(overridden);
  if (deleted.length > 0)
    notes.push(
      `; PodDisruptionBudget ${deleted.join(", ")} allows no disruption now: if it still allows none at the last responsible moment, the pods are deleted anyway (graceful, Warning PdbOverridden), since the node dies whatever the budget says`,
    );
  const holding = pdbsOf(held);
  const first = held[0];
  if (holding.length > 0 && first !== undefined)
    notes.push(
      `; PodDisruptionBudget ${holding.join(", ")} allows no disruption now and will hold the pods at the last responsible moment too (${pdbRule(first.evac, first.pod.preStopSeconds, ctx.budgets, first.lrm).why})`,
    );
  return notes.join("");
}
