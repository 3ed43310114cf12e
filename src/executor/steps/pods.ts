/**
 * Steps on one pod: evict (through the Eviction API), delete at the last responsible moment overriding a
 * PodDisruptionBudget, force-delete when the instance is gone.
 */
import type { EvacuationPhase, EvictionRecord } from "../../domain/evacuation.ts";
import { podKey, type PodRef } from "../../domain/snapshot.ts";
import {
  announce,
  evicted,
  evictionBlocked,
  forceDeleted,
  lastResponsibleMoment,
  pdbOverridden,
  podObject,
} from "../events.ts";
import type { StepContext, StepHandlers } from "./handler.ts";

type PodKind = "evict" | "delete" | "force-delete";

export const podSteps: Pick<StepHandlers, PodKind> = {
  evict: {
    action: "evict",
    object: (step) => podObject(step.pod),
    async run(step, ctx) {
      const { now } = ctx;
      if (step.atLastResponsibleMoment) warnLastResponsibleMoment(step, ctx);
      const result = await ctx.actuator.evict(step.pod);
      if (result.kind === "error") {
        ctx.observer.eviction("error");
        throw result.error;
      }
      if (result.kind === "throttled" || result.kind === "conflict") {
        ctx.log.info(
          { pod: podKey(step.pod), result: result.kind },
          `eviction not done yet (${result.message}); will retry`,
        );
        return [];
      }
      const outcome = result.kind;
      ctx.observer.eviction(
        outcome === "evicted" ? "ok" : outcome === "blocked-by-pdb" ? "pdb_blocked" : "not_found",
      );
      if (result.kind === "blocked-by-pdb" && step.overridePdb) {
        // At the LRM before the node's certain end it dies whatever the PDB says: a refusal is answered with
        // a graceful delete. Otherwise (a manual deadline, an ASG hook) the budget holds: retried below.
        return deleteOverridingPdb(
          { ...step, pdbs: [] },
          `PodDisruptionBudget refused the eviction at the last responsible moment (429: ${result.message}); the node dies at the deadline whatever the budget says, so the pod is deleted with its own grace period instead. ${step.reason}`,
          ctx,
        );
      }
      ctx.update(
        step.evacuation,
        (e) => ({
          ...e,
          phase: retiringPhase(e.phase),
          evictions: withEviction(e.evictions, { pod: step.pod, at: now, outcome }),
          timeline:
            outcome === "evicted" ? { ...e.timeline, retiredAt: e.timeline.retiredAt ?? now } : e.timeline,
        }),
        step.reason,
      );
      if (result.kind === "blocked-by-pdb") {
        const reason = step.atLastResponsibleMoment
          ? `The budget holds at the last responsible moment too: the node's end is not certain. ${step.reason}`
          : step.reason;
        announce(ctx, {
          level: "warn",
          fields: { pod: podKey(step.pod) },
          message: `eviction blocked by a PodDisruptionBudget, will retry: ${reason}`,
          events: [evictionBlocked(step.pod, result.message, reason)],
        });
      } else
        announce(ctx, {
          metric: (o) => {
            if (outcome === "evicted") o.podsMoved(ctx.ownerKind(step.pod), "evict", 1);
          },
          level: "info",
          fields: { pod: podKey(step.pod), result: outcome },
          message: `evict: ${step.reason}`,
          events: [evicted(step.pod, step.reason)],
        });
      return [step.evacuation];
    },
  },

  delete: {
    action: "delete",
    object: (step) => podObject(step.pod),
    run(step, ctx) {
      warnLastResponsibleMoment(step, ctx);
      return deleteOverridingPdb(
        step,
        `PodDisruptionBudget ${step.pdbs.join(", ")} allows no disruption, overridden at the last responsible moment: ${step.reason}`,
        ctx,
      );
    },
  },

  "force-delete": {
    action: "force_delete",
    object: (step) => podObject(step.pod),
    async run(step, ctx) {
      const result = await ctx.actuator.forceDelete(step.pod);
      ctx.update(
        step.evacuation,
        (e) => ({
          ...e,
          evictions: withEviction(e.evictions, {
            pod: step.pod,
            at: ctx.now,
            outcome: result.kind === "deleted" ? "force-deleted" : "not-found",
          }),
        }),
        step.reason,
      );
      announce(ctx, {
        metric: (o) => {
          if (result.kind === "deleted") o.podsMoved(ctx.ownerKind(step.pod), "force_delete", 1);
        },
        level: "warn",
        fields: { pod: podKey(step.pod) },
        message: `force-deleted: ${step.reason}`,
        events: [forceDeleted(step.pod, step.reason)],
      });
      return [step.evacuation];
    },
  },
};

/** Warning LastResponsibleMoment, once per evacuation: a pod goes at its LRM, replacements Ready or not. */
function warnLastResponsibleMoment(
  step: { pod: PodRef; evacuation: string; reason: string },
  ctx: StepContext,
): void {
  if (!ctx.firstTime(`lrm/${step.evacuation}`)) return;
  announce(ctx, {
    level: "warn",
    fields: { evacuation: step.evacuation, pod: podKey(step.pod) },
    message: step.reason,
    events: [lastResponsibleMoment(step.evacuation, step.pod, step.reason)],
  });
}

/**
 * Deletes `step.pod` with its own grace period (preStop runs), bypassing the Eviction API: the pod's last
 * responsible moment has come and a PodDisruptionBudget would refuse (or refused) its eviction.
 */
async function deleteOverridingPdb(
  step: { pod: PodRef; evacuation: string; pdbs: string[] },
  message: string,
  ctx: StepContext,
): Promise<string[]> {
  const { now } = ctx;
  const result = await ctx.actuator.deletePod(step.pod);
  ctx.update(
    step.evacuation,
    (e) => ({
      ...e,
      phase: retiringPhase(e.phase),
      evictions: withEviction(e.evictions, {
        pod: step.pod,
        at: now,
        outcome: result.kind === "deleted" ? "deleted" : "not-found",
      }),
      timeline:
        result.kind === "deleted" ? { ...e.timeline, retiredAt: e.timeline.retiredAt ?? now } : e.timeline,
    }),
    message,
  );
  announce(ctx, {
    metric: (o) => {
      if (result.kind === "deleted") o.podsMoved(ctx.ownerKind(step.pod), "delete", 1);
    },
    level: "warn",
    fields: { pod: podKey(step.pod), pdbs: step.pdbs, result: result.kind },
    message,
    events: [pdbOverridden(step.pod, message)],
  });
  return [step.evacuation];
}

/** A pod removed moves the evacuation on to Retiring (a later phase stays). */
function retiringPhase(phase: EvacuationPhase): EvacuationPhase {
  return phase === "Surging" || phase === "Cordoned" || phase === "Pending" ? "Retiring" : phase;
}

/**
 * The evictions with `record` as the latest word on its pod (one record per pod), except that a pod already
 * evicted or deleted keeps that record: it left the node then, and a later force-delete (its instance went
 * while it ran its preStop) only cut its grace period short. The slack to the deadline is measured from
 * when the pods left (lastPodLeftAt).
 */
function withEviction(evictions: EvictionRecord[], record: EvictionRecord): EvictionRecord[] {
  const prior = evictions.find((x) => podKey(x.pod) === podKey(record.pod));
  if (prior !== undefined && (prior.outcome === "evicted" || prior.outcome === "deleted")) return evictions;
  return [...evictions.filter((x) => podKey(x.pod) !== podKey(record.pod)), record];
}
