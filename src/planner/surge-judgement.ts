/** When a surge can be retired: each open surge of a workload judged on its own terms. */
import { POD_DELETION_COST_ANNOTATION } from "../domain/plan.ts";
import type { PodView, WorkloadView } from "../domain/snapshot.ts";
import { workloadKey } from "../domain/snapshot.ts";
import type { Doomed, PlanContext, RecordHit } from "./plan-context.ts";
import type { PlanSink } from "./plan-sink.ts";
import { evict } from "./pods.ts";
import { canMove, plural } from "./plan-words.ts";

/** How the open surges of one workload stand. */
export interface SurgeJudgement {
  /** Surges none of whose doomed pods is left: taken back at once. */
  gone: RecordHit[];
  /** Surges of evacuations that may move pods, with doomed pods still there. */
  waiting: RecordHit[];
  /** Those of `waiting` whose replacements are Ready, in the order they were issued. */
  ready: RecordHit[];
  /** The readiness figures in words, for reasons. */
  readiness: string;
}

/**
 * Judges each open surge of a workload on its own terms, never by the sum of all of them (one replacement
 * that cannot be placed must not keep every other surge open):
 * - `gone`: none of its doomed pods is left (evicted at the LRM, force-deleted, removed by someone else):
 *   it can be taken back at once; the ReplicaSet removes the unready extra pods first, so capacity does not
 *   drop below what is left.
 * - `ready`: its replacements are Ready. Judged in the order the surges were issued, each one accepted only
 *   if, with its doomed pods gone (and those of the surges accepted before it), the workload still has its
 *   desired count Ready (the doomed pods of other surges still serve and count), and at least as many pods
 *   came up since the earliest accepted surge as they add together (guards against a snapshot whose
 *   spec.replicas predates the surges), or the workload is full without any doomed pod at all.
 */
