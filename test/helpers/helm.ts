/**
 * Helm (built from its pinned Go module by lab/setup/build-helm.sh) run on the repository's charts, with its
 * config, cache and data dirs in a temp dir so that tests never touch the user's Helm setup.
 *
 *   const objects = await renderChart("lifeboat", { namespace: "lifeboat-system", values: { replicaCount: 3 } });
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { helmBinary } from "../../lab/controlplane/binaries.ts";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..");

export const chartDir = (name: "lifeboat" | "lifeboat-crd"): string => join(ROOT, "charts", name);

/** One rendered Kubernetes object (only what the tests read is typed). */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

/** A failed helm command: its exit code and what it wrote to stderr. */
export class HelmError extends Error {
  readonly stderr: string;
  constructor(args: string[], stderr: string) {
    super(`helm ${args.join(" ")} failed: ${stderr.trim()}`);
    this.name = "HelmError";
    this.stderr = stderr;
  }
}

/** Runs helm with `args`; resolves to its stdout, or rejects with a HelmError carrying stderr. */
export async function helm(args: string[]): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), "lifeboat-helm-"));
  try {
    const { stdout } = await run(helmBinary(), args, {
      maxBuffer: 32 * 1024 * 1024,
      env: {
        PATH: process.env["PATH"] ?? "",
        HOME: home,
        HELM_CONFIG_HOME: join(home, "config"),
        HELM_CACHE_HOME: join(home, "cache"),
        HELM_DATA_HOME: join(home, "data"),
      },
    });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? String(err);
    throw new HelmError(args, stderr);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  /** Values, written to a values file and passed with -f. */
  values?: Record<string, unknown>;
  /** Also render the chart's crds/ folder. Default true. */
  includeCrds?: boolean;
}

/** `helm template` of a chart of this repository: the rendered YAML text. */
export async function templateChart(
  name: "lifeboat" | "lifeboat-crd",
  options: RenderOptions = {},
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "lifeboat-values-"));
  try {
    const valuesPath = join(dir, "values.json");
    await writeFile(valuesPath, JSON.stringify(options.values ?? {}));
    return await helm([
      "template",
      options.release ?? "lifeboat",
      chartDir(name),
      "--namespace",
      options.namespace ?? "lifeboat-system",
      "-f",
      valuesPath,
      ...(options.includeCrds === false ? [] : ["--include-crds"]),
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `helm template` parsed into objects (empty documents dropped). */
export async function renderChart(
  name: "lifeboat" | "lifeboat-crd",
  options: RenderOptions = {},
): Promise<Manifest[]> {
  return parseManifests(await templateChart(name, options));
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`rendered YAML does not parse: ${d.errors[0]?.message}`);
      return d.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}

/** The one object of `kind` (and `name`, when given); fails when there is not exactly one. */
export function only(objects: Manifest[], kind: string, name?: string): Manifest {
  const hits = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (hits.length !== 1)
    throw new Error(`expected one ${kind}${name === undefined ? "" : ` ${name}`}, rendered ${hits.length}`);
  return hits[0]!;
}
