/** Warnings in the plan: preStop sleeps shorter than the load balancer's propagation, PodDisruptionBudgets that will refuse an eviction. */
import type { PodView } from "../domain/snapshot.ts";
import { matchesLabels, podKey, workloadKey } from "../domain/snapshot.ts";
import type { Doomed, PlanContext } from "./plan-context.ts";
import type { PlanSink } from "./plan-sink.ts";
import { pushTo } from "./plan-words.ts";

export function shortPreStopWarnings(ctx: PlanContext, out: PlanSink, doomed: Doomed[]): void {
  const lb = ctx.budgets.lbPropagationSeconds;
  const groups = new Map<string, PodView[]>();
  for (const { pod } of doomed) {
    if ((pod.preStopSeconds ?? 0) >= lb) continue;
    const subject = pod.owner === null ? `Pod/${podKey(pod)}` : workloadKey(pod.owner);
    pushTo(groups, subject, pod);
  }
  for (const [subject, pods] of groups) {
    const shortest = Math.min(...pods.map((p) => p.preStopSeconds ?? 0));
    const sleep = pods.some((p) => p.preStopSeconds === null)
      ? "no preStop sleep"
      : `preStop sleep ${shortest} s`;
    out.warns.push({
      kind: "warn",
      code: "ShortPreStop",
      subject,
      reason: `${sleep} on ${pods.map((p) => p.name).join(", ")}, shorter than the load balancer propagation (${lb} s): after deletion the ALB keeps sending new requests for up to ${lb} s and they hit a closed socket (502); add a preStop sleep of at least ${lb} s`,
    });
  }
}

export function pdbWarnings(ctx: PlanContext, out: PlanSink): void {
  // Evictions go through the Eviction API and the executor retries a 429; the plan only says it will happen.
  // (At the LRM before the node's certain end a refusing PDB is overridden: see evict in ./pods.ts.)
  for (const pdb of ctx.snapshot.pdbs) {
    if (pdb.disruptionsAllowed > 0) continue;
    const blocked = out.evicts.filter((e) => {
      if (e.kind !== "evict" || e.overridePdb || e.pod.namespace !== pdb.namespace) return false;
      const pod = ctx.podsOn(e.node).find((p) => p.namespace === e.pod.namespace && p.name === e.pod.name);
      return pod !== undefined && matchesLabels(pdb.matchLabels, pod.labels);
    });
    if (blocked.length === 0) continue;
    out.warns.push({
      kind: "warn",
      code: "PdbBlocksEviction",
      subject: `PodDisruptionBudget/${pdb.namespace}/${pdb.name}`,
      reason: `allows ${pdb.disruptionsAllowed} disruptions now: evicting ${blocked.map((e) => e.pod.name).join(", ")} will be refused (429) and retried until it allows one`,
    });
  }
}
