/** Each doomed pod of a surged workload after its surge was judged: checked after a retire, evicted at its last responsible moment, or left waiting for its replacements. */
import type { SurgeRecord } from "../domain/evacuation.ts";
import type { WorkloadView } from "../domain/snapshot.ts";
import { podKey } from "../domain/snapshot.ts";
import type { Doomed, PlanContext } from "./plan-context.ts";
import type { PlanSink } from "./plan-sink.ts";
import { evict, pdbAtLrmNote } from "./pods.ts";
import type { SurgeJudgement } from "./surge-judgement.ts";
import { canMove, plural, rel } from "./plan-words.ts";

/** How long after a retire a scale-down the controller has not carried out yet still defers the check. */
const RETIRE_SETTLE_MAX_MS = 60_000;

/**
 * Judges each doomed pod not removed by this plan's retire: checks the outcome of an earlier retire, evicts
 * at the last responsible moment, or leaves it waiting; returns the pods that wait for their replacements.
 */
export function judgeDoomed(
  ctx: PlanContext,
  out: PlanSink,
  key: string,
  view: WorkloadView | undefined,
  pods: Doomed[],
  retiring: ReadonlySet<string>,
  readyPods: ReadonlySet<string>,
  readiness: string,
): Doomed[] {
  const now = ctx.now;
  const awaiting: Doomed[] = [];
  const prewarmed: Doomed[] = [];
  for (const d of pods) {
    if (retiring.has(d.pod.name)) continue;
    const hit = ctx.recordFor(key, d.pod.name);
    const lrmPassed = d.lrm !== null && now >= d.lrm;
    if (hit !== undefined && hit.record.retiredAt !== null) {
      checkRetired(ctx, out, key, view, d, hit.record, lrmPassed);
    } else if (lrmPassed) {
      // Invariant: at the last responsible moment the pod goes, replacements Ready or not, so it is out of
      // the load balancer (preStop + propagation) before the node dies. Its surge is taken back once it is
      // gone.
      const dip = readyPods.has(d.pod.name)
        ? ""
        : `; replacements not Ready yet (${readiness}): capacity dips by one until they are`;
      evict(
        ctx,
        out,
        d,
        `last responsible moment was ${rel(d.lrm ?? now, now)} (${ctx.lrmText(d)}): evict now so the pod leaves the load balancer before the node dies${dip}`,
        true,
      );
    } else if (!canMove(d.evac)) {
      prewarmed.push(d);
    } else {
      awaiting.push(d);
    }
  }
  if (prewarmed.length > 0) {
    out.wait(
      key,
      null,
      `prewarm: ${plural(prewarmed.length, "replacement")} of ${key} surged; the doomed pods stay until a deadline is known`,
    );
  }
  return awaiting;
}

/**
 * Checks the outcome of a retire, not its intent: the ReplicaSet ranks unready pods before deletion cost, so
 * after a scale-down it may have removed another pod and kept this one; then it is evicted.
 */
export function checkRetired(
  ctx: PlanContext,
  out: PlanSink,
  key: string,
  view: WorkloadView | undefined,
  d: Doomed,
  record: SurgeRecord,
  lrmPassed: boolean,
): void {
  const now = ctx.now;
  const retiredAt = record.retiredAt ?? now;
  const checkAt = retiredAt + ctx.budgets.retireCheckSeconds * 1000;
  // Judged only once the controller has carried the scale-down out (it counts no more pods than it
  // wants): a busy controller-manager takes longer than retireCheckSeconds, and the pod it is about to
  // remove is then not "kept". At most RETIRE_SETTLE_MAX_MS after the retire, and never past the LRM.
  const carriedOut =
    view?.statusReplicas == null ||
    view.statusReplicas <= view.specReplicas ||
    now >= retiredAt + RETIRE_SETTLE_MAX_MS;
  if ((now >= checkAt && carriedOut) || lrmPassed) {
    evict(
      ctx,
      out,
      d,
      `scaled ${key} -${record.by} ${rel(retiredAt, now)} but the ReplicaSet kept this doomed pod (it removes unready pods before low deletion-cost ones): evict it`,
      lrmPassed,
    );
    return;
  }
  const next = now >= checkAt ? now + ctx.budgets.reviewIntervalSeconds * 1000 : checkAt;
  out.wait(
    podKey(d.pod),
    d.lrm === null ? next : Math.min(next, d.lrm),
    `scaled ${key} -${record.by} ${rel(retiredAt, now)}: checking that the ReplicaSet removes this doomed pod${carriedOut ? "" : ` (it counts ${view?.statusReplicas ?? "?"} pods for ${view?.specReplicas ?? "?"} wanted: not carried out yet)`}`,
  );
}

/** Before the LRM, nothing is removed while replacements are not Ready: look again at the LRM or sooner. */
export function waitForReplacements(
  ctx: PlanContext,
  out: PlanSink,
  key: string,
  judged: SurgeJudgement,
  awaiting: Doomed[],
  surgedNow: number,
): void {
  const now = ctx.now;
  const lrms = awaiting.map((d) => d.lrm).filter((l): l is number => l !== null);
  const review = now + ctx.budgets.reviewIntervalSeconds * 1000;
  const until = Math.min(review, ...lrms);
  const lrmText =
    lrms.length === 0 ? "no deadline" : `last responsible moment ${rel(Math.min(...lrms), now)}`;
  const status = judged.waiting.length > 0 ? judged.readiness : `surge of ${surgedNow} just issued`;
  const waiting = judged.waiting.filter((h) => !judged.ready.includes(h));
  const then =
    awaiting.length > 0
      ? `removing ${plural(awaiting.length, "doomed pod")}; ${lrmText}`
      : `scaling -${waiting.reduce((sum, h) => sum + h.record.by, 0) || judged.gone.reduce((sum, h) => sum + h.record.by, 0)} back`;
  out.wait(
    key,
    until,
    `waiting for replacements of ${key} to be Ready (${status}) before ${then}${pdbAtLrmNote(ctx, awaiting)}`,
  );
}
