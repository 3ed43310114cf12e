/**
 * What a controller test needs around the lab: the lab harness's environment (lab/harness/env.ts: a control
 * plane with spot nodes and a pod runtime, moto with an interruption queue, the Evacuation CRD), with its
 * Evacuations read as the product's own resource type. Plus the reads tests assert on: Evacuations, Ready pods,
 * nodes, Events, queue depth.
 *
 *   await using env = await startControllerLab({ nodeGroups: [...] });
 *   await using controller = await startController(env.handlerContext("/tmp/x.log"));
 */
import type { CoreV1Event, V1Node } from "@kubernetes/client-node";
import { LabEnv, type LabEnvOptions } from "../../lab/harness/env.ts";
import { listEvacuations as listEvacuationObjects } from "../../lab/harness/evacuations.ts";
import { NS } from "../../lab/harness/env.ts";
import { isTerminating, podsOf } from "../../lab/harness/reads.ts";
import type { Lab, LabNode } from "../../lab/lab.ts";
import type { EvacuationResource } from "../../src/state/evacuation-resource.ts";

export { NS, REGION, spotWarningBody } from "../../lab/harness/env.ts";
export { isPodReady, isTerminating, podsOf, readyPodCount } from "../../lab/harness/reads.ts";

export type ControllerLabOptions = LabEnvOptions;

/** The harness's environment, its Evacuations typed as the product writes them. */
export class ControllerLab extends LabEnv {
  override async evacuations(): Promise<EvacuationResource[]> {
    return listEvacuations(this.lab);
  }

  override async evacuationsOf(nodeName: string): Promise<EvacuationResource[]> {
    return (await listEvacuations(this.lab)).filter((e) => e.spec.nodeName === nodeName);
  }
}

/** Starts the lab (pod specs run in real seconds), moto with a queue, and installs the Evacuation CRD. */
export async function startControllerLab(options: ControllerLabOptions): Promise<ControllerLab> {
  return ControllerLab.start(options);
}

export async function listEvacuations(lab: Lab): Promise<EvacuationResource[]> {
  return (await listEvacuationObjects(lab)) as EvacuationResource[];
}

/** Lab nodes (of `group`, when given) holding a non-terminating pod of `app`. */
export async function nodesHolding(lab: Lab, app: string, group?: string): Promise<LabNode[]> {
  const names = new Set(
    (await podsOf(lab, app)).filter((p) => !isTerminating(p)).map((p) => p.spec?.nodeName),
  );
  return lab.nodes.filter((n) => names.has(n.name) && (group === undefined || n.nodeGroup === group));
}

export async function deploymentReplicas(lab: Lab, name: string, namespace = NS): Promise<number> {
  return (await lab.apps.readNamespacedDeployment({ name, namespace })).spec?.replicas ?? NaN;
}

export async function statefulSetReplicas(lab: Lab, name: string, namespace = NS): Promise<number> {
  return (await lab.apps.readNamespacedStatefulSet({ name, namespace })).spec?.replicas ?? NaN;
}

/** Events whose involved object is `name` (of `kind`), optionally of one reason. */
export async function eventsFor(
  lab: Lab,
  kind: string,
  name: string,
  reason?: string,
  namespace = NS,
): Promise<CoreV1Event[]> {
  const all = (
    await lab.core.listNamespacedEvent({
      namespace,
      fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}`,
    })
  ).items;
  return reason === undefined ? all : all.filter((e) => e.reason === reason);
}

/** What an evacuated node must show: cordoned, tainted and labelled out of external load balancers. */
export function evacuationMarks(node: V1Node): {
  unschedulable: boolean;
  taint: string | null;
  excludeLabel: string | null;
} {
  const taint = node.spec?.taints?.find((t) => t.key === "lifeboat.dev/evacuating");
  return {
    unschedulable: node.spec?.unschedulable === true,
    taint: taint === undefined ? null : `${taint.key}:${taint.effect}`,
    excludeLabel: node.metadata?.labels?.["node.kubernetes.io/exclude-from-external-load-balancers"] ?? null,
  };
}

export const EVACUATED_MARKS = {
  unschedulable: true,
  taint: "lifeboat.dev/evacuating:NoSchedule",
  excludeLabel: "true",
} as const;
