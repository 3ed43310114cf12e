/**
 * The scenario file format: cluster shape, workloads, traffic, cloud timings and events. Every timing is in
 * scenario seconds (multiplied by `timeScale` when run); every default is the figure documented in
 * docs/reference.md (each with its public source), and the ones marked GUESS there are marked GUESS here.
 *
 * Time zero of a scenario is the moment traffic starts (after the workloads are Ready and healthy).
 */
import { z } from "zod";

const seconds = z.number().nonnegative();
const positiveSeconds = z.number().positive();
const name = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS-1123 label (lowercase letters, digits, '-')");

/** One EKS managed node group: a fixed desired capacity in one availability zone. */
export const nodeGroupSchema = z.strictObject({
  name,
  /** Availability zone, e.g. us-east-1a. */
  zone: z.string().regex(/^[a-z]{2}-[a-z]+-\d[a-z]$/, "must be an availability zone like us-east-1a"),
  /** Desired capacity: nodes at the start, and the count the group's ASG keeps up. */
  count: z.number().int().nonnegative(),
  /** Default m5.xlarge (allocatable 3920m CPU). */
  instanceType: z.enum(["m5.large", "m5.xlarge", "c5.xlarge"]).default("m5.xlarge"),
  /** Default SPOT. */
  capacityType: z.enum(["SPOT", "ON_DEMAND"]).default("SPOT"),
});

export const clusterSchema = z.strictObject({
  nodeGroups: z.array(nodeGroupSchema).min(1),
  /** How the ALB reaches pods: `ip` (pod IPs, the best practice) or `instance` (NodePort on every node). Default ip. */
  albTargetType: z.enum(["ip", "instance"]).default("ip"),
});

export const readinessSchema = z.strictObject({
  initialDelaySeconds: seconds,
  periodSeconds: positiveSeconds,
  failureThreshold: z.number().int().positive(),
  /** Default 1 (the Kubernetes default). */
  timeoutSeconds: positiveSeconds.optional(),
});

export const pdbSchema = z
  .strictObject({
    minAvailable: z.number().int().nonnegative().optional(),
    maxUnavailable: z.number().int().nonnegative().optional(),
  })
  .refine(
    (p) => (p.minAvailable === undefined) !== (p.maxUnavailable === undefined),
    "set exactly one of minAvailable, maxUnavailable",
  );

/** A Deployment behind a Service behind the ALB. Defaults are the seed's Deployment. */
export const workloadSchema = z.strictObject({
  name,
  replicas: z.number().int().positive(),
  /** preStop `sleep N`; null for no preStop hook. Default 20 (the seed). */
  preStopSeconds: seconds.nullable().default(20),
  /** Readiness probe; null for none. Default the seed's: initialDelay 60, period 10, failureThreshold 2. */
  readiness: readinessSchema
    .nullable()
    .default({ initialDelaySeconds: 60, periodSeconds: 10, failureThreshold: 2, timeoutSeconds: 10 }),
  /** Default 120 (the seed). */
  terminationGracePeriodSeconds: seconds.default(120),
  /** Image pull delay. Default 10 (the seed). */
  pullSeconds: seconds.default(10),
  /** App start until it listens. Default 20 (GUESS: a JVM app; the seed's probe waits 60 s). */
  startSeconds: seconds.default(20),
  /** Service time of one request, ms. Default 50 (GUESS). */
  requestMs: z.number().nonnegative().default(50),
  /** Pin to these node groups (node affinity on eks.amazonaws.com/nodegroup); default any group. */
  nodeGroups: z.array(name).min(1).optional(),
  /** Required anti-affinity on kubernetes.io/hostname: at most one pod per node. Default false. */
  onePerNode: z.boolean().default(false),
  /** CPU request, Kubernetes quantity. Default 250m. */
  cpuRequest: z
    .string()
    .regex(/^\d+(\.\d+)?m?$/, "must be a CPU quantity like 500m or 1")
    .default("250m"),
  pdb: pdbSchema.optional(),
});

export const trafficSchema = z.strictObject({
  /** Open-loop requests per second through the ALB. */
  rps: z.number().positive(),
  /** Length of the measured run, from time zero. */
  durationSeconds: positiveSeconds,
  /** Traffic before the first event may happen; events must come at or after it. Default 10. */
  warmupSeconds: seconds.default(10),
});

export const autoscalerSchema = z.strictObject({
  /** Default true. */
  enabled: z.boolean().default(true),
  /** Upper bound of a group's size, nodes. Default 10. */
  maxNodesPerGroup: z.number().int().positive().default(10),
  /** Time from a pod turning Pending/Unschedulable to the scale-up request (cluster-autoscaler scan interval 10 s). Default 10. */
  reactSeconds: seconds.default(10),
});

