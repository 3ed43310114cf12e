/**
 * The table of step handlers, one per step kind. Its type makes the compiler check it: a kind added to the
 * Step union (src/domain/plan.ts) without a handler here does not compile.
 */
import type { Step, StepKind } from "../../domain/plan.ts";
import type { ActuatorAction } from "../../observability/metrics.ts";
import type { EventObject } from "../events.ts";
import { endingSteps } from "./endings.ts";
import type { StepContext, StepHandler, StepHandlers } from "./handler.ts";
import { nodeSteps } from "./nodes.ts";
import { noteSteps } from "./notes.ts";
import { podSteps } from "./pods.ts";
import { replicaSteps } from "./replicas.ts";

export type { StepContext } from "./handler.ts";

export const STEP_HANDLERS: StepHandlers = {
  ...nodeSteps,
  ...replicaSteps,
  ...podSteps,
  ...endingSteps,
  ...noteSteps,
};

function handlerOf<K extends StepKind>(kind: K): StepHandler<K> {
  return STEP_HANDLERS[kind];
}

/** Carries out one step; returns the evacuations whose record changed. */
export function runStep(step: Step, ctx: StepContext): Promise<string[]> {
  return handlerOf(step.kind).run(step, ctx);
}

/** The metric label of the call a step makes. */
export function actionOf(step: Step): ActuatorAction {
  return handlerOf(step.kind).action;
}

/** What an ActionFailed Event about a step is written on. */
export function stepObject(step: Step): EventObject {
  return handlerOf(step.kind).object(step);
}
