/**
 * Builds the Config from CLI flags, then LIFEBOAT_* environment variables, then defaults (first one set
 * wins), validates every field and the rules between fields, and reports every problem at once.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { CONFIG_KEYS, ConfigSchema, FIELDS, envName, flagName } from "./schema.ts";
import type { Config, ConfigKey, ListenAddress } from "./schema.ts";
import { formatNodeGroupPolicies } from "./node-groups.ts";

/** Thrown by loadConfig; `problems` holds one plain sentence per problem, naming the flag or env var. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
  }
}

/** Where a value came from: the name a user would recognise in an error message. */
type Source =
  { kind: "flag"; name: string } | { kind: "env"; name: string } | { kind: "default"; name: string };

/** Env vars outside the LIFEBOAT_ namespace that are honoured after LIFEBOAT_<NAME>, for familiarity. */
const ENV_FALLBACKS: Partial<Record<ConfigKey, string>> = {
  kubeconfig: "KUBECONFIG",
  awsRegion: "AWS_REGION",
};

export interface LoadConfigDeps {
  /** The machine's host name (default: os.hostname()). */
  hostname?: () => string;
  /** A short random suffix for the default identity (default: 6 hex characters). */
  randomSuffix?: () => string;
}

function isSet(value: unknown): boolean {
  return value !== undefined && value !== null && !(typeof value === "string" && value.trim() === "");
}

function show(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * `flags` is what commander parsed (`command.opts()`, keys in camelCase; unknown keys are ignored), `env` is
 * usually process.env. An empty string counts as unset. Throws ConfigError listing every problem.
 */
export function loadConfig(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  deps: LoadConfigDeps = {},
): Config {
  const raw: Record<string, unknown> = {};
  const sources = new Map<ConfigKey, Source>();
  for (const key of CONFIG_KEYS) {
    const fromFlag = flags[key];
    const fallback = ENV_FALLBACKS[key];
    if (isSet(fromFlag)) {
      raw[key] = fromFlag;
      sources.set(key, { kind: "flag", name: flagName(key) });
    } else if (isSet(env[envName(key)])) {
      raw[key] = env[envName(key)];
      sources.set(key, { kind: "env", name: envName(key) });
    } else if (fallback !== undefined && isSet(env[fallback])) {
      raw[key] = env[fallback];
      sources.set(key, { kind: "env", name: fallback });
    } else {
      sources.set(key, { kind: "default", name: flagName(key) });
    }
  }
  const nameOf = (key: ConfigKey): string => sources.get(key)?.name ?? flagName(key);

  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const byKey = new Map<ConfigKey, string[]>();
    for (const issue of result.error.issues) {
      const key = issue.path[0] as ConfigKey;
      const details = byKey.get(key) ?? [];
      if (issue.code === "custom") details.push(issue.message);
      byKey.set(key, details);
    }
    throw new ConfigError(
      CONFIG_KEYS.filter((key) => byKey.has(key)).map((key) => {
        const details = byKey.get(key) ?? [];
        const suffix = details.length > 0 ? `: ${details.join("; ")}` : "";
        return `${nameOf(key)} must be ${FIELDS[key].doc.expect}, got '${show(raw[key])}'${suffix}`;
      }),
    );
  }
  const config = result.data;
  const problems: string[] = [];

  const valued = (key: ConfigKey): string =>
    `${nameOf(key)} (${show(raw[key] ?? FIELDS[key].doc.defaultText)})`;
  if (config.leaderElect) {
    if (config.renewDeadlineSeconds >= config.leaseDurationSeconds) {
      problems.push(
        `${valued("renewDeadlineSeconds")} must be less than ${valued("leaseDurationSeconds")}: ` +
          "a leader must give up before a standby may take the lease over",
      );
    }
    if (config.retryPeriodSeconds >= config.renewDeadlineSeconds) {
      problems.push(
        `${valued("retryPeriodSeconds")} must be less than ${valued("renewDeadlineSeconds")}: ` +
          "the leader needs more than one try to renew before its deadline",
      );
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const identity =
    config.identity ??
    `${(deps.hostname ?? hostname)()}_${(deps.randomSuffix ?? (() => randomBytes(3).toString("hex")))()}`;
  return { ...config, identity };
}

export function formatAddress(address: ListenAddress): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** A plain JSON-friendly view of the config, for the startup log line. */
export function configForLog(config: Config): Record<string, unknown> {
  return {
    ...config,
    metricsAddr: formatAddress(config.metricsAddr),
    healthAddr: formatAddress(config.healthAddr),
    rebalancePolicyByNodeGroup: formatNodeGroupPolicies(config.rebalancePolicyByNodeGroup),
  };
}
