/** What every step of one handler's run of a scenario reads (lab/run/run-scenario.ts and its steps). */
import type { HandlerName } from "../harness/handlers.ts";
import type { Scenario } from "../scenarios/load.ts";

export interface HandlerRun {
  scenario: Scenario;
  handler: HandlerName;
  timeScale: number;
  outDir: string;
  /** One line at a time: progress and phase changes. */
  progress: (line: string) => void;
  /** Extra flags for `lifeboat run`, after the lab's own. */
  lifeboatArgs: readonly string[];
}

/** The scenario's time zero and its clock. */
export interface ScenarioClock {
  /** performance.now() at time zero. */
  t0: number;
  /** Date.now() at time zero. */
  wall0: number;
  /** Scenario seconds since time zero. */
  now: () => number;
}
