/**
 * The controller's V8 heap flags as the chart gives them in a cluster, for a controller started outside one
 * (the lab, the benches): the chart's `nodeOptions` (values.yaml) with `--max-old-space-size-percentage`
 * resolved against the chart's memory limit, as Node resolves it against the container's cgroup limit. A
 * process on the lab's machine has no such limit (the percentage would be of the machine's memory), so this
 * makes its heap, and so its RSS, the one it has under the chart.
 *
 *   chartNodeOptions() // "--max-old-space-size=281 --max-semi-space-size=8" with the chart's defaults
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

const VALUES = join(import.meta.dirname, "..", "..", "charts", "lifeboat", "values.yaml");

const UNITS: Record<string, number> = {
  "": 1,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  K: 1e3,
  M: 1e6,
  G: 1e9,
};

/** A Kubernetes memory quantity ("512Mi", "1Gi", "600M") in bytes. */
export function memoryBytes(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(quantity.trim());
  const unit = UNITS[m?.[2] ?? ""];
  if (m === null || unit === undefined) throw new Error(`not a memory quantity: ${quantity}`);
  return Number(m[1]) * unit;
}

/** `nodeOptions` with a percentage of the old space replaced by the size Node derives from `limit`. */
export function resolveHeapPercentage(nodeOptions: string, limit: string): string {
  return nodeOptions
    .split(/\s+/)
    .filter((o) => o !== "")
    .map((o) => {
      const m = /^--max-old-space-size-percentage=(\d+(?:\.\d+)?)$/.exec(o);
      if (m === null) return o;
      const mib = Math.floor(((Number(m[1]) / 100) * memoryBytes(limit)) / 2 ** 20);
      return `--max-old-space-size=${mib}`;
    })
    .join(" ");
}

/** The chart's default `nodeOptions`, resolved against its default memory limit. */
export function chartNodeOptions(): string {
  const values = parse(readFileSync(VALUES, "utf8")) as {
    nodeOptions?: string;
    resources?: { limits?: { memory?: string } };
  };
  const limit = values.resources?.limits?.memory;
  const options = values.nodeOptions ?? "";
  if (limit === undefined) return options;
  return resolveHeapPercentage(options, limit);
}
