/**
 * Steps on a workload's replicas: surge (+k), mark the doomed pods, retire (-k), hand a surge back.
 *
 * Exactly once: a surge or retire is written together with its entry in the workload's surge ledger
 * (src/domain/surge-ledger.ts) in one idempotent write, and the Evacuation's surge records follow the ledger
 * (ctx.syncWithLedger): a step planned again from a stale view finds its change in the ledger and writes
 * nothing.
 */
import type { LedgerOutcome } from "../../actuators/kube-actuator.ts";
import { workloadKey, type WorkloadRef } from "../../domain/snapshot.ts";
import type { LedgerChange } from "../../domain/surge-ledger.ts";
import type { StepOf } from "../../domain/plan.ts";
import { forEachConcurrently } from "../concurrency.ts";
import {
  announce,
  prewarmed,
  replacementsReady,
  retired,
  surgeCreated,
  surgeHandedBack,
  workloadObject,
} from "../events.ts";
import { recordId, retireRecords } from "../ledger-sync.ts";
import { secondsBetween, type StepContext, type StepHandlers } from "./handler.ts";

/** The pods of one mark-doomed step annotated this many at a time (within a group of such steps). */
const MARK_CONCURRENCY = 4;

type ReplicaKind = "surge" | "mark-doomed" | "retire" | "hand-back";

export const replicaSteps: Pick<StepHandlers, ReplicaKind> = {
  surge: {
    action: "surge",
    object: (step) => workloadObject(step.workload),
    async run(step, ctx) {
      const { now } = ctx;
      const outcome = expectApplied(
        await ctx.actuator.changeSurgeLedger(step.workload, {
          kind: "surge",
          records: step.records,
          at: now,
        }),
        step.workload,
      );
      const touched = ctx.syncWithLedger(step.workload, outcome.touched, step.reason);
      if (outcome.delta === 0) {
        // An earlier write (whose answer or status record was lost) already made this surge.
        ctx.log.info(
          { workload: workloadKey(step.workload), pods: step.pods },
          `surge already in the ledger of ${workloadKey(step.workload)}; nothing written: ${step.reason}`,
        );
        return touched;
      }
      announce(ctx, {
        metric: (o) => {
          for (const r of step.records)
            o.noticeToSurge(secondsBetween(ctx.stored(r.evacuation).evacuation.noticedAt, now));
          o.podsMoved(step.workload.kind, "surge", outcome.delta);
        },
        level: "info",
        fields: {
          workload: workloadKey(step.workload),
          by: outcome.delta,
          pods: step.pods,
          replicas: outcome.replicas,
        },
        message: `surged: ${step.reason}`,
        events: [
          surgeCreated(step.workload, step.reason),
          ...step.records
            .filter((r) => ctx.stored(r.evacuation).evacuation.mode === "prewarm")
            .map((r) => prewarmed(r.evacuation, step.reason)),
        ],
      });
      return [...new Set([...touched, ...step.records.map((r) => r.evacuation)])];
    },
  },

  "mark-doomed": {
    action: "mark_doomed",
    object: (step) => workloadObject(step.workload),
    async run(step, ctx) {
      const ns = step.workload.namespace;
      // One patch per doomed pod (the cost is per pod); a pod gone meanwhile needs none.
      await forEachConcurrently(step.pods, MARK_CONCURRENCY, async (pod) => {
        await ctx.actuator.setDeletionCost({ namespace: ns, name: pod }, step.deletionCost);
      });
      ctx.log.debug({ workload: workloadKey(step.workload), pods: step.pods }, `marked: ${step.reason}`);
      return [];
    },
  },

  retire: {
    action: "retire",
    object: (step) => workloadObject(step.workload),
    async run(step, ctx) {
      const outcome = expectApplied(
        await ctx.actuator.changeSurgeLedger(step.workload, {
          kind: "retire",
          surges: surgesToRetire(step, ctx),
          at: ctx.now,
        }),
        step.workload,
      );
      const touched = closeRetired(step, ctx, outcome);
      if (outcome.delta === 0) {
        ctx.log.info(
          { workload: workloadKey(step.workload), pods: step.pods },
          `retire already in the ledger of ${workloadKey(step.workload)}; nothing written: ${step.reason}`,
        );
        return touched;
      }
      announce(ctx, {
        metric: (o) => {
          // A surge taken back because its doomed pods are gone, or wound down, says nothing of replacements.
          if (!step.replacementsReady) return;
          for (const ref of step.records)
            o.noticeToReplacementsReady(
              secondsBetween(ctx.stored(ref.evacuation).evacuation.noticedAt, ctx.now),
            );
        },
        level: "info",
        fields: {
          workload: workloadKey(step.workload),
          by: outcome.delta,
          pods: step.pods,
          replicas: outcome.replicas,
        },
        message: `retired: ${step.reason}`,
        events: [
          ...(step.replacementsReady ? touched : []).map((name) =>
            replacementsReady(name, workloadKey(step.workload), step.reason),
          ),
          retired(step.workload, step.reason),
        ],
      });
      return touched;
    },
  },

  "hand-back": {
    action: "status_write",
    object: (step) => workloadObject(step.workload),
    async run(step, ctx) {
      const { now } = ctx;
      // The ledger first (the workload may be gone: nothing to close there), then the status cache.
      const ids = step.records.map((ref) => {
        const r = ctx.stored(ref.evacuation).evacuation.surges[ref.index];
        if (r === undefined)
          throw new Error(`plan names unknown surge record ${ref.evacuation}#${ref.index}`);
        return recordId(ref.evacuation, r);
      });
      const outcome = await ctx.actuator.changeSurgeLedger(step.workload, {
        kind: "hand-back",
        ids,
        at: now,
      });
      if (outcome.kind === "unsupported") throw new Error(outcome.reason);
      for (const ref of step.records)
        ctx.update(
          ref.evacuation,
          (e) => ({
            ...e,
            surges: e.surges.map((s, i) =>
              i === ref.index ? { ...s, retiredAt: s.retiredAt ?? now, handedBackAt: now } : s,
            ),
          }),
          step.reason,
        );
      announce(ctx, {
        level: "warn",
        fields: { workload: workloadKey(step.workload), cause: step.cause },
        message: `surge handed back: ${step.reason}`,
        events: [surgeHandedBack(step.workload, step.reason)],
      });
      return [...new Set(step.records.map((r) => r.evacuation))];
    },
  },
};

