import type { Command } from "commander";
import { registerRunFlags } from "../config/flags.ts";
import { configForLog, loadConfig } from "../config/load.ts";
import { Controller } from "../controller/controller.ts";
import { systemClock } from "../domain/clock.ts";
import { createLogger, type Logger } from "../observability/logger.ts";
import { Metrics } from "../observability/metrics.ts";
import { VERSION } from "./version.ts";
import { checkReachable, KubeUnreachableError, loadKubeConfig, type LoadedKubeConfig } from "./kube.ts";
import { errorMessage } from "../domain/error-message.ts";

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
    // A missing kubeconfig is fatal at once (exit 2); an API server that does not answer is logged within
    // seconds and retried, as a controller whose API server restarts must.
    const kube = loadKubeConfig({ kubeconfig: config.kubeconfig, context: config.context });
    const stopping = new AbortController();
    const stopped = new Promise<string>((resolve) => {
      process.once("SIGTERM", () => {
        resolve("SIGTERM");
      });
      process.once("SIGINT", () => {
        resolve("SIGINT");
      });
    });
    void stopped.then(() => {
      stopping.abort(new Error("stopping"));
    });
    if (!(await waitUntilReachable(kube, log, stopping.signal))) {
      log.info({}, "stopped before the API server answered");
      return;
    }
    const controller = new Controller({
      config,
      kubeConfig: kube.kubeConfig,
      clock: systemClock,
      log,
      metrics: new Metrics({ defaultMetrics: true }),
    });
    const done = stopped.then(async (signal) => {
      log.info({ signal }, "stopping");
      await controller.stop().catch((err: unknown) => {
        log.error({ err: errorMessage(err) }, "stop failed");
      });
    });
    await controller.start();
    await done;
    log.info({}, "stopped");
  });
}

/** Retries checkReachable with backoff (1 s doubling to 30 s), logging each failure; false when stopped. */
async function waitUntilReachable(
  kube: LoadedKubeConfig,
  log: Logger,
  signal: AbortSignal,
): Promise<boolean> {
  for (let delay = 1000; ; delay = Math.min(delay * 2, 30_000)) {
    try {
      await checkReachable(kube, systemClock);
      return true;
    } catch (err) {
      if (!(err instanceof KubeUnreachableError)) throw err;
      log.error({ server: err.server, err: err.message, retryInSeconds: delay / 1000 }, err.message);
    }
    try {
      await systemClock.sleep(delay, signal);
    } catch {
      return false;
    }
  }
}
