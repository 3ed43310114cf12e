/**
 * Scenario files: read YAML, validate against the schema, and map a valid scenario onto the lab's fixtures.
 *
 *   const scenario = await loadScenario("seed");          // lab/scenarios/seed.yaml
 *   const scenario = await loadScenario("./my.yaml");     // any path
 */
import { readdir, readFile } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { parseDocument } from "yaml";
import type { z } from "zod";
import type { DeploymentFixture } from "../workloads.ts";
import type { NodeGroupSpec } from "../lab.ts";
import { scenarioSchema } from "./schema.ts";
import type { Scenario, Workload } from "./schema.ts";

export type * from "./schema.ts";
export { isWorkloadEvent, lastMomentOf, scenarioSchema } from "./schema.ts";

/** Where the shipped scenarios live. */
export const SCENARIO_DIR = import.meta.dirname;

export interface ScenarioIssue {
  /** Dotted path of the bad field, e.g. `workloads[0].readiness.periodSeconds`; `(root)` for the file. */
  path: string;
  message: string;
}

/** A scenario file that is not valid YAML or does not match the schema; `message` lists every issue by path. */
export class ScenarioError extends Error {
  override readonly name = "ScenarioError";
  readonly source: string;
  readonly issues: readonly ScenarioIssue[];
  constructor(source: string, issues: readonly ScenarioIssue[]) {
    super(`scenario ${source} is invalid:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join("\n")}`);
    this.source = source;
    this.issues = issues;
  }
}

/** `a.b[0].c` from a zod issue path. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(root)";
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

function issuesOf(error: z.ZodError): ScenarioIssue[] {
  return error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
}

/** Parses and validates scenario YAML text; `source` names it in errors. Throws ScenarioError. */
export function parseScenario(text: string, source = "<text>"): Scenario {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ScenarioError(
      source,
      doc.errors.map((e) => ({ path: "(yaml)", message: e.message.split("\n")[0] ?? e.message })),
    );
  }
  const parsed = scenarioSchema.safeParse(doc.toJS());
  if (!parsed.success) throw new ScenarioError(source, issuesOf(parsed.error));
  return parsed.data;
}

/** Resolves a shipped scenario name (`seed`) or a path (`./x.yaml`) to a file path. */
export function scenarioPath(nameOrPath: string): string {
  if (nameOrPath.includes("/") || extname(nameOrPath) !== "") return nameOrPath;
  return join(SCENARIO_DIR, `${nameOrPath}.yaml`);
}

/** Loads a shipped scenario by name or a scenario file by path. Throws ScenarioError. */
export async function loadScenario(nameOrPath: string): Promise<Scenario> {
  const path = scenarioPath(nameOrPath);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ScenarioError(path, [{ path: "(file)", message: `cannot read: ${(err as Error).message}` }]);
  }
  const scenario = parseScenario(text, path);
  const fileName = basename(path, extname(path));
  if (scenario.name !== fileName && !nameOrPath.includes("/")) {
    throw new ScenarioError(path, [
      { path: "name", message: `is ${scenario.name}, but the file is ${fileName}.yaml` },
    ]);
  }
  return scenario;
}

/** Names of the shipped scenarios (lab/scenarios/*.yaml), sorted. */
export async function listScenarios(dir = SCENARIO_DIR): Promise<string[]> {
  const files = await readdir(dir);
  return files
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => basename(f, ".yaml"))
    .sort();
}

/** The scenario's node groups as `startLab` takes them. */
export function nodeGroupSpecs(scenario: Scenario): NodeGroupSpec[] {
  return scenario.cluster.nodeGroups.map((g) => ({
    name: g.name,
    zone: g.zone,
    count: g.count,
    instanceType: g.instanceType,
    capacityType: g.capacityType,
  }));
}

/** A workload as the lab's `deployment()` fixture builder takes it. */
export function deploymentFixture(w: Workload, extra: Partial<DeploymentFixture> = {}): DeploymentFixture {
  const fixture: DeploymentFixture = {
    name: w.name,
    replicas: w.replicas,
    preStopSeconds: w.preStopSeconds,
    readiness: w.readiness === null ? null : readinessFixture(w.readiness),
    terminationGracePeriodSeconds: w.terminationGracePeriodSeconds,
    cpuRequest: w.cpuRequest,
    timings: { pullSeconds: w.pullSeconds, startSeconds: w.startSeconds, requestMs: w.requestMs },
    onePerNode: w.onePerNode,
    ...extra,
  };
  if (w.nodeGroups !== undefined) fixture.nodeGroups = [...w.nodeGroups];
  return fixture;
}

function readinessFixture(
  r: NonNullable<Workload["readiness"]>,
): NonNullable<DeploymentFixture["readiness"]> {
  const out: NonNullable<DeploymentFixture["readiness"]> = {
    initialDelaySeconds: r.initialDelaySeconds,
    periodSeconds: r.periodSeconds,
    failureThreshold: r.failureThreshold,
  };
  if (r.timeoutSeconds !== undefined) out.timeoutSeconds = r.timeoutSeconds;
  return out;
}
