/** Deployments and bare ReplicaSets: one surge per workload covers its doomed pods; each open surge is judged on its own, retired or taken back, and each doomed pod judged after it. */
import type { SurgeAttribution } from "../domain/plan.ts";
import { POD_DELETION_COST_ANNOTATION } from "../domain/plan.ts";
import type { WorkloadView } from "../domain/snapshot.ts";
import { workloadKey } from "../domain/snapshot.ts";
import type { Doomed, PlanContext } from "./plan-context.ts";
import type { PlanSink } from "./plan-sink.ts";
import { judgeDoomed, waitForReplacements } from "./doomed-pods.ts";
import { capacityWarnings } from "./room.ts";
import { handBack, handBackCause, mark } from "./scale-back.ts";
import { judgeSurges, retireSurges } from "./surge-judgement.ts";
import { plural, rel } from "./plan-words.ts";

export function deployments(ctx: PlanContext, out: PlanSink, byWorkload: Map<string, Doomed[]>): void {
  const keys = new Set(byWorkload.keys());
  for (const evac of ctx.active) {
    if (ctx.windingDown(evac)) continue;
    for (const s of evac.surges) if (s.retiredAt === null) keys.add(workloadKey(s.workload));
  }
  const surged: { view: WorkloadView; pods: Doomed[] }[] = [];
  for (const key of keys) {
    const view = ctx.workloads.get(key);
    const pods = byWorkload.get(key) ?? [];
    const fresh = workload(ctx, out, key, view, pods);
    if (view !== undefined && fresh.length > 0) surged.push({ view, pods: fresh });
  }
  capacityWarnings(ctx, out, surged);
}

/** Plans one workload; returns the pods surged in this plan. */
export function workload(
  ctx: PlanContext,
  out: PlanSink,
  key: string,
  view: WorkloadView | undefined,
  pods: Doomed[],
): Doomed[] {
  const now = ctx.now;
  const open = ctx.outstanding(key);
  const given = handBackCause(
    view,
    open.reduce((sum, h) => sum + h.record.by, 0),
  );
  if (given !== null) {
    // Nothing else for this workload in this plan: the doomed pods still there are uncovered once the records
    // are closed, and the next plan surges them afresh on top of the count the other party chose.
    handBack(out, open, given.cause, `${key}: ${given.what}`);
    if (pods.length > 0)
      out.wait(
        key,
        now + ctx.budgets.reviewIntervalSeconds * 1000,
        `surge of ${key} handed back; its ${plural(pods.length, "doomed pod")} still here are surged again on top of the new count`,
      );
    return [];
  }
  // Invariant: one surge per workload covers all its doomed pods across nodes, and a pod named in an open or
  // retired surge record (these persist in the Evacuation status) is never surged again, even by a
  // restarted controller.
  // Without a view there is nothing to plan: classify puts the pods of a workload missing from the snapshot
  // with the bare pods, and its open surges were handed back above.
  if (view === undefined) return [];
  const uncovered = pods.filter((d) => ctx.recordFor(key, d.pod.name) === undefined);
  if (uncovered.length > 0) surge(ctx, out, key, view, uncovered);
  const judged = judgeSurges(ctx, out, key, view, open);
  // Invariant: never surge and retire one workload in the same plan: the ReplicaSet would rank the fresh,
  // unready replacements first for deletion and undo the surge.
  const retiring =
    uncovered.length === 0 ? retireSurges(ctx, out, key, view, pods, judged) : new Set<string>();
  // Doomed pods of this plan's surge and of open surges that do not carry the deletion cost yet.
  const toMark = pods.filter(
    (d) =>
      d.pod.annotations[POD_DELETION_COST_ANNOTATION] !== String(ctx.budgets.deletionCost) &&
      !retiring.has(d.pod.name) &&
      (uncovered.includes(d) || ctx.recordFor(key, d.pod.name)?.record.retiredAt === null),
  );
  if (toMark.length > 0)
    mark(
      ctx,
      out,
      view,
      toMark.map((d) => d.pod),
    );
  const readyPods = new Set(judged.ready.flatMap((h) => h.record.pods));
  const awaiting = judgeDoomed(ctx, out, key, view, pods, retiring, readyPods, judged.readiness);
  const waitingSurges = judged.waiting.filter((h) => !judged.ready.includes(h));
  if (awaiting.length > 0 || waitingSurges.length > 0 || (uncovered.length > 0 && judged.gone.length > 0))
    waitForReplacements(ctx, out, key, judged, awaiting, uncovered.length);
  return uncovered;
}

export function surge(
  ctx: PlanContext,
  out: PlanSink,
  key: string,
  view: WorkloadView,
  uncovered: Doomed[],
): void {
  const records: SurgeAttribution[] = [];
  for (const d of uncovered) {
    const r = records.find((x) => x.evacuation === d.evac.name);
    if (r === undefined) records.push({ evacuation: d.evac.name, pods: [d.pod.name] });
    else r.pods.push(d.pod.name);
  }
  const nodes = [...new Set(uncovered.map((d) => d.evac.nodeName))].join(", ");
  const by = uncovered.length;
  out.surgedNow.add(key);
  // Invariant (make before break): the surge is issued before any of these pods is retired or evicted.
  out.surges.push({
    kind: "surge",
    workload: view.ref,
    by,
    pods: uncovered.map((d) => d.pod.name),
    records,
    reason: `${plural(by, "pod")} of ${key} on evacuating node(s) ${nodes}: add ${by} replica(s) elsewhere before any is removed (make before break)`,
  });
  if (view.hpa !== null && view.specReplicas + by > view.hpa.max) {
    out.warns.push({
      kind: "warn",
      code: "SurgeAboveHpaMax",
      subject: key,
      reason: `surge takes replicas to ${view.specReplicas + by}, above the HPA max ${view.hpa.max}: the HPA will scale back and remove doomed pods before their replacements are Ready`,
    });
  }
  const lrms = uncovered.map((d) => d.lrm).filter((l): l is number => l !== null);
  const expected = view.expectedReadySeconds ?? ctx.budgets.defaultReadySeconds;
  if (lrms.length > 0 && ctx.now + expected * 1000 > Math.min(...lrms)) {
    out.warns.push({
      kind: "warn",
      code: "SurgeMissesDeadline",
      subject: key,
      reason: `replacements take about ${expected} s to be Ready but the last responsible moment is ${rel(Math.min(...lrms), ctx.now)}: the doomed pods will be evicted first and capacity will dip until the replacements are Ready`,
    });
  }
}
