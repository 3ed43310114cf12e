/** Steps that change nothing: a planner warning, reported once, and a wait, logged. */
import { announce, subjectObject, warning } from "../events.ts";
import type { StepHandlers } from "./handler.ts";

export const noteSteps: Pick<StepHandlers, "warn" | "wait"> = {
  warn: {
    action: "status_write",
    object: (step) => subjectObject(step.subject),
    run(step, ctx) {
      if (ctx.firstTime(`${step.code}/${step.subject}`))
        announce(ctx, {
          level: "warn",
          fields: { code: step.code, subject: step.subject },
          message: step.reason,
          events: [warning(step.subject, step.code, step.reason)],
        });
      return Promise.resolve([]);
    },
  },

  wait: {
    action: "status_write",
    object: (step) => subjectObject(step.subject),
    run(step, ctx) {
      ctx.log.debug({ subject: step.subject, until: step.until }, `waiting: ${step.reason}`);
      return Promise.resolve([]);
    },
  },
};
