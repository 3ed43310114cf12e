import type { V1Deployment, V1PodDisruptionBudget, V1Service } from "@kubernetes/client-node";

/** How the lab's pod runtime should animate a workload's pods (pod-template annotations it reads). */
export interface PodTimings {
  /** Image pull delay in seconds (the seed: 10). */
  pullSeconds?: number;
  /** App start until it listens, in seconds. */
  startSeconds?: number;
  /** Service time of one request, in milliseconds. */
  requestMs?: number;
}

export interface DeploymentFixture {
  name: string;
  namespace?: string;
  replicas: number;
  /** preStop `sleep N` seconds; null for none. The seed: 20. */
  preStopSeconds?: number | null;
  /** Readiness probe; null for none. The seed: initialDelay 60, period 10, failureThreshold 2, timeout 10. */
  readiness?: {
    initialDelaySeconds: number;
    periodSeconds: number;
    failureThreshold: number;
    timeoutSeconds?: number;
  } | null;
  terminationGracePeriodSeconds?: number;
  cpuRequest?: string;
  memoryRequest?: string;
  timings?: PodTimings;
  /** Pod readiness gates (e.g. target-health.elbv2.k8s.aws/<binding>). */
  readinessGates?: string[];
  /** Restrict to these node groups (eks.amazonaws.com/nodegroup In ...), like the seed. */
  nodeGroups?: string[];
  /** One pod per node (required anti-affinity on kubernetes.io/hostname). */
  onePerNode?: boolean;
  labels?: Record<string, string>;
}

const HTTP_PORT = 8080;

/** A Deployment shaped like the seed's: an HTTP app on 8080 with preStop, readiness probe and grace period. */
export function deployment(f: DeploymentFixture): V1Deployment {
  const labels = { app: f.name, ...f.labels };
  const annotations: Record<string, string> = {};
  if (f.timings?.pullSeconds !== undefined)
    annotations["lab.lifeboat.dev/pull-seconds"] = String(f.timings.pullSeconds);
  if (f.timings?.startSeconds !== undefined)
    annotations["lab.lifeboat.dev/start-seconds"] = String(f.timings.startSeconds);
  if (f.timings?.requestMs !== undefined)
    annotations["lab.lifeboat.dev/request-ms"] = String(f.timings.requestMs);
  const preStop = f.preStopSeconds === undefined ? 20 : f.preStopSeconds;
  const readiness =
    f.readiness === undefined
      ? { initialDelaySeconds: 60, periodSeconds: 10, failureThreshold: 2, timeoutSeconds: 10 }
      : f.readiness;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: f.name, namespace: f.namespace ?? "default", labels },
    spec: {
      replicas: f.replicas,
      selector: { matchLabels: { app: f.name } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "10%" } },
      template: {
        metadata: { labels, annotations },
        spec: {
          terminationGracePeriodSeconds: f.terminationGracePeriodSeconds ?? 120,
          ...(f.readinessGates === undefined
            ? {}
            : { readinessGates: f.readinessGates.map((conditionType) => ({ conditionType })) }),
          affinity: {
            ...(f.nodeGroups === undefined
              ? {}
              : {
                  nodeAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: {
                      nodeSelectorTerms: [
                        {
                          matchExpressions: [
                            { key: "eks.amazonaws.com/nodegroup", operator: "In", values: f.nodeGroups },
                          ],
                        },
                      ],
                    },
                  },
                }),
            ...(f.onePerNode === true
              ? {
                  podAntiAffinity: {
                    requiredDuringSchedulingIgnoredDuringExecution: [
                      {
                        labelSelector: { matchLabels: { app: f.name } },
                        topologyKey: "kubernetes.io/hostname",
                      },
                    ],
                  },
                }
              : {}),
          },
          containers: [
            {
              name: "app",
              image: "registry.example/app:1.0",
              ports: [{ name: "http", containerPort: HTTP_PORT }],
              resources: { requests: { cpu: f.cpuRequest ?? "250m", memory: f.memoryRequest ?? "256Mi" } },
              ...(preStop === null
                ? {}
                : {
                    lifecycle: { preStop: { exec: { command: ["sh", "-c", `sleep ${preStop} && echo 1`] } } },
                  }),
              ...(readiness === null
                ? {}
                : {
                    readinessProbe: {
                      httpGet: { path: "/api/health", port: HTTP_PORT },
                      successThreshold: 1,
                      initialDelaySeconds: readiness.initialDelaySeconds,
                      periodSeconds: readiness.periodSeconds,
                      failureThreshold: readiness.failureThreshold,
                      timeoutSeconds: readiness.timeoutSeconds ?? 1,
                    },
                  }),
            },
          ],
        },
      },
    },
  };
}

/** A Service in front of a Deployment fixture's pods: ClusterIP, or NodePort for instance-mode target groups. */
export function service(
  name: string,
  namespace = "default",
  type: "ClusterIP" | "NodePort" = "ClusterIP",
): V1Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace },
    spec: { type, selector: { app: name }, ports: [{ name: "http", port: 80, targetPort: HTTP_PORT }] },
  };
}

/** A PodDisruptionBudget over a Deployment fixture's pods. */
export function pdb(
  name: string,
  opts: { minAvailable?: number; maxUnavailable?: number },
  namespace = "default",
): V1PodDisruptionBudget {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name, namespace },
    spec: {
      selector: { matchLabels: { app: name } },
      ...(opts.minAvailable === undefined ? {} : { minAvailable: opts.minAvailable }),
      ...(opts.maxUnavailable === undefined ? {} : { maxUnavailable: opts.maxUnavailable }),
    },
  };
}
