/**
 * Renders the configuration table for docs/flags.md and the `config:` block of the Helm chart's values.yaml
 * from the same FIELDS table the CLI uses; a test keeps both files in step with it.
 * Regenerate both files: `node src/config/docs.ts --write`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CONFIG_KEYS, FIELDS, FLAG_GROUPS, envName, flagName } from "./schema.ts";
import type { ConfigKey } from "./schema.ts";

export const FLAGS_DOC_PATH = fileURLToPath(new URL("../../docs/flags.md", import.meta.url));
export const CHART_VALUES_PATH = fileURLToPath(new URL("../../charts/lifeboat/values.yaml", import.meta.url));

export const BEGIN_MARKER = "<!-- BEGIN GENERATED FLAGS (node src/config/docs.ts --write) -->";
export const END_MARKER = "<!-- END GENERATED FLAGS -->";
export const VALUES_BEGIN = "  # BEGIN GENERATED CONFIG (node src/config/docs.ts --write)";
export const VALUES_END = "  # END GENERATED CONFIG";

const cell = (text: string): string => text.replace(/\|/g, "\\|");

export function renderFlagsTable(): string {
  const out: string[] = [];
  for (const group of Object.values(FLAG_GROUPS)) {
    out.push(`### ${group.replace(/:$/, "")}`, "");
    out.push("| flag | env var | default | meaning |", "|---|---|---|---|");
    for (const key of CONFIG_KEYS.filter((k) => FIELDS[k].doc.group === group)) {
      const { doc } = FIELDS[key];
      const value = doc.value === "[bool]" ? "[=true\\|false]" : ` ${cell(doc.value)}`;
      out.push(
        `| \`${flagName(key)}${value}\` | \`${envName(key)}\` | ${cell(doc.defaultText)} | ${cell(doc.help)} Must be ${cell(doc.expect)}. |`,
      );
    }
    out.push("");
  }
  return out.join("\n");
}

/** Chart values that differ from the controller's own defaults, and why. */
const CHART_OVERRIDES: Partial<Record<ConfigKey, { value: string; note: string }>> = {
  kubeconfig: { value: "null", note: "In a pod: leave unset (in-cluster service account)." },
  identity: { value: "null", note: "Unset: the chart sets LIFEBOAT_IDENTITY to the pod's name." },
  leaderElectionNamespace: {
    value: '""',
    note: "Empty: the release namespace (where the chart's Role for Leases is).",
  },
  headroomNamespace: {
    value: '""',
    note: "Empty: the release namespace (where the chart's Role for the placeholder Deployments is).",
  },
};

/** The settings the chart's `config:` block holds, in schema order: every controller setting. */
export const CHART_CONFIG_KEYS: readonly ConfigKey[] = CONFIG_KEYS;

function yamlDefault(key: ConfigKey): string {
  const text = FIELDS[key].doc.defaultText;
  if (text === "empty") return '""';
  if (/unset|\$|hostname/.test(text)) return "null";
  if (/^-?\d+(\.\d+)?$/.test(text) || text === "true" || text === "false") return text;
  return JSON.stringify(text);
}

export function renderValuesConfig(): string {
  const out: string[] = [];
  for (const key of CHART_CONFIG_KEYS) {
    const { doc } = FIELDS[key];
    const override = CHART_OVERRIDES[key];
    out.push(`  # -- ${doc.help}`);
    out.push(`  # Flag ${flagName(key)}, env ${envName(key)}; controller default: ${doc.defaultText}.`);
    if (override !== undefined) out.push(`  # ${override.note}`);
    out.push(`  ${key}: ${override?.value ?? yamlDefault(key)}`);
  }
  return out.join("\n");
}

/** Replaces the text between two marker lines (markers kept). */
export function replaceBetween(text: string, begin: string, end: string, body: string): string {
  const start = text.indexOf(begin);
  const stop = text.indexOf(end);
  if (start < 0 || stop < start) throw new Error(`markers '${begin}' ... '${end}' not found`);
  return `${text.slice(0, start + begin.length)}\n${body}\n${text.slice(stop)}`;
}

if (import.meta.main && process.argv.includes("--write")) {
  writeFileSync(
    FLAGS_DOC_PATH,
    replaceBetween(readFileSync(FLAGS_DOC_PATH, "utf8"), BEGIN_MARKER, END_MARKER, renderFlagsTable()),
  );
  writeFileSync(
    CHART_VALUES_PATH,
    replaceBetween(readFileSync(CHART_VALUES_PATH, "utf8"), VALUES_BEGIN, VALUES_END, renderValuesConfig()),
  );
}