export const cloudSchema = z.strictObject({
  /** Launch until the node is Ready in the cluster. Default 70 (the seed). */
  nodeJoinSeconds: seconds.default(70),
  /** EventBridge -> SQS delivery delay. Default 2 (GUESS). */
  eventDeliverySeconds: seconds.default(2),
  /** Interruption warning to termination. Default 120 (EC2). */
  noticeLeadSeconds: positiveSeconds.default(120),
  /** After the instance dies, connections are refused (RST) this long, then silently dropped. Default 5 (GUESS). */
  refuseSeconds: seconds.default(5),
  /** Shutting-down to terminated state-change notifications. Default 30 (GUESS). */
  terminatedAfterSeconds: seconds.default(30),
  /**
   * The cloud node-lifecycle controller deletes a Node whose instance is gone once it is not Ready; it checks
   * every 5 s (node-monitor-period). Default true.
   */
  deleteTerminatedNodes: z.boolean().default(true),
  autoscaler: autoscalerSchema.prefault({}),
});

/** Which nodes an event hits. With neither count nor share: one node. */
export const nodeSelectorSchema = z
  .strictObject({
    group: name.optional(),
    zone: z.string().optional(),
    count: z.number().int().positive().optional(),
    /** Fraction of the matching nodes, rounded up. */
    share: z.number().gt(0).lte(1).optional(),
  })
  .refine((s) => s.count === undefined || s.share === undefined, "set count or share, not both");

export const spotReclaimEventSchema = z.strictObject({
  /** When EC2 issues the interruption warning, scenario seconds. */
  at: seconds,
  kind: z.literal("spot-reclaim"),
  nodes: nodeSelectorSchema.prefault({}),
});

export const rebalanceEventSchema = z.strictObject({
  at: seconds,
  kind: z.literal("rebalance"),
  nodes: nodeSelectorSchema.prefault({}),
  /** When set, the same nodes get a spot interruption warning this long after the recommendation. */
  reclaimAfterSeconds: seconds.optional(),
});

export const azReclaimEventSchema = z.strictObject({
  at: seconds,
  kind: z.literal("az-reclaim"),
  zone: z.string(),
  /** Fraction of the zone's nodes reclaimed at once, rounded up. */
  share: z.number().gt(0).lte(1),
});

/**
 * Someone else scales a workload: spec.replicas set to `replicas` through the scale subresource, as an HPA
 * or `kubectl scale` does (not a cloud event: the runner applies it to the Deployment).
 */
export const scaleEventSchema = z.strictObject({
  at: seconds,
  kind: z.literal("scale"),
  /** The workload's name (one of `workloads`). */
  workload: name,
  replicas: z.number().int().nonnegative(),
});

/**
 * Someone else starts a rollout: a new pod template (the annotation `kubectl rollout restart` writes), so the
 * Deployment runs two ReplicaSets until the rollout finishes.
 */
export const rolloutEventSchema = z.strictObject({
  at: seconds,
  kind: z.literal("rollout"),
  /** The workload's name (one of `workloads`). */
  workload: name,
});

/** Events the cloud simulator plays (reclaims, rebalance recommendations). */
export const cloudEventSchema = z.discriminatedUnion("kind", [
  spotReclaimEventSchema,
  rebalanceEventSchema,
  azReclaimEventSchema,
]);

/** Events the runner applies to a workload, as another party would (an HPA, a person, a CD pipeline). */
export const workloadEventSchema = z.discriminatedUnion("kind", [scaleEventSchema, rolloutEventSchema]);

export const eventSchema = z.discriminatedUnion("kind", [
  spotReclaimEventSchema,
  rebalanceEventSchema,
  azReclaimEventSchema,
  scaleEventSchema,
  rolloutEventSchema,
]);

/** What the end-to-end test may assert for one handler. */
export const expectationSchema = z.strictObject({
  min5xx: z.number().int().nonnegative().optional(),
  max5xx: z.number().int().nonnegative().optional(),
  minReadyRatioAtLeast: z.number().nonnegative().optional(),
  /** For handlers expected to lose capacity (nth: evicts at the notice). */
  minReadyRatioAtMost: z.number().nonnegative().optional(),
  /** Where the 5xx responses should fall, scenario seconds [from, to]. */
  errorWindow: z.tuple([seconds, seconds]).optional(),
  /** Why: shown when the expectation fails. */
  reason: z.string().optional(),
});

export const handlerNameSchema = z.enum(["none", "nth", "nth-tuned", "lifeboat"]);

