/**
 * How traffic reaches the lab's workloads: the ALB simulator with one target group per workload (its Service
 * on port 80, host `<name>.lab`, health check /api/health) and, for instance-mode targets (node IP +
 * NodePort), the lab's kube-proxy forwarding to the Service's pods.
 */
import { startAlb, type Alb, type AlbOptions } from "../alb/alb.ts";
import type { Lab } from "../lab.ts";
import { NS } from "./env.ts";
import { LabKubeProxy } from "./kube-proxy.ts";

export interface FrontDoorOptions {
  workloads: readonly { name: string }[];
  targetType: "ip" | "instance";
  timeScale: number;
  onTargetEvent?: AlbOptions["onTargetEvent"];
}

export interface FrontDoor extends AsyncDisposable {
  readonly alb: Alb;
  readonly proxy: LabKubeProxy;
}

/** Starts the kube-proxy and the ALB; dispose to stop both (the ALB first). */
export async function startFrontDoor(lab: Lab, options: FrontDoorOptions): Promise<FrontDoor> {
  const proxy = new LabKubeProxy({
    kubeConfig: lab.kubeConfig,
    core: lab.core,
    resolvePod: (ip, port) => lab.runtime.resolve(ip, port),
    isNodeDead: (n) => lab.runtime.isNodeDead(n),
  });
  try {
    await proxy.start();
    const alb = await startAlb({
      ...(options.onTargetEvent === undefined ? {} : { onTargetEvent: options.onTargetEvent }),
      kubeConfig: lab.kubeConfig,
      resolve: proxy.resolve,
      bindings: options.workloads.map((w) => ({
        name: w.name,
        namespace: NS,
        serviceName: w.name,
        servicePort: 80,
        targetType: options.targetType,
        host: `${w.name}.lab`,
        healthCheck: { path: "/api/health" },
      })),
      timeScale: options.timeScale,
    });
    return {
      alb,
      proxy,
      [Symbol.asyncDispose]: async () => {
        await alb[Symbol.asyncDispose]();
        await proxy[Symbol.asyncDispose]();
      },
    };
  } catch (err) {
    await proxy[Symbol.asyncDispose]();
    throw err;
  }
}

/** Whether every workload's target group has at least its replicas healthy. */
export function targetsHealthy(alb: Alb, workloads: readonly { name: string; replicas: number }[]): boolean {
  return workloads.every((w) => {
    const health = alb.targetGroups.get(w.name)?.describeTargetHealth() ?? [];
    return health.filter((h) => h.state === "healthy").length >= w.replicas;
  });
}