export function judgeSurges(
  ctx: PlanContext,
  out: PlanSink,
  key: string,
  view: WorkloadView,
  open: RecordHit[],
): SurgeJudgement {
  const k = open.reduce((sum, h) => sum + h.record.by, 0);
  const readyOff = ctx.readyOutside(key);
  const desired = view.specReplicas - k;
  // The doomed pods of the open surges still there and not terminating, by name: they run on the evacuations'
  // nodes, so look there rather than through every pod of the workload.
  const live = new Map<string, PodView>();
  for (const node of new Set(open.map((h) => h.evac.nodeName)))
    for (const p of ctx.podsOn(node))
      if (!p.deleting && p.owner !== null && workloadKey(p.owner) === key) live.set(p.name, p);
  const gone: RecordHit[] = [];
  const waiting: RecordHit[] = [];
  for (const h of open) {
    if (h.record.pods.every((name) => !live.has(name))) gone.push(h);
    else if (canMove(h.evac)) waiting.push(h);
  }
  const readiness = `${readyOff.length} Ready outside evacuating nodes, ${desired} wanted`;
  // Invariant: no retire while the Deployment rolls out. Its pods then belong to two ReplicaSets: the new
  // template's pods came up since the surge without being replacements, and a scale-down is spread across
  // the ReplicaSets in proportion, so -k could remove the new template's pods instead of the doomed ones
  // (pod-deletion-cost ranks pods within one ReplicaSet only). The LRM still applies meanwhile.
  if (view.rollingOut)
    return {
      gone,
      waiting,
      ready: [],
      readiness: `${readiness}; a rollout is in progress, and a scale-down during it would be spread across both ReplicaSets: the surge is retired once it has finished`,
    };
  const serving = new Map(
    waiting.map((h) => [h, h.record.pods.filter((n) => live.get(n)?.ready === true).length]),
  );
  let stillServing = [...serving.values()].reduce((sum, n) => sum + n, 0);
  // creationTimestamp has whole-second precision: a replacement created 0.4 s after the surge can carry a
  // timestamp 0.6 s before it. Compare at the API's precision.
  const created = readyOff.map((p) => p.createdAt).sort((a, b) => a - b);
  const freshSince = (at: number): number => {
    const t = Math.floor(at / 1000) * 1000;
    let lo = 0;
    let hi = created.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((created[mid] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    return created.length - lo;
  };
  const ready: RecordHit[] = [];
  let by = 0;
  // In the order issued, so the earliest accepted surge is the first one accepted.
  for (const candidate of [...waiting].sort((a, b) => a.record.issuedAt - b.record.issuedAt)) {
    const own = serving.get(candidate) ?? 0;
    if (readyOff.length + stillServing - own < desired) continue;
    const earliest = (ready[0] ?? candidate).record.issuedAt;
    if (freshSince(earliest) < by + candidate.record.by && readyOff.length < view.specReplicas) continue;
    ready.push(candidate);
    stillServing -= own;
    by += candidate.record.by;
  }
  return { gone, waiting, ready, readiness };
}

/**
 * Retires what the judgement allows; returns the names of the doomed pods a scale-down of this plan removes.
 * - Surges whose doomed pods are gone: -k at once (nothing to mark, nothing to wait for).
 * - Every waiting surge Ready: -k once every doomed pod carries the deletion cost as the informers see it
 *   (the ReplicaSet controller ranks pods from its own informer: a cost written a moment before the
 *   scale-down is not in it yet, and it removes the newest pods, the replacements).
 * - Some Ready while another surge waits: a scale-down would remove the waiting surge's unready replacements
 *   first (the ReplicaSet ranks unready pods before deletion cost), so the doomed pods of the Ready surges
 *   are evicted instead (their replacements are Ready: no dip), and their surges are taken back once they
 *   are gone (the ReplicaSet then removes the newest unready pod, the one that replaced the evicted pod).
 */
export function retireSurges(
  ctx: PlanContext,
  out: PlanSink,
  key: string,
  view: WorkloadView,
  pods: Doomed[],
  judged: SurgeJudgement,
): Set<string> {
  const now = ctx.now;
  if (judged.gone.length > 0) {
    const by = judged.gone.reduce((sum, h) => sum + h.record.by, 0);
    out.retires.push({
      kind: "retire",
      workload: view.ref,
      by,
      pods: [],
      records: judged.gone.map((h) => ({ evacuation: h.evac.name, index: h.index })),
      replacementsReady: false,
      reason: `the doomed ${plural(judged.gone.flatMap((h) => h.record.pods).length, "pod")} of ${plural(judged.gone.length, "surge")} of ${key} (${judged.gone.flatMap((h) => h.record.pods).join(", ")}) are gone: scale -${by} back now (the ReplicaSet removes the unready extra pods first, so Ready capacity does not drop)`,
    });
  }
  if (judged.ready.length === 0) return new Set();
  if (judged.ready.length < judged.waiting.length) {
    const replaced = new Set(judged.ready.flatMap((h) => h.record.pods));
    const names = new Set<string>();
    for (const d of pods) {
      if (!replaced.has(d.pod.name) || ctx.recordFor(key, d.pod.name)?.record.retiredAt !== null) continue;
      // An eviction a PodDisruptionBudget refuses now would only be retried: the pod waits for the other
      // surges or its last responsible moment instead.
      const lrmPassed = d.lrm !== null && now >= d.lrm;
      if (!lrmPassed && ctx.blockingPdbs(d.pod).length > 0) continue;
      names.add(d.pod.name);
      evict(
        ctx,
        out,
        d,
        `replacements of its surge are Ready (${judged.readiness}) while ${plural(judged.waiting.length - judged.ready.length, "other surge")} of ${key} still wait: a scale-down would remove their unready replacements first, so evict it (no dip) and take its surge back once it is gone`,
        lrmPassed,
      );
    }
    return names;
  }
  const names = judged.ready.flatMap((h) => h.record.pods);
  const unmarked = pods.filter(
    (d) =>
      names.includes(d.pod.name) &&
      d.pod.annotations[POD_DELETION_COST_ANNOTATION] !== String(ctx.budgets.deletionCost),
  );
  if (unmarked.length > 0) {
    out.wait(
      key,
      now + ctx.budgets.reviewIntervalSeconds * 1000,
      `replacements of ${key} Ready (${judged.readiness}); scaling back once ${plural(unmarked.length, "doomed pod")} carry pod-deletion-cost ${ctx.budgets.deletionCost} (marked in this plan)`,
    );
    return new Set();
  }
  const by = judged.ready.reduce((sum, h) => sum + h.record.by, 0);
  // Relative change only (-by, never "back to N"): an HPA or a user may have scaled meanwhile.
  out.retires.push({
    kind: "retire",
    workload: view.ref,
    by,
    pods: names.filter((n) => pods.some((d) => d.pod.name === n)),
    records: judged.ready.map((h) => ({ evacuation: h.evac.name, index: h.index })),
    replacementsReady: true,
    reason: `replacements Ready (${judged.readiness}): scale -${by} so the ReplicaSet removes the doomed pods (lowest pod-deletion-cost)`,
  });
  return new Set(names);
}
