import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { renderReportHtml } from "./html.ts";
import type { Report } from "./types.ts";

export type * from "./types.ts";
export {
  countInRange,
  countResponses,
  evacuation,
  formatProgress,
  formatSummaryTable,
  handlerReport,
  minReadyRatio,
  minSlack,
  nodeSeconds,
  placeholderCpuSeconds,
  replicaSecondsBelowDesired,
  requestsPerSecond,
} from "./summary.ts";
export type { HandlerObservations, Progress, ResponseSample } from "./summary.ts";
export { renderReportHtml } from "./html.ts";

/** Writes `dir/report.json` and `dir/report.html` (creating `dir`); returns their paths. */
export async function writeReport(dir: string, report: Report): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, "report.json");
  const html = join(dir, "report.html");
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(html, renderReportHtml(report));
  return { json, html };
}
