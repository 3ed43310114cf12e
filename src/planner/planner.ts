/**
 * The pure, deadline-aware planner: cluster snapshot + every active evacuation + now + budgets -> one plan.
 * No I/O, no clock: `now` is an input, so the same input always gives the same plan.
 *
 * The shape of an evacuation, per pod on a doomed node:
 * - Deployment / bare ReplicaSet: surge (+k, doomed pods marked with a low pod-deletion-cost), wait until the
 *   replacements are Ready, retire (-k) so the ReplicaSet removes the doomed pods, evict any it left behind.
 *   At the pod's last responsible moment (LRM) it is evicted whether or not the replacements are Ready.
 * - StatefulSet, Job, other controllers: evict at once (the replacement needs the old pod gone).
 * - Bare pods: evict at the LRM (nothing replaces them, so they serve as long as it is safe).
 * - DaemonSet and mirror pods: left alone, also once the instance is gone.
 * - Headroom placeholders (src/domain/headroom.ts): left alone and not waited for; they are room, not a
 *   workload, and the headroom keeper puts them back on another node.
 * - Instance already gone: force-delete everything else, but a StatefulSet pod only once the instance is
 *   stopped or terminated and its node tainted out of service (before that its OS may still run it).
 * - A PodDisruptionBudget is overridden only when the node's death is certain (./death.ts: a spot warning, a
 *   scheduled retirement, an instance leaving): at a pod's LRM before that end a pod it would refuse is
 *   deleted gracefully instead of evicted (a Warning names the PDB). For a manual deadline or an ASG hook it
 *   holds: the eviction is retried and a wait says why.
 *
 * And how an evacuation ends (docs/design.md, "How an evacuation ends"):
 * - Done: nothing lifeboat must move is left on the node and every surge is retired or handed back.
 * - A surge whose workload was deleted (or replaced) or scaled below the surge by someone else is handed
 *   back: closed without a scale, the count is theirs.
 * - A prewarm that sees no deadline within the prewarm timeout is undone: surges retired, nothing evicted,
 *   the node uncordoned, then Done.
 * - Still active `giveUpAfterSeconds` after the deadline (after the notice without one): surges retired or
 *   handed back, nothing more moved, then Failed.
 * - Taint-only is Done once the node carries the PreferNoSchedule taint.
 * - Done and Failed evacuations are forgotten (deleted) `ttlSecondsAfterFinished` after they finished.
 */
import type { Plan } from "../domain/plan.ts";
import { evictAtLrm, evictAtOnce } from "./cannot-surge.ts";
import { clearServedRequests, complete, forget, windDown } from "./endings.ts";
import { cordon, taintOnly } from "./nodes.ts";
import { PlanContext, type PlanInput } from "./plan-context.ts";
import { PlanSink } from "./plan-sink.ts";
import { classify } from "./pods.ts";
import { deployments } from "./replicas.ts";
import { pdbWarnings, shortPreStopWarnings } from "./warnings.ts";

export type { PlanInput } from "./plan-context.ts";
export { giveUpAt, prewarmExpiresAt } from "./lifetimes.ts";

/**
 * The plan: the phases in the order they must see each other's steps. Each phase reads the context and adds
 * steps to the sink; the sink orders them for execution (every cordon before any surge, every surge before
 * any retire or eviction), whatever order the phases ran in.
 */
export function planEvacuations(input: PlanInput): Plan {
  const out = new PlanSink();
  const ctx = new PlanContext(input, out.timers);
  taintOnly(ctx, out);
  cordon(ctx, out);
  const doomed = classify(ctx, out);
  deployments(ctx, out, doomed.byWorkload);
  evictAtOnce(ctx, out, doomed.atOnce);
  evictAtLrm(ctx, out, doomed.atLrm, doomed);
  // evictAtLrm and the warnings read the steps the phases before them planned.
  shortPreStopWarnings(ctx, out, [
    ...[...doomed.byWorkload.values()].flat(),
    ...doomed.atOnce,
    ...doomed.atLrm,
  ]);
  pdbWarnings(ctx, out);
  complete(ctx, out);
  windDown(ctx, out);
  const served = clearServedRequests(ctx, out);
  forget(ctx, out, served);
  return out.plan(ctx.now);
}