export const scenarioSchema = z
  .strictObject({
    name,
    description: z.string().min(1),
    /** Default time scale (1.0 is real time, the benchmark; 0.25 runs four times faster). Default 1. */
    timeScale: z.number().positive().lte(1).default(1),
    cluster: clusterSchema,
    workloads: z.array(workloadSchema).min(1),
    traffic: trafficSchema,
    cloud: cloudSchema.prefault({}),
    events: z.array(eventSchema).min(1),
    expect: z.partialRecord(handlerNameSchema, expectationSchema).default({}),
  })
  .superRefine((s, ctx) => {
    const groups = new Map(s.cluster.nodeGroups.map((g) => [g.name, g]));
    const zones = new Set(s.cluster.nodeGroups.map((g) => g.zone));
    if (groups.size !== s.cluster.nodeGroups.length) {
      ctx.addIssue({
        code: "custom",
        path: ["cluster", "nodeGroups"],
        message: "node group names must be unique",
      });
    }
    s.workloads.forEach((w, i) => {
      w.nodeGroups?.forEach((g, j) => {
        if (!groups.has(g))
          ctx.addIssue({
            code: "custom",
            path: ["workloads", i, "nodeGroups", j],
            message: `no node group named ${g}`,
          });
      });
    });
    s.events.forEach((e, i) => {
      const deadline = lastMomentOf(e, s.cloud.noticeLeadSeconds);
      if (e.at < s.traffic.warmupSeconds) {
        ctx.addIssue({
          code: "custom",
          path: ["events", i, "at"],
          message: `must be at or after traffic.warmupSeconds (${s.traffic.warmupSeconds})`,
        });
      }
      if (deadline > s.traffic.durationSeconds) {
        ctx.addIssue({
          code: "custom",
          path: ["events", i, "at"],
          message: `its reclaim deadline (${deadline} s) falls after traffic.durationSeconds (${s.traffic.durationSeconds})`,
        });
      }
      if (e.kind === "scale" || e.kind === "rollout") {
        if (!s.workloads.some((w) => w.name === e.workload))
          ctx.addIssue({
            code: "custom",
            path: ["events", i, "workload"],
            message: `no workload named ${e.workload}`,
          });
      } else if (e.kind === "az-reclaim") {
        if (!zones.has(e.zone))
          ctx.addIssue({
            code: "custom",
            path: ["events", i, "zone"],
            message: `no node group in zone ${e.zone}`,
          });
      } else {
        if (e.nodes.group !== undefined && !groups.has(e.nodes.group)) {
          ctx.addIssue({
            code: "custom",
            path: ["events", i, "nodes", "group"],
            message: `no node group named ${e.nodes.group}`,
          });
        }
        if (e.nodes.zone !== undefined && !zones.has(e.nodes.zone)) {
          ctx.addIssue({
            code: "custom",
            path: ["events", i, "nodes", "zone"],
            message: `no node group in zone ${e.nodes.zone}`,
          });
        }
      }
    });
  });

/**
 * The last scenario second an event acts (a node's reclaim deadline, the recommendation itself, the moment a
 * workload is scaled or rolled out).
 */
export function lastMomentOf(e: ScenarioEvent, noticeLeadSeconds: number): number {
  switch (e.kind) {
    case "scale":
    case "rollout":
      return e.at;
    case "spot-reclaim":
    case "az-reclaim":
      return e.at + noticeLeadSeconds;
    case "rebalance":
      return e.reclaimAfterSeconds === undefined ? e.at : e.at + e.reclaimAfterSeconds + noticeLeadSeconds;
  }
}

export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;
export type NodeGroup = z.output<typeof nodeGroupSchema>;
export type Workload = z.output<typeof workloadSchema>;
export type Traffic = z.output<typeof trafficSchema>;
export type CloudSettings = z.output<typeof cloudSchema>;
export type AutoscalerSettings = z.output<typeof autoscalerSchema>;
export type NodeSelector = z.output<typeof nodeSelectorSchema>;
export type ScenarioEvent = z.output<typeof eventSchema>;
export type SpotReclaimEvent = z.output<typeof spotReclaimEventSchema>;
export type RebalanceEvent = z.output<typeof rebalanceEventSchema>;
export type AzReclaimEvent = z.output<typeof azReclaimEventSchema>;
export type ScaleEvent = z.output<typeof scaleEventSchema>;
export type RolloutEvent = z.output<typeof rolloutEventSchema>;
export type CloudEvent = z.output<typeof cloudEventSchema>;
export type WorkloadEvent = z.output<typeof workloadEventSchema>;

export function isWorkloadEvent(e: ScenarioEvent): e is WorkloadEvent {
  return e.kind === "scale" || e.kind === "rollout";
}
export type Expectation = z.output<typeof expectationSchema>;
export type HandlerName = z.output<typeof handlerNameSchema>;
