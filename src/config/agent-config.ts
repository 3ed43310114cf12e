/**
 * `lifeboat agent`'s configuration: one table of fields like the controller's (./schema.ts), each a flag
 * (`--kebab-case`), an environment variable (`LIFEBOAT_UPPER_SNAKE`) and a line of docs/flags.md (the section
 * between the AGENT markers; regenerate with `node src/config/agent-config.ts --write`; a test keeps it in step).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Option, type Command } from "commander";
import { z } from "zod";
import { ConfigError } from "./load.ts";
import {
  DNS_SUBDOMAIN,
  LOG_LEVELS,
  httpUrl,
  listenAddress,
  seconds,
  type FieldDoc,
  type ListenAddress,
  type LogLevel,
} from "./schema.ts";

/** A field's docs, as for the controller's fields but without a help group (the agent has one list). */
type AgentFieldDoc = Omit<FieldDoc, "group">;
const field = <S extends z.ZodType>(schema: S, doc: AgentFieldDoc) => ({ schema, doc });

export const AGENT_FIELDS = {
  nodeName: field(z.string().regex(DNS_SUBDOMAIN).optional(), {
    value: "<name>",
    expect: "a Kubernetes node name (DNS subdomain)",
    defaultText: "required ($NODE_NAME also works)",
    help: "The node this agent runs on: the one it polls IMDS for and annotates. The chart sets it from the downward API (spec.nodeName).",
  }),
  kubeconfig: field(z.string().optional(), {
    value: "<path>",
    expect: "a file path",
    defaultText: "$KUBECONFIG, else in-cluster",
    help: "Kubeconfig file to reach the API server. Unset: $KUBECONFIG when set, else the in-cluster service account.",
  }),
  imdsEndpoint: field(httpUrl().default("http://169.254.169.254"), {
    value: "<url>",
    expect: "an http(s) URL",
    defaultText: "http://169.254.169.254",
    help: "Instance metadata service base URL (IMDSv2: a session token is fetched first). Tests point it at amazon-ec2-metadata-mock.",
  }),
  imdsPollSeconds: field(seconds({ min: 0, exclusive: true, max: 60, default: 5 }), {
    value: "<seconds>",
    expect: "a number > 0 and <= 60",
    defaultText: "5",
    help: "How often IMDS is polled (AWS recommends every 5 seconds).",
  }),
  asgTerminateDeadlineSeconds: field(seconds({ min: 0, max: 7200, default: 0 }), {
    value: "<seconds>",
    expect: "a number from 0 to 7200",
    defaultText: "0",
    help: "Deadline of an Auto Scaling terminate notice (target-lifecycle-state Terminated), counted from when it is seen. 0: the group has no terminate lifecycle hook and the instance goes at once; with a hook, its heartbeat timeout.",
  }),
  healthAddr: field(listenAddress("0.0.0.0:8095"), {
    value: "<host:port>",
    expect: "host:port",
    defaultText: "0.0.0.0:8095",
    help: "Where /healthz (a poll finished recently) and /readyz (the latest poll reached IMDS) are served. The DaemonSet runs on the host network, so the port must be free on every node.",
  }),
  logLevel: field(z.enum(LOG_LEVELS).default("info"), {
    value: "<level>",
    expect: `one of ${LOG_LEVELS.join(", ")}`,
    defaultText: "info",
    help: "Least severe log level written (JSON lines on stdout).",
  }),
};

export type AgentConfigKey = keyof typeof AGENT_FIELDS;
export const AGENT_CONFIG_KEYS = Object.keys(AGENT_FIELDS) as AgentConfigKey[];

export interface AgentConfig {
  nodeName: string;
  kubeconfig: string | undefined;
  imdsEndpoint: string;
  imdsPollSeconds: number;
  asgTerminateDeadlineSeconds: number;
  healthAddr: ListenAddress;
  logLevel: LogLevel;
}

export const agentFlagName = (key: AgentConfigKey): string =>
  `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
export const agentEnvName = (key: AgentConfigKey): string =>
  `LIFEBOAT_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

/** Env vars outside the LIFEBOAT_ namespace honoured after LIFEBOAT_<NAME>. */
const FALLBACKS: Partial<Record<AgentConfigKey, string>> = {
  kubeconfig: "KUBECONFIG",
  nodeName: "NODE_NAME",
};

