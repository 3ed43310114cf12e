import { CustomObjectsApi } from "@kubernetes/client-node";
import type { Command } from "commander";
import { ClusterCache } from "../cluster/cluster-cache.ts";
import { registerRunFlags } from "../config/flags.ts";
import { loadConfig } from "../config/load.ts";
import { budgetsFrom, policyFrom } from "../config/plan-settings.ts";
import { FLAG_GROUPS } from "../config/schema.ts";
import { systemClock } from "../domain/clock.ts";
import { isActive } from "../domain/evacuation.ts";
import { foldNotice } from "../planner/fold-notice.ts";
import { silentLogger } from "../observability/logger.ts";
import { describePlan } from "../planner/describe.ts";
import { planEvacuations } from "../planner/planner.ts";
import { manualNotice, parseDeadline } from "../signals/manual/manual.ts";
import { EvacuationStore } from "../state/evacuation-store.ts";
import type { StoredEvacuation } from "../state/evacuation-resource.ts";
import { addKubeAccessOptions, checkReachable, loadKubeConfig, type KubeAccessOptions } from "./kube.ts";
import { addOutputOption, render, type OutputFormat } from "./output.ts";

interface PlanOptions extends KubeAccessOptions {
  deadline: string;
  output: OutputFormat;
  /** The budgets group of `lifeboat run`'s flags, by config key. */
  [key: string]: unknown;
}

/** `lifeboat plan NODE`: what lifeboat would do for a notice on NODE now, and why. Changes nothing. */
export function registerPlanCommand(program: Command): void {
  const command = program
    .command("plan")
    .description(
      "print what lifeboat would do, step by step and why, if NODE got an interruption notice now (read-only)",
    )
    .argument("<node>", "node name")
    .option(
      "--deadline <when>",
      'the hypothetical deadline: "now", a duration ("2m") or an RFC 3339 time',
      "2m",
    );
  // The same budget and action flags as `lifeboat run` (names, env vars, defaults, checks): a plan made
  // with the settings of the installed controller is the plan that controller would make.
  registerRunFlags(command, [FLAG_GROUPS.budgets]);
  addKubeAccessOptions(command);
  addOutputOption(command);
  command.action(async (node: string, opts: PlanOptions) => {
    const result = await planFor(node, opts);
    process.stdout.write(render(opts.output, result.data, () => result.lines));
  });
}

async function planFor(nodeName: string, opts: PlanOptions): Promise<{ data: unknown; lines: string[] }> {
  const config = loadConfig(opts, process.env);
  const budgets = budgetsFrom(config);
  const policy = policyFrom(config);
  const now = systemClock.now();
  const deadline = parseDeadline(opts.deadline, now);
  const loaded = loadKubeConfig(opts);
  await checkReachable(loaded, systemClock);
  const { kubeConfig } = loaded;
  await using cache = new ClusterCache({ kubeConfig, clock: systemClock, log: silentLogger() });
  await cache.start();
  await cache.synced;
  const node = cache.nodeByName(nodeName);
  if (node === null) throw new Error(`node ${nodeName} not found`);
  // No CRD installed or no permission to read it: plan as if nothing were running.
  const existing: StoredEvacuation[] = await new EvacuationStore(
    kubeConfig.makeApiClient(CustomObjectsApi),
    systemClock,
  )
    .list()
    .catch(() => []);
  const active = existing.find((s) => s.evacuation.nodeName === nodeName && isActive(s.evacuation)) ?? null;
  const notice = manualNotice({ nodeName, deadlineMs: deadline, now, requestId: "plan" });
  const folded = foldNotice(
    active,
    notice,
    { name: node.name, instanceId: node.instanceId, nodeGroup: node.nodeGroup },
    { rebalancePolicy: "prewarm", rebalancePolicyByNodeGroup: {} },
    now,
  );
  const evacuations = existing.filter((s) => s !== active).map((s) => s.evacuation);
  if (folded.kind === "create" || folded.kind === "update") evacuations.push(folded.stored.evacuation);
  else if (active !== null) evacuations.push(active.evacuation);
  const plan = planEvacuations({
    snapshot: cache.snapshot(now),
    evacuations,
    now,
    budgets,
    policy,
  });
  const header = [
    `Plan for node ${nodeName} with a deadline ${Math.round((deadline - now) / 1000)} s from now (${new Date(deadline).toISOString()}):`,
    `budgets: lb propagation ${budgets.lbPropagationSeconds} s, in-flight ${budgets.inFlightSeconds} s, margin ${budgets.safetyMarginSeconds} s, default ready ${budgets.defaultReadySeconds} s`,
    `marks: taint ${policy.taintKey}:NoSchedule${policy.excludeFromLb ? ", label node.kubernetes.io/exclude-from-external-load-balancers=true" : ""}`,
  ];
  return {
    data: { node: nodeName, deadline: new Date(deadline).toISOString(), budgets, policy, plan },
    lines: [...header, ...describePlan(plan, now)],
  };
}
