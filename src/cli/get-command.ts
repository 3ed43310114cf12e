import { CustomObjectsApi } from "@kubernetes/client-node";
import type { Command } from "commander";
import { statusOf, toKubeApiError } from "../actuators/kube/errors.ts";
import { systemClock } from "../domain/clock.ts";
import { GROUP, PLURAL, VERSION, type EvacuationResource } from "../state/evacuation-resource.ts";
import { addKubeAccessOptions, checkReachable, loadKubeConfig, type KubeAccessOptions } from "./kube.ts";
import { addOutputOption, columns, render, type OutputFormat } from "./output.ts";

/**
 * `lifeboat get [NAME|NODE...]`: the Evacuations, like `kubectl get evacuations` (the CRD's printer
 * columns: name, node, phase, deadline, slack, age); `-o json|yaml` prints the list as the API returns it.
 */
export function registerGetCommand(program: Command): void {
  const command = program
    .command("get")
    .description("list Evacuations (all, or those named or on the nodes given), newest last")
    .argument("[names...]", "Evacuation or node names to show (default: all)");
  addKubeAccessOptions(command);
  addOutputOption(command);
  command.action(async (names: string[], opts: KubeAccessOptions & { output: OutputFormat }) => {
    const loaded = loadKubeConfig(opts);
    await checkReachable(loaded, systemClock);
    const api = loaded.kubeConfig.makeApiClient(CustomObjectsApi);
    const list = (await api
      .listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })
      .catch((err: unknown) => {
        if (statusOf(err) === 404)
          throw new Error(
            `the Evacuation CRD (${PLURAL}.${GROUP}) is not installed in the cluster at ${loaded.server}: install the lifeboat chart`,
          );
        throw toKubeApiError(err, "list", `${PLURAL}.${GROUP}`);
      })) as { items?: EvacuationResource[] };
    const items = (list.items ?? [])
      .filter((r) => names.length === 0 || names.includes(r.metadata.name) || names.includes(r.spec.nodeName))
      .sort((a, b) => (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? ""));
    const data = { apiVersion: "v1", kind: "List", items };
    process.stdout.write(render(opts.output, data, () => evacuationTable(items, systemClock.now())));
  });
}

/** The table `kubectl get evacuations` prints (the CRD's additionalPrinterColumns of priority 0). */
export function evacuationTable(items: readonly EvacuationResource[], now: number): string[] {
  if (items.length === 0) return ["No Evacuations found."];
  return columns(
    ["NAME", "NODE", "PHASE", "DEADLINE", "SLACK", "AGE"],
    items.map((r) => [
      r.metadata.name,
      r.spec.nodeName,
      r.status?.phase ?? "",
      r.spec.deadline ?? "<none>",
      r.status?.slackSeconds === undefined ? "<none>" : String(r.status.slackSeconds),
      r.metadata.creationTimestamp === undefined
        ? "<unknown>"
        : age(now - Date.parse(r.metadata.creationTimestamp)),
    ]),
  );
}

/** kubectl's short ages: 45s, 3m12s, 5h, 2d3h. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return h < 8 ? `${h}h${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 || d >= 8 ? `${d}d` : `${d}d${h % 24}h`;
}
