import { CustomObjectsApi } from "@kubernetes/client-node";
import type { Command } from "commander";
import { ClusterCache } from "../cluster/cluster-cache.ts";
import { systemClock } from "../domain/clock.ts";
import { isActive } from "../domain/evacuation.ts";
import { foldNotice } from "../executor/fold-notice.ts";
import { silentLogger } from "../observability/logger.ts";
import { DEFAULT_BUDGETS, type Budgets } from "../planner/budgets.ts";
import { describePlan } from "../planner/describe.ts";
import { planEvacuations } from "../planner/planner.ts";
import { DEFAULT_POLICY } from "../planner/policy.ts";
import { manualNotice, parseDeadline } from "../signals/manual/manual.ts";
import { EvacuationStore } from "../state/evacuation-store.ts";
import type { StoredEvacuation } from "../state/evacuation-resource.ts";
import { addKubeAccessOptions, checkReachable, loadKubeConfig, type KubeAccessOptions } from "./kube.ts";
import { addOutputOption, render, type OutputFormat } from "./output.ts";

interface PlanOptions extends KubeAccessOptions {
  deadline: string;
  output: OutputFormat;
  lbPropagationSeconds: string;
  safetyMarginSeconds: string;
  inFlightSeconds: string;
  defaultReadySeconds: string;
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
    )
    .option(
      "--lb-propagation-seconds <s>",
      "load balancer deregistration propagation budget",
      String(DEFAULT_BUDGETS.lbPropagationSeconds),
    )
    .option(
      "--safety-margin-seconds <s>",
      "slack kept before the deadline",
      String(DEFAULT_BUDGETS.safetyMarginSeconds),
    )
    .option(
      "--in-flight-seconds <s>",
      "time for in-flight requests to finish",
      String(DEFAULT_BUDGETS.inFlightSeconds),
    )
    .option(
      "--default-ready-seconds <s>",
      "expected time to Ready when not learned",
      String(DEFAULT_BUDGETS.defaultReadySeconds),
    );
  addKubeAccessOptions(command);
  addOutputOption(command);
  command.action(async (node: string, opts: PlanOptions) => {
    const result = await planFor(node, opts);
    process.stdout.write(render(opts.output, result.data, () => result.lines));
  });
}

function budgetsFromOptions(opts: PlanOptions): Budgets {
  const num = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number >= 0, got '${v}'`);
    return n;
  };
  return {
    ...DEFAULT_BUDGETS,
    lbPropagationSeconds: num("lb-propagation-seconds", opts.lbPropagationSeconds),
    safetyMarginSeconds: num("safety-margin-seconds", opts.safetyMarginSeconds),
    inFlightSeconds: num("in-flight-seconds", opts.inFlightSeconds),
    defaultReadySeconds: num("default-ready-seconds", opts.defaultReadySeconds),
  };
}

async function planFor(nodeName: string, opts: PlanOptions): Promise<{ data: unknown; lines: string[] }> {
  const budgets = budgetsFromOptions(opts);
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
    policy: DEFAULT_POLICY,
  });
  const header = [
    `Plan for node ${nodeName} with a deadline ${Math.round((deadline - now) / 1000)} s from now (${new Date(deadline).toISOString()}):`,
    `budgets: lb propagation ${budgets.lbPropagationSeconds} s, in-flight ${budgets.inFlightSeconds} s, margin ${budgets.safetyMarginSeconds} s, default ready ${budgets.defaultReadySeconds} s`,
  ];
  return {
    data: { node: nodeName, deadline: new Date(deadline).toISOString(), budgets, plan },
    lines: [...header, ...describePlan(plan, now)],
  };
}
