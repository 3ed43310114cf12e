import type { Command } from "commander";
import { CoreV1Api } from "@kubernetes/client-node";
import { NodeAgent } from "../agent/node-agent.ts";
import { loadAgentConfig, registerAgentFlags } from "../config/agent-config.ts";
import { formatAddress } from "../config/load.ts";
import { systemClock } from "../domain/clock.ts";
import { createLogger } from "../observability/logger.ts";
import { startObservabilityServer } from "../observability/server.ts";
import { VERSION } from "./version.ts";
import { loadKubeConfig } from "./kube.ts";

/**
 * `lifeboat agent`: the IMDS agent, one per node (DaemonSet). Hands notices to the controller through the node
 * annotation lifeboat.dev/evacuate; every flag also reads LIFEBOAT_<NAME> from the environment.
 */
export function registerAgentCommand(program: Command): void {
  const agent = program
    .command("agent")
    .description(
      "run on each node (DaemonSet): poll IMDSv2 for spot, rebalance, scheduled-event and ASG terminate notices\n" +
        "and hand them to the controller through the node annotation lifeboat.dev/evacuate",
    )
    .addHelpText(
      "after",
      "\nEvery flag can also be set as an environment variable LIFEBOAT_<FLAG_IN_UPPER_SNAKE_CASE>; see docs/flags.md.",
    );
  registerAgentFlags(agent);
  agent.action(async (opts: Record<string, unknown>) => {
    const config = loadAgentConfig(opts, process.env);
    const log = createLogger({ level: config.logLevel, clock: systemClock, base: { component: "agent" } });
    log.info(
      { version: VERSION, config: { ...config, healthAddr: formatAddress(config.healthAddr) } },
      "lifeboat agent starting",
    );
    const nodeAgent = new NodeAgent({
      nodeName: config.nodeName,
      imds: {
        endpoint: config.imdsEndpoint,
        pollIntervalMs: config.imdsPollSeconds * 1000,
        asgTerminateDeadlineSeconds: config.asgTerminateDeadlineSeconds,
      },
      core: loadKubeConfig({ kubeconfig: config.kubeconfig }).kubeConfig.makeApiClient(CoreV1Api),
      clock: systemClock,
      log,
    });
    await using server = await startObservabilityServer({
      host: config.healthAddr.host,
      port: config.healthAddr.port,
      health: () => nodeAgent.health(),
      logger: log,
    });
    log.info({ address: server.url }, "serving /healthz and /readyz");
    const stop = new AbortController();
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      process.once(sig, () => {
        log.info({ signal: sig }, "stopping");
        stop.abort();
      });
    }
    await nodeAgent.run(stop.signal);
    log.info({}, "stopped");
  });
}
