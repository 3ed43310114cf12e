/**
 * Steps on the node: cordon (or taint-only), undo the cordon, clear a served request, ask for an early node,
 * taint it out of service.
 */
import { EVACUATE_ANNOTATION } from "../../domain/plan.ts";
import {
  announce,
  cordoned,
  earlyNodeRequested,
  nodeObject,
  outOfServiceTainted,
  prewarmExpired,
  requestCleared,
  taintedPreferNoSchedule,
  uncordoned,
} from "../events.ts";
import { secondsBetween, type StepHandlers } from "./handler.ts";

type NodeKind =
  | "cordon"
  | "taint-prefer-no-schedule"
  | "taint-out-of-service"
  | "uncordon"
  | "clear-request"
  | "request-node";

export const nodeSteps: Pick<StepHandlers, NodeKind> = {
  cordon: {
    action: "cordon",
    object: (step) => nodeObject(step.node),
    async run(step, ctx) {
      const { now } = ctx;
      const outcome = await ctx.actuator.cordon(step.node, {
        taintKey: ctx.taintKey,
        excludeFromLb: ctx.excludeFromLb,
      });
      if (
        outcome.kind === "done" &&
        !outcome.changed &&
        ctx.stored(step.evacuation).evacuation.timeline.cordonedAt !== undefined
      ) {
        // Cordoned at receipt (the intake) and the snapshot did not show it yet: measured and reported then.
        ctx.log.info({ node: step.node, evacuation: step.evacuation }, `already cordoned: ${step.reason}`);
        return [];
      }
      ctx.update(
        step.evacuation,
        (e) => ({
          ...e,
          phase: e.phase === "Pending" ? "Cordoned" : e.phase,
          timeline: { ...e.timeline, cordonedAt: e.timeline.cordonedAt ?? now },
        }),
        step.reason,
      );
      const e = ctx.stored(step.evacuation).evacuation;
      announce(ctx, {
        metric: (o) => {
          o.noticeToCordon(secondsBetween(e.noticedAt, now));
        },
        level: "info",
        fields: { node: step.node, evacuation: step.evacuation },
        message: `cordoned: ${step.reason}`,
        events: [cordoned(step.node, step.reason)],
      });
      return [step.evacuation];
    },
  },

  "taint-prefer-no-schedule": {
    action: "taint",
    object: (step) => nodeObject(step.node),
    async run(step, ctx) {
      await ctx.actuator.taintPreferNoSchedule(step.node, ctx.taintKey);
      ctx.update(
        step.evacuation,
        (e) => ({ ...e, phase: e.phase === "Pending" ? "Cordoned" : e.phase }),
        step.reason,
      );
      announce(ctx, {
        level: "info",
        fields: { node: step.node },
        message: `tainted PreferNoSchedule: ${step.reason}`,
        events: [taintedPreferNoSchedule(step.node, step.reason)],
      });
      return [step.evacuation];
    },
  },

  "taint-out-of-service": {
    action: "taint_out_of_service",
    object: (step) => nodeObject(step.node),
    async run(step, ctx) {
      // No record to write: the next plan sees the taint on the node and releases its StatefulSet pods.
      const outcome = await ctx.actuator.taintOutOfService(step.node);
      if (outcome.kind === "done" && outcome.changed)
        announce(ctx, {
          level: "warn",
          fields: { node: step.node, evacuation: step.evacuation },
          message: `tainted out of service: ${step.reason}`,
          events: [outOfServiceTainted(step.node, step.reason)],
        });
      return [];
    },
  },

  uncordon: {
    action: "uncordon",
    object: (step) => nodeObject(step.node),
    async run(step, ctx) {
      await ctx.actuator.uncordon(step.node, ctx.taintKey);
      announce(ctx, {
        level: "info",
        fields: { node: step.node, evacuation: step.evacuation },
        message: `uncordoned: ${step.reason}`,
        events: [prewarmExpired(step.evacuation, step.reason), uncordoned(step.node, step.reason)],
      });
      return [];
    },
  },

  "clear-request": {
    action: "clear_request",
    object: (step) => nodeObject(step.node),
    async run(step, ctx) {
      const outcome = await ctx.actuator.removeNodeAnnotation(step.node, EVACUATE_ANNOTATION, step.value);
      if (outcome.kind === "done" && outcome.changed)
        announce(ctx, {
          level: "info",
          fields: { node: step.node, evacuation: step.evacuation },
          message: `request cleared: ${step.reason}`,
          events: [requestCleared(step.node, step.reason)],
        });
      return [];
    },
  },

  "request-node": {
    action: "asg_set_desired",
    object: (step) => nodeObject(step.node),
    async run(step, ctx) {
      if (ctx.earlyNode === null) return [];
      const outcome = await ctx.earlyNode.request(step.instanceId, step.count, step.evacuation);
      if (outcome.kind === "requested") {
        const { group, from, to } = outcome;
        announce(ctx, {
          level: "info",
          fields: { node: step.node, group, from, to },
          message: `early node: raised ${group} from ${from} to ${to}: ${step.reason}`,
          events: [
            earlyNodeRequested(
              step.node,
              `desired capacity of ${group} raised from ${from} to ${to}: ${step.reason}`,
            ),
          ],
        });
      } else if (outcome.kind === "met") {
        if (ctx.firstTime(`EarlyNode/${step.evacuation}`))
          ctx.log.info(
            { node: step.node, group: outcome.group, desired: outcome.desired },
            `early node not needed: ${outcome.group} was raised to ${outcome.desired} meanwhile, which holds the node asked for`,
          );
      } else if (outcome.kind === "at-max" || outcome.kind === "no-group") {
        const why =
          outcome.kind === "at-max"
            ? `${outcome.group} is at its MaxSize ${outcome.max}`
            : `${step.instanceId} belongs to no Auto Scaling group`;
        if (ctx.firstTime(`EarlyNode/${step.evacuation}`))
          ctx.log.warn({ node: step.node }, `early node not requested: ${why}`);
      }
      return [];
    },
  },
};
