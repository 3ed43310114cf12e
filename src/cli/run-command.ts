import type { Command } from "commander";
import { registerRunFlags } from "../config/flags.ts";
import { configForLog, loadConfig } from "../config/load.ts";
import { Controller } from "../controller/controller.ts";
import { systemClock } from "../domain/clock.ts";
import { createLogger } from "../observability/logger.ts";
import { Metrics } from "../observability/metrics.ts";
import { VERSION } from "./version.ts";
import { loadKubeConfig } from "./kube.ts";

/** `lifeboat run`: the controller. Every flag also reads LIFEBOAT_<NAME> from the environment. */
export function registerRunCommand(program: Command): void {
  const run = program
    .command("run")
    .description("run the controller: consume interruption notices and evacuate nodes make-before-break")
    .addHelpText(
      "after",
      "\nEvery flag can also be set as an environment variable LIFEBOAT_<FLAG_IN_UPPER_SNAKE_CASE>; see docs/flags.md.",
    );
  registerRunFlags(run);
  run.action(async (opts: Record<string, unknown>) => {
    const config = loadConfig(opts, process.env);
    const log = createLogger({ level: config.logLevel, clock: systemClock });
    log.info({ version: VERSION, config: configForLog(config) }, "lifeboat starting");
    const controller = new Controller({
      config,
      kubeConfig: loadKubeConfig(config.kubeconfig),
      clock: systemClock,
      log,
      metrics: new Metrics({ defaultMetrics: true }),
    });
    const stopped = new Promise<void>((resolve) => {
      const stop = (sig: string): void => {
        log.info({ signal: sig }, "stopping");
        controller.stop().then(resolve, resolve);
      };
      process.once("SIGTERM", () => {
        stop("SIGTERM");
      });
      process.once("SIGINT", () => {
        stop("SIGINT");
      });
    });
    await controller.start();
    await stopped;
    log.info({}, "stopped");
  });
}