/** The ledger entries a retire closes, from the surge records it names. */
function surgesToRetire(
  step: StepOf<"retire">,
  ctx: StepContext,
): Extract<LedgerChange, { kind: "retire" }>["surges"] {
  return step.records.map((ref) => {
    const e = ctx.stored(ref.evacuation).evacuation;
    const r = e.surges[ref.index];
    if (r === undefined) throw new Error(`plan names unknown surge record ${ref.evacuation}#${ref.index}`);
    return {
      id: recordId(e.name, r),
      evacuation: e.name,
      pods: r.pods,
      by: r.by,
      legacy: r.id === undefined,
    };
  });
}

/**
 * Brings the surge records in line with the ledger after a retire, and marks retired the records the ledger
 * no longer knows (pruned long ago); returns the evacuations changed.
 */
function closeRetired(
  step: StepOf<"retire">,
  ctx: StepContext,
  outcome: Extract<LedgerOutcome, { kind: "applied" }>,
): string[] {
  const touched = new Set(ctx.syncWithLedger(step.workload, outcome.touched, step.reason));
  for (const ref of step.records) {
    if (
      retireRecords(ctx.stored(ref.evacuation).evacuation, step.workload, outcome.unknown, ctx.now) === null
    )
      continue;
    ctx.update(
      ref.evacuation,
      (e) => retireRecords(e, step.workload, outcome.unknown, ctx.now) ?? e,
      step.reason,
    );
    touched.add(ref.evacuation);
  }
  return [...touched];
}

/** A scale that did not happen is a failed step: the plan is recomputed and retried on the next reconcile. */
function expectApplied(
  outcome: LedgerOutcome,
  workload: WorkloadRef,
): Extract<LedgerOutcome, { kind: "applied" }> {
  if (outcome.kind === "applied") return outcome;
  const why = outcome.kind === "not-found" ? "it no longer exists" : outcome.reason;
  throw new Error(`could not scale ${workloadKey(workload)}: ${why}`);
}
