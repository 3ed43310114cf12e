/** Pods that cannot surge: StatefulSet, Job and other owners are evicted at once; bare pods and pods of unknown workloads serve until their last responsible moment. */
import { podKey, workloadKey } from "../domain/snapshot.ts";
import type { Doomed, PlanContext } from "./plan-context.ts";
import type { PlanSink } from "./plan-sink.ts";
import { evict } from "./pods.ts";
import { canMove, rel } from "./plan-words.ts";

export function evictAtOnce(ctx: PlanContext, out: PlanSink, pods: Doomed[]): void {
  for (const d of pods) {
    const owner = d.pod.owner;
    if (owner === null) continue;
    if (!canMove(d.evac)) {
      out.wait(
        podKey(d.pod),
        null,
        `prewarm: ${owner.kind} pod cannot surge; it moves once a deadline is known`,
      );
      continue;
    }
    const why =
      owner.kind === "StatefulSet"
        ? `StatefulSet ${owner.name} replaces a pod only once the old one is gone (same identity)`
        : owner.kind === "Job"
          ? `Job ${owner.name} cannot surge; its controller starts a replacement once this pod is gone`
          : `owner ${owner.kind}/${owner.name} is not a workload lifeboat can scale`;
    // An instance already leaving (a StatefulSet pod at stopping or shutting-down) is past every LRM.
    evict(
      ctx,
      out,
      d,
      `${why}: evict at once so the replacement gets the most time before the deadline`,
      d.evac.instanceGone || (d.lrm !== null && ctx.now >= d.lrm),
    );
  }
}

export function evictAtLrm(
  ctx: PlanContext,
  out: PlanSink,
  pods: Doomed[],
  all: { byWorkload: Map<string, Doomed[]>; atOnce: Doomed[] },
): void {
  const now = ctx.now;
  for (const d of pods) {
    const what =
      d.pod.owner === null
        ? "bare pod: nothing replaces it"
        : `${workloadKey(d.pod.owner)} is not in the snapshot: its replacements cannot be judged`;
    if (d.lrm !== null) {
      if (now >= d.lrm) {
        evict(
          ctx,
          out,
          d,
          `${what}; it served until its last responsible moment (${rel(d.lrm, now)}: ${ctx.lrmText(d)}): evict now`,
          true,
        );
      } else {
        out.wait(
          podKey(d.pod),
          d.lrm,
          `${what}; it keeps serving until its last responsible moment ${rel(d.lrm, now)} (${ctx.lrmText(d)})`,
        );
      }
      continue;
    }
    if (!canMove(d.evac)) {
      out.wait(podKey(d.pod), null, `prewarm: ${what}; it moves once a deadline is known`);
      continue;
    }
    // No deadline: such pods go last, once everything else on the node has moved and every surge is retired.
    const othersLeft =
      [...all.byWorkload.values()].flat().some((o) => o.evac === d.evac) ||
      all.atOnce.some((o) => o.evac === d.evac) ||
      d.evac.surges.some((s) => s.retiredAt === null);
    if (othersLeft) {
      out.wait(
        podKey(d.pod),
        null,
        `${what}; no deadline, so it is evicted last, once the rest of ${d.evac.nodeName} has moved`,
      );
    } else {
      evict(
        ctx,
        out,
        d,
        `${what}; no deadline and the rest of ${d.evac.nodeName} has moved: evict it last`,
        false,
      );
    }
  }
}
