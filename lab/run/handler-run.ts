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
