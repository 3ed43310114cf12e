/** How an evacuation ends: complete (Done), give up (Failed), forget (its time to live is over). */
import { slackSeconds } from "../../state/evacuation-resource.ts";
import {
  announce,
  deadlineMissed,
  evacuationDone,
  evacuationFailed,
  evacuationObject,
  nodeEvacuationDone,
  nodeEvacuationFailed,
} from "../events.ts";
import { secondsBetween, type StepHandlers } from "./handler.ts";

type EndingKind = "complete" | "fail" | "forget";

export const endingSteps: Pick<StepHandlers, EndingKind> = {
  complete: {
    action: "lifecycle_complete",
    object: (step) => evacuationObject(step.evacuation),
    async run(step, ctx) {
      const { now } = ctx;
      // The lifecycle call first: when it fails the step is retried, and the completion metrics and
      // Events below must not be counted again on each retry.
      const hook = ctx.stored(step.evacuation).lifecycleHook;
      if (hook !== null && ctx.lifecycle !== null) {
        await ctx.lifecycle.complete(hook, "CONTINUE");
        ctx.log.info({ hook: hook.lifecycleHookName }, "completed the ASG lifecycle action with CONTINUE");
      }
      ctx.update(
        step.evacuation,
        (e) => ({ ...e, phase: "Done", timeline: { ...e.timeline, doneAt: now } }),
        step.reason,
      );
      const e = ctx.stored(step.evacuation).evacuation;
      const slack = slackSeconds(e, now);
      const missed = slack !== null && slack < 0;
      const message = `${step.reason}${slack === null ? "" : `; slack to the deadline ${slack} s`}`;
      announce(ctx, {
        metric: (o) => {
          o.noticeToDone(secondsBetween(e.noticedAt, now), slack, missed);
        },
        level: "info",
        fields: { evacuation: e.name, node: e.nodeName, slackSeconds: slack },
        message: `evacuation done: ${step.reason}`,
        events: [
          missed ? deadlineMissed(e.name, message) : evacuationDone(e.name, message),
          nodeEvacuationDone(e.nodeName, step.reason),
        ],
      });
      return [step.evacuation];
    },
  },

  fail: {
    action: "lifecycle_complete",
    object: (step) => evacuationObject(step.evacuation),
    async run(step, ctx) {
      const { now } = ctx;
      // The lifecycle call first (as for complete): when it fails the step is retried, and the Failed
      // phase, the metric and the Events below are not recorded twice.
      const hook = ctx.stored(step.evacuation).lifecycleHook;
      if (hook !== null && ctx.lifecycle !== null) {
        // The instance goes either way; CONTINUE lets the ASG finish the termination now instead of at the
        // hook's timeout.
        await ctx.lifecycle.complete(hook, "CONTINUE");
        ctx.log.info(
          { hook: hook.lifecycleHookName },
          "completed the ASG lifecycle action with CONTINUE (evacuation gave up)",
        );
      }
      ctx.update(
        step.evacuation,
        (e) => ({ ...e, phase: "Failed", timeline: { ...e.timeline, failedAt: now } }),
        step.reason,
      );
      const e = ctx.stored(step.evacuation).evacuation;
      announce(ctx, {
        metric: (o) => {
          o.evacuationFailed(secondsBetween(e.noticedAt, now));
        },
        level: "error",
        fields: { evacuation: e.name, node: e.nodeName },
        message: `evacuation failed: ${step.reason}`,
        events: [evacuationFailed(e.name, step.reason), nodeEvacuationFailed(e.nodeName, step.reason)],
      });
      return [step.evacuation];
    },
  },

  forget: {
    action: "evacuation_delete",
    object: (step) => evacuationObject(step.evacuation),
    async run(step, ctx) {
      // A delete, not a status change: nothing for the reconciler to write.
      await ctx.forget(step.evacuation);
      ctx.log.info({ evacuation: step.evacuation }, `forgotten: ${step.reason}`);
      return [];
    },
  },
};
