/**
 * The scale bench's workloads: Deployments of varied size (3 to 60 replicas; every third with a
 * PodDisruptionBudget, every tenth with preferred anti-affinity on the hostname) and a few StatefulSets,
 * created as Deployments/StatefulSets so that the real controller-manager and scheduler make and place the
 * pods (KWOK plays them: Ready as soon as bound).
 */
import type { V1Pod, V1PodTemplateSpec } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { NS } from "../../lab/harness/env.ts";
import type { Lab } from "../../lab/lab.ts";

const DEPLOYMENT_SIZES = [3, 5, 10, 20, 40, 60] as const;
const STATEFULSET_REPLICAS = 5;

export interface WorkloadPlan {
  kind: "Deployment" | "StatefulSet";
  name: string;
  replicas: number;
  pdb: boolean;
  antiAffinity: boolean;
}

/** Deployments of varied size and a few StatefulSets, `total` pods in all. */
export function planWorkloads(total: number, nodes: number): WorkloadPlan[] {
  const out: WorkloadPlan[] = [];
  const statefulSets = Math.max(3, Math.round(nodes / 100));
  for (let i = 0; i < statefulSets; i++)
    out.push({
      kind: "StatefulSet",
      name: `db-${i}`,
      replicas: STATEFULSET_REPLICAS,
      pdb: true,
      antiAffinity: true,
    });
  let left = total - statefulSets * STATEFULSET_REPLICAS;
  for (let i = 0; left > 0; i++) {
    const replicas = Math.min(left, DEPLOYMENT_SIZES[i % DEPLOYMENT_SIZES.length] ?? 10);
    out.push({
      kind: "Deployment",
      name: `app-${i}`,
      replicas,
      pdb: i % 3 === 0,
      antiAffinity: i % 10 === 0,
    });
    left -= replicas;
  }
  return out;
}

function podTemplate(w: WorkloadPlan): V1PodTemplateSpec {
  return {
    metadata: { labels: { app: w.name, bench: "scale" } },
    spec: {
      containers: [
        {
          name: "app",
          image: "lab/app:1",
          resources: { requests: { cpu: "100m", memory: "128Mi" } },
          // What an ALB-fronted app carries (the seed's): a preStop sleep as long as the deregistration takes.
          // KWOK runs no preStop; the planner reads it for the last responsible moment.
          lifecycle: { preStop: { sleep: { seconds: 20 } } },
        },
      ],
      terminationGracePeriodSeconds: 30,
      ...(w.antiAffinity
        ? {
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  {
                    weight: 100,
                    podAffinityTerm: {
                      topologyKey: "kubernetes.io/hostname",
                      labelSelector: { matchLabels: { app: w.name } },
                    },
                  },
                ],
              },
            },
          }
        : {}),
    },
  };
}

export async function createWorkloads(lab: Lab, plan: readonly WorkloadPlan[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < plan.length) {
      const w = plan[next++];
      if (w === undefined) return;
      const selector = { matchLabels: { app: w.name } };
      if (w.kind === "Deployment") {
        await lab.apps.createNamespacedDeployment({
          namespace: NS,
          body: {
            metadata: { name: w.name, labels: { bench: "scale" } },
            spec: { replicas: w.replicas, selector, template: podTemplate(w) },
          },
        });
      } else {
        await lab.apps.createNamespacedStatefulSet({
          namespace: NS,
          body: {
            metadata: { name: w.name, labels: { bench: "scale" } },
            spec: {
              replicas: w.replicas,
              serviceName: w.name,
              podManagementPolicy: "Parallel",
              selector,
              template: podTemplate(w),
            },
          },
        });
      }
      if (w.pdb) {
        await lab.policy.createNamespacedPodDisruptionBudget({
          namespace: NS,
          body: { metadata: { name: w.name }, spec: { maxUnavailable: 1, selector } },
        });
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

/** Every pod, paged (30,000 pods in one response is a few hundred MB of JSON). */
export async function listPods(lab: Lab): Promise<V1Pod[]> {
  const out: V1Pod[] = [];
  let cont: string | undefined;
  do {
    const page = await lab.core.listNamespacedPod({
      namespace: NS,
      limit: 2000,
      ...(cont === undefined ? {} : { _continue: cont }),
    });
    out.push(...page.items);
    cont = page.metadata?._continue;
  } while (cont !== undefined && cont !== "");
  return out;
}

export async function waitForPods(
  lab: Lab,
  total: number,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<void> {
  const start = performance.now();
  let lastLog = 0;
  for (;;) {
    const [deployments, statefulSets] = await Promise.all([
      lab.apps.listNamespacedDeployment({ namespace: NS }),
      lab.apps.listNamespacedStatefulSet({ namespace: NS }),
    ]);
    const ready =
      deployments.items.reduce((n, d) => n + (d.status?.readyReplicas ?? 0), 0) +
      statefulSets.items.reduce((n, s) => n + (s.status?.readyReplicas ?? 0), 0);
    if (ready >= total) return;
    const elapsed = performance.now() - start;
    if (elapsed > timeoutMs)
      throw new Error(`only ${ready} of ${total} pods Ready after ${timeoutMs / 1000} s`);
    if (elapsed - lastLog > 15_000) {
      lastLog = elapsed;
      log(`${ready}/${total} pods Ready (${(elapsed / 1000).toFixed(0)} s)`);
    }
    lab.controlPlane.assertRunning();
    await sleep(3_000);
  }
}
