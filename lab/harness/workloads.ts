/**
 * A scenario's workloads in the lab: each a Deployment whose pod spec is written in real (scaled) seconds, so
 * that a handler reading a pod's preStop or probe sees exactly what the pod runtime will do, a Service for
 * the ALB simulator to reach it through, and its PodDisruptionBudget.
 */
import type { Lab } from "../lab.ts";
import { deploymentFixture, type Workload } from "../scenarios/load.ts";
import { deployment, pdb, service, type DeploymentFixture } from "../workloads.ts";
import { NS } from "./env.ts";

/**
 * A workload's pod spec in real seconds at `timeScale`: preStop, probe timings, grace period, pull, start and
 * request times multiplied by it (probe fields rounded to whole seconds, at least 1, as the API requires).
 */
export function scaledFixture(f: DeploymentFixture, timeScale: number): DeploymentFixture {
  const s = (x: number): number => Math.round(x * timeScale * 100) / 100;
  const whole = (x: number, min: number): number => Math.max(min, Math.round(x * timeScale));
  const out: DeploymentFixture = { ...f };
  if (f.preStopSeconds !== undefined && f.preStopSeconds !== null) out.preStopSeconds = s(f.preStopSeconds);
  if (f.readiness !== undefined && f.readiness !== null) {
    out.readiness = {
      initialDelaySeconds: whole(f.readiness.initialDelaySeconds, 0),
      periodSeconds: whole(f.readiness.periodSeconds, 1),
      failureThreshold: f.readiness.failureThreshold,
      ...(f.readiness.timeoutSeconds === undefined
        ? {}
        : { timeoutSeconds: whole(f.readiness.timeoutSeconds, 1) }),
    };
  }
  if (f.terminationGracePeriodSeconds !== undefined)
    out.terminationGracePeriodSeconds = whole(f.terminationGracePeriodSeconds, 1);
  if (f.timings !== undefined) {
    out.timings = {
      ...(f.timings.pullSeconds === undefined ? {} : { pullSeconds: s(f.timings.pullSeconds) }),
      ...(f.timings.startSeconds === undefined ? {} : { startSeconds: s(f.timings.startSeconds) }),
      ...(f.timings.requestMs === undefined ? {} : { requestMs: s(f.timings.requestMs) }),
    };
  }
  return out;
}

/**
 * Creates each workload's Deployment (scaled to `timeScale`), its Service of `serviceType` (NodePort for
 * instance-mode targets) and its PodDisruptionBudget if it has one, in the lab's namespace. Returns the
 * desired replicas by workload name.
 */
export async function deployWorkloads(
  lab: Lab,
  workloads: readonly Workload[],
  timeScale: number,
  serviceType: "NodePort" | "ClusterIP",
): Promise<Map<string, number>> {
  const desired = new Map<string, number>();
  for (const w of workloads) {
    desired.set(w.name, w.replicas);
    await lab.apps.createNamespacedDeployment({
      namespace: NS,
      body: deployment(scaledFixture(deploymentFixture(w), timeScale)),
    });
    await lab.core.createNamespacedService({ namespace: NS, body: service(w.name, NS, serviceType) });
    if (w.pdb !== undefined) {
      const spec: { minAvailable?: number; maxUnavailable?: number } = {};
      if (w.pdb.minAvailable !== undefined) spec.minAvailable = w.pdb.minAvailable;
      if (w.pdb.maxUnavailable !== undefined) spec.maxUnavailable = w.pdb.maxUnavailable;
      await lab.policy.createNamespacedPodDisruptionBudget({ namespace: NS, body: pdb(w.name, spec) });
    }
  }
  return desired;
}

/** Whether every Deployment in `desired` has at least its desired replicas Ready. */
export async function workloadsReady(lab: Lab, desired: ReadonlyMap<string, number>): Promise<boolean> {
  for (const [name, want] of desired) {
    const d = await lab.apps.readNamespacedDeployment({ name, namespace: NS });
    if ((d.status?.readyReplicas ?? 0) < want) return false;
  }
  return true;
}
