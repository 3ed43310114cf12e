/**
 * The controller's HTTP endpoints: /metrics on --metrics-addr, /healthz and /readyz on --health-addr (one
 * server when both addresses are the same).
 */
import type { Config } from "../config/schema.ts";
import {
  startObservabilityServer,
  type HealthReport,
  type ObservabilityServer,
} from "../observability/server.ts";
import type { ControllerDeps } from "./deps.ts";

/**
 * How long a reconcile may run (or be overdue) before /healthz fails: ten reconcile intervals, at least
 * 60 s, so that a slow API server (retries, a 20 s outage) is not mistaken for a hung loop.
 */
export function livenessStallMs(config: Pick<Config, "reconcileIntervalSeconds">): number {
  return Math.max(60_000, config.reconcileIntervalSeconds * 10_000);
}

/** Starts the endpoints, the metrics server first; each is added to `servers` as soon as it listens. */
export async function startEndpoints(
  deps: Pick<ControllerDeps, "config" | "log" | "metrics">,
  health: () => HealthReport,
  servers: ObservabilityServer[],
): Promise<void> {
  const { config, log, metrics } = deps;
  const sameAddress =
    config.metricsAddr.host === config.healthAddr.host && config.metricsAddr.port === config.healthAddr.port;
  const metricsServer = await startObservabilityServer({
    host: config.metricsAddr.host,
    port: config.metricsAddr.port,
    metrics,
    ...(sameAddress ? { health } : {}),
    logger: log,
  });
  servers.push(metricsServer);
  log.info(
    { address: metricsServer.url },
    sameAddress ? "serving /metrics, /healthz and /readyz" : "serving /metrics",
  );
  if (sameAddress) return;
  const healthServer = await startObservabilityServer({
    host: config.healthAddr.host,
    port: config.healthAddr.port,
    health,
    logger: log,
  });
  servers.push(healthServer);
  log.info({ address: healthServer.url }, "serving /healthz and /readyz");
}