const AgentSchema = z.object(
  Object.fromEntries(Object.entries(AGENT_FIELDS).map(([k, f]) => [k, f.schema])) as {
    [K in AgentConfigKey]: (typeof AGENT_FIELDS)[K]["schema"];
  },
);

const isSet = (v: unknown): boolean =>
  v !== undefined && v !== null && !(typeof v === "string" && v.trim() === "");

/** Flags, then LIFEBOAT_* env vars (then KUBECONFIG / NODE_NAME), then defaults. Throws ConfigError listing every problem. */
export function loadAgentConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): AgentConfig {
  const raw: Record<string, unknown> = {};
  const source = new Map<AgentConfigKey, string>();
  for (const key of AGENT_CONFIG_KEYS) {
    const fallback = FALLBACKS[key];
    const from: [string, unknown] | null = isSet(flags[key])
      ? [agentFlagName(key), flags[key]]
      : isSet(env[agentEnvName(key)])
        ? [agentEnvName(key), env[agentEnvName(key)]]
        : fallback !== undefined && isSet(env[fallback])
          ? [fallback, env[fallback]]
          : null;
    if (from !== null) {
      source.set(key, from[0]);
      raw[key] = from[1];
    }
  }
  const parsed = AgentSchema.safeParse(raw);
  const problems: string[] = [];
  if (!parsed.success) {
    const bad = new Set(parsed.error.issues.map((i) => i.path[0] as AgentConfigKey));
    for (const key of AGENT_CONFIG_KEYS.filter((k) => bad.has(k))) {
      problems.push(
        `${source.get(key) ?? agentFlagName(key)} must be ${AGENT_FIELDS[key].doc.expect}, got '${String(raw[key])}'`,
      );
    }
    throw new ConfigError(problems);
  }
  const c = parsed.data;
  if (c.nodeName === undefined) {
    throw new ConfigError([
      `${agentFlagName("nodeName")} (or ${agentEnvName("nodeName")}, NODE_NAME) is required: the agent polls IMDS for, and annotates, the node it runs on`,
    ]);
  }
  return { ...c, nodeName: c.nodeName, kubeconfig: c.kubeconfig };
}

export function registerAgentFlags(command: Command): Command {
  for (const key of AGENT_CONFIG_KEYS) {
    const { doc: d } = AGENT_FIELDS[key];
    command.addOption(
      new Option(
        `${agentFlagName(key)} ${d.value}`,
        `${d.help} (default: ${d.defaultText}; env: ${agentEnvName(key)})`,
      ),
    );
  }
  return command;
}

// ---- docs/flags.md ----------------------------------------------------------------------------------------

export const AGENT_BEGIN = "<!-- BEGIN GENERATED AGENT FLAGS (node src/config/agent-config.ts --write) -->";
export const AGENT_END = "<!-- END GENERATED AGENT FLAGS -->";
export const FLAGS_DOC = fileURLToPath(new URL("../../docs/flags.md", import.meta.url));

const cell = (text: string): string => text.replace(/\|/g, "\\|");

export function renderAgentFlagsTable(): string {
  const out = ["| flag | env var | default | meaning |", "|---|---|---|---|"];
  for (const key of AGENT_CONFIG_KEYS) {
    const { doc: d } = AGENT_FIELDS[key];
    out.push(
      `| \`${agentFlagName(key)} ${cell(d.value)}\` | \`${agentEnvName(key)}\` | ${cell(d.defaultText)} | ${cell(d.help)} Must be ${cell(d.expect)}. |`,
    );
  }
  return out.join("\n");
}

/** docs/flags.md with the agent's table regenerated between its markers. */
export function withAgentTable(text: string): string {
  const start = text.indexOf(AGENT_BEGIN);
  const stop = text.indexOf(AGENT_END);
  if (start < 0 || stop < start) throw new Error(`markers '${AGENT_BEGIN}' ... '${AGENT_END}' not found`);
  return `${text.slice(0, start + AGENT_BEGIN.length)}\n${renderAgentFlagsTable()}\n${text.slice(stop)}`;
}

if (import.meta.main && process.argv.includes("--write")) {
  writeFileSync(FLAGS_DOC, withAgentTable(readFileSync(FLAGS_DOC, "utf8")));
}
