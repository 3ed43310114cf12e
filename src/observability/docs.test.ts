/**
 * docs/metrics.md and docs/flags.md against the code, so that they cannot drift: every metric registered is
 * documented with its type and labels and nothing else is; the Event table is the Event catalog and every
 * catalog reason is really emitted somewhere; every flag and LIFEBOAT_* variable the docs name exists.
 * (The generated flag table itself, with each default, is checked by src/config/chart.test.ts.)
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { AGENT_CONFIG_KEYS, agentEnvName, agentFlagName } from "../config/agent-config.ts";
import { CONFIG_KEYS, envName, flagName } from "../config/schema.ts";
import { EVENT_REASONS } from "./events.ts";
import { ACTUATOR_ACTIONS, METRIC_PREFIX, Metrics } from "./metrics.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const read = (path: string): string => readFileSync(join(root, path), "utf8");

/** The rows of the first Markdown table after `heading`, as trimmed cells (header and rule dropped). */
function tableAfter(doc: string, heading: string): string[][] {
  const start = doc.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `heading '${heading}' not found`);
  const lines = doc.slice(start).split("\n");
  const first = lines.findIndex((l) => l.startsWith("|"));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
  }
  return rows;
}

const unquote = (cell: string): string[] =>
  [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? "").filter((s) => s !== "");

interface Registered {
  name: string;
  labelNames?: string[];
  get(): Promise<{ type: string }> | { type: string };
}

test("docs/metrics.md lists exactly the metrics registered, with their type and labels", async () => {
  const rows = tableAfter(read("docs/metrics.md"), "## Metrics");
  const documented = new Map(
    rows.map(([name = "", type = "", labels = "", meaning = ""]) => [
      unquote(name)[0] ?? name,
      { type, labels: unquote(labels).sort(), meaning },
    ]),
  );
  const metrics = new Metrics();
  const registered = metrics.registry.getMetricsAsArray() as unknown as Registered[];
  const names = registered.map((m) => m.name).filter((n) => n.startsWith(METRIC_PREFIX));
  assert.deepEqual(
    [...documented.keys()].sort(),
    [...names].sort(),
    "metric names in the table vs registered",
  );
  for (const m of registered) {
    const doc = documented.get(m.name);
    if (doc === undefined) continue;
    const { type } = await m.get();
    assert.equal(doc.type, type, `${m.name}: documented type`);
    assert.deepEqual(doc.labels, [...(m.labelNames ?? [])].sort(), `${m.name}: documented labels`);
  }
  const actuator = documented.get(`${METRIC_PREFIX}actuator_errors_total`)?.meaning ?? "";
  for (const action of ACTUATOR_ACTIONS)
    assert.match(actuator, new RegExp(`\\b${action}\\b`), `actuator_errors action '${action}' is documented`);
});

/** Every `"Reason"` literal in the product's source (tests and the catalog itself left out). */
function reasonsInSource(): Set<string> {
  const found = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (
        entry.name.endsWith(".ts") &&
        !entry.name.endsWith(".test.ts") &&
        path !== join("src", "observability", "events.ts")
      )
        for (const m of read(path).matchAll(/"([A-Z][A-Za-z]+)"/g)) found.add(m[1] ?? "");
    }
  };
  walk("src");
  return found;
}

test("docs/metrics.md lists exactly the Event catalog, with each reason's type, and every reason is emitted", () => {
  const rows = tableAfter(read("docs/metrics.md"), "## Kubernetes Events");
  const documented = new Map(rows.map(([reason = "", type = ""]) => [reason, type]));
  assert.deepEqual(
    [...documented.keys()].sort(),
    Object.keys(EVENT_REASONS).sort(),
    "Event reasons vs catalog",
  );
  for (const [reason, type] of Object.entries(EVENT_REASONS))
    assert.ok(
      documented.get(reason)?.startsWith(type),
      `${reason}: documented type '${documented.get(reason)}'`,
    );
  const inSource = reasonsInSource();
  // The planner's warning code ShortPreStop is recorded as PreStopTooShort (controller/event-sink.ts).
  if (inSource.has("ShortPreStop")) inSource.add("PreStopTooShort");
  const never = Object.keys(EVENT_REASONS).filter((r) => !inSource.has(r));
  assert.deepEqual(never, [], "Event reasons promised in docs/metrics.md that no code emits");
});

test("every flag and LIFEBOAT_* variable that docs/flags.md and docs/metrics.md name is a setting", () => {
  // Settings of lifeboat run and of lifeboat agent; --help; --write of the generators.
  const flags = new Set([
    ...CONFIG_KEYS.map(flagName),
    ...AGENT_CONFIG_KEYS.map(agentFlagName),
    "--help",
    "--write",
  ]);
  const envs = new Set([...CONFIG_KEYS.map(envName), ...AGENT_CONFIG_KEYS.map(agentEnvName)]);
  // Named in docs/flags.md as variables Kubernetes injects and lifeboat ignores.
  const notSettings = new Set(["LIFEBOAT_SERVICE_HOST", "LIFEBOAT_UPPER_SNAKE_NAME"]);
  for (const path of ["docs/flags.md", "docs/metrics.md"]) {
    const doc = read(path);
    for (const m of doc.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*[a-z0-9])/g)) {
      const flag = `--${m[1] ?? ""}`;
      assert.ok(flags.has(flag), `${path} names ${flag}, which is no setting of lifeboat run`);
    }
    for (const m of doc.matchAll(/\bLIFEBOAT_[A-Z0-9_]+/g)) {
      const name = m[0].replace(/_$/, "");
      if (name === "LIFEBOAT" || notSettings.has(name)) continue;
      assert.ok(envs.has(name), `${path} names ${name}, which is no setting`);
    }
  }
});
