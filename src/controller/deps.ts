/**
 * What the controller is built from, and the settings its parts share. Kept below every file of
 * src/controller so that the parts (capacity.ts, wiring.ts) and the Controller import it, never each other.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import type { Config } from "../config/schema.ts";
import type { Clock } from "../domain/clock.ts";
import type { Logger } from "../observability/logger.ts";
import type { Metrics } from "../observability/metrics.ts";

export interface ControllerDeps {
  config: Config;
  kubeConfig: KubeConfig;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
}

/** AWS SDK client settings from the config: region, and an endpoint override (moto in the lab). */
export function awsClientConfig(config: Config): { region: string; endpoint?: string } {
  return {
    region: config.awsRegion,
    ...(config.awsEndpoint === undefined ? {} : { endpoint: config.awsEndpoint }),
  };
}

/** Whether any AWS call is configured: a queue to consume, or an endpoint to reach (ASG lifecycle hooks). */
export function usesAws(config: Config): boolean {
  return config.queueUrl !== undefined || config.awsEndpoint !== undefined;
}
