/**
 * The controller's configuration: one table of fields, each with its zod schema (type, bounds, default), its
 * help text, and the words used when a value is wrong. The CLI flags (`--kebab-case`), the environment
 * variables (`LIFEBOAT_UPPER_SNAKE`), `lifeboat run --help` and docs/flags.md are all derived from this table,
 * so a field cannot be added without being documented.
 */
import { z } from "zod";
import { REBALANCE_POLICIES, parseNodeGroupPolicies } from "./node-groups.ts";
import { HEADROOM_SCOPES } from "../domain/headroom.ts";
import { parseQuantity } from "../cluster/quantity.ts";
import type { NodeGroupPolicies } from "./node-groups.ts";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What the SQS consumer does with a message it will not act on: delete it, or leave it for redrive/DLQ. */
export const MESSAGE_POLICIES = ["keep", "delete"] as const;
export type MessagePolicy = (typeof MESSAGE_POLICIES)[number];

/** A host and port to listen on, parsed from "host:port", ":port" or "[v6]:port". */
export interface ListenAddress {
  host: string;
  port: number;
}

export const FLAG_GROUPS = {
  cluster: "Cluster and identity:",
  sqs: "Signals: SQS (EventBridge) queue:",
  otherSignals: "Signals: node annotation (and lifeboat agent), ASG lifecycle hooks:",
  rebalance: "Rebalance recommendations:",
  budgets: "Evacuation budgets and actions:",
  headroom: "Capacity: headroom, early node, pool steering:",
  leader: "Leader election:",
  endpoints: "Endpoints and logging:",
} as const;

// ---- coercion from the strings that flags and env vars carry -------------------------------------------

function toNumber(raw: unknown): unknown {
  if (typeof raw !== "string") return raw;
  const text = raw.trim();
  return text === "" ? Number.NaN : Number(text);
}

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);

function toBoolean(raw: unknown): unknown {
  if (typeof raw !== "string") return raw;
  const word = raw.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return raw;
}

/** "0.0.0.0:8080", ":8080" (all interfaces), "[::1]:8080", "localhost:0" (any free port). */
export function parseListenAddress(text: string): ListenAddress | null {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (match === null) return null;
  const port = Number(match[3]);
  if (!Number.isInteger(port) || port > 65535) return null;
  const host = match[1] ?? match[2] ?? "";
  return { host: host === "" ? "0.0.0.0" : host, port };
}

// ---- schema builders -----------------------------------------------------------------------------------

export const seconds = (opts: { min: number; exclusive?: boolean; max?: number; default: number }) => {
  let inner = opts.exclusive === true ? z.number().gt(opts.min) : z.number().min(opts.min);
  if (opts.max !== undefined) inner = inner.max(opts.max);
  return z.preprocess(toNumber, inner).default(opts.default);
};

const integer = (opts: { min: number; max: number; default: number }) =>
  z.preprocess(toNumber, z.number().int().min(opts.min).max(opts.max)).default(opts.default);

const boolean = (defaultValue: boolean) => z.preprocess(toBoolean, z.boolean()).default(defaultValue);

export const httpUrl = () => z.url({ protocol: /^https?$/ });

export const listenAddress = (defaultText: string) =>
  z
    .string()
    .transform((text, ctx): ListenAddress => {
      const parsed = parseListenAddress(text);
      if (parsed === null) {
        ctx.addIssue({ code: "custom", message: "expected host:port with a port from 0 to 65535" });
        return z.NEVER;
      }
      return parsed;
    })
    .prefault(defaultText);

/** A Kubernetes quantity ("500m", "1", "2Gi") as a number of base units; "" (the default) means computed. */
const quantityOrComputed = () =>
  z
    .string()
    .transform((text, ctx): number | null => {
      if (text.trim() === "") return null;
      const value = parseQuantity(text);
      if (value === null || value <= 0) {
        ctx.addIssue({ code: "custom", message: "not a quantity > 0" });
        return z.NEVER;
      }
      return value;
    })
    .prefault("");

const nodeGroupMap = () =>
  z
    .string()
    .transform((text, ctx): NodeGroupPolicies => {
      const parsed = parseNodeGroupPolicies(text);
      if (!parsed.ok) {
        for (const problem of parsed.problems) ctx.addIssue({ code: "custom", message: problem });
        return z.NEVER;
      }
      return parsed.value;
    })
    .prefault("");

/** DNS-1123 label (namespaces) and subdomain (lease names). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A label or taint key: optional DNS-subdomain prefix and "/", then a name of at most 63 characters. */
const QUALIFIED_NAME =
  /^(?:(?=.{1,253}\/)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

// ---- the table -----------------------------------------------------------------------------------------

export interface FieldDoc {
  group: (typeof FLAG_GROUPS)[keyof typeof FLAG_GROUPS];
  /** Placeholder in `--help`, e.g. "<seconds>". Booleans take an optional value: `--dry-run[=true|false]`. */
  value: string;
  /** Completes "--flag must be ...", e.g. "a number >= 0". */
  expect: string;
  /** The default as a user would write it, or what happens when unset. */
  defaultText: string;
  /** What the field means. One or two sentences. */
  help: string;
}

const field = <S extends z.ZodType>(schema: S, doc: FieldDoc) => ({ schema, doc });

const G = FLAG_GROUPS;

export const FIELDS = {
  kubeconfig: field(z.string().optional(), {
    group: G.cluster,
    value: "<path>",
    expect: "a file path",
    defaultText: "$KUBECONFIG, ~/.kube/config, in-cluster",
    help: "Kubeconfig file to reach the API server. Unset: $KUBECONFIG when set, else ~/.kube/config when it exists, else the in-cluster service account; when there is none of them, lifeboat exits with code 2 and names each place it looked. An API server that does not answer is logged with its URL and retried.",
  }),
  context: field(z.string().optional(), {
    group: G.cluster,
    value: "<name>",
    expect: "a kubeconfig context name",
    defaultText: "unset: the kubeconfig's current-context",
    help: "The kubeconfig context to use, as kubectl's --context. A context that the kubeconfig does not have exits with code 2 and lists the ones it has.",
  }),
  identity: field(z.string().min(1).max(128).optional(), {
    group: G.cluster,
    value: "<name>",
    expect: "a non-empty string of at most 128 characters",
    defaultText: "hostname + random suffix",
    help: "This replica's identity in the leader Lease and in Events (reportingInstance). The chart sets the pod name.",
  }),
  dryRun: field(boolean(false), {
    group: G.cluster,
    value: "[bool]",
    expect: "true or false",
    defaultText: "false",
    help: "Plan and report (logs, Events with reason DryRun, metrics) but change nothing in the cluster or in AWS: Evacuations and surge ledgers are kept in memory, no ASG lifecycle call is made, SQS messages are left in the queue (never deleted: a dry run acts on none), and leader election is off (no Lease).",
  }),
  kubeApiQps: field(z.preprocess(toNumber, z.number().gt(0).max(10_000)).default(200), {
    group: G.cluster,
    value: "<qps>",
    expect: "a number above 0, at most 10000",
    defaultText: "200",
    help: "Client-side rate limit on requests to the Kubernetes API server, per second on average (client-go's QPS; Karpenter's default): every request, and every watch opened, waits for a token. Leader election, headroom and steering each have a bucket of their own with the same settings; Events one with a quarter of them (beyond 1,000 waiting, an Event is dropped and counted in lifeboat_events_dropped_total). An AZ-wide reclaim costs about a hundred requests per evacuated node of 30 pods (docs/benchmarks.md, Scale).",
  }),
  kubeApiBurst: field(integer({ min: 1, max: 100_000, default: 300 }), {
    group: G.cluster,
    value: "<n>",
    expect: "a whole number from 1 to 100000",
    defaultText: "300",
    help: "Requests the client may send at once above --kube-api-qps before it waits (client-go's Burst; Karpenter's default).",
  }),
  queueUrl: field(httpUrl().optional(), {
    group: G.sqs,
    value: "<url>",
    expect: "an http(s) URL",
    defaultText: "unset: no SQS source",
    help: "SQS queue that EventBridge delivers EC2 interruption, rebalance, state-change, AWS Health and ASG lifecycle events to.",
  }),
  awsRegion: field(
    z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/)
      .default("us-east-1"),
    {
      group: G.sqs,
      value: "<region>",
      expect: "an AWS region name such as us-east-1",
      defaultText: "$AWS_REGION, else us-east-1",
      help: "AWS region of the queue and the Auto Scaling groups.",
    },
  ),
  awsEndpoint: field(httpUrl().optional(), {
    group: G.sqs,
    value: "<url>",
    expect: "an http(s) URL",
    defaultText: "unset: the AWS endpoints",
    help: "Override the AWS API endpoint for SQS and Auto Scaling (moto or localstack in tests).",
  }),
  sqsWaitSeconds: field(integer({ min: 0, max: 20, default: 20 }), {
    group: G.sqs,
    value: "<seconds>",
    expect: "a whole number from 0 to 20",
    defaultText: "20",
    help: "SQS long-poll wait per ReceiveMessage call (SQS allows 0 to 20).",
  }),
  sqsMaxMessages: field(integer({ min: 1, max: 10, default: 10 }), {
    group: G.sqs,
    value: "<n>",
    expect: "a whole number from 1 to 10",
    defaultText: "10",
    help: "Messages per ReceiveMessage call (SQS allows 1 to 10).",
  }),
  sqsConcurrency: field(integer({ min: 1, max: 1000, default: 100 }), {
    group: G.sqs,
    value: "<n>",
    expect: "a whole number from 1 to 1000",
    defaultText: "100",
    help: "The most messages being handled at once (received, not yet recorded and deleted): no receive while this many are, and each receive asks for at most the free slots (and --sqs-max-messages). A notice that only waits for its turn to be recorded (its node already cordoned at receipt) does not hold the next receive back; one still being resolved or cordoned does. An AZ-wide reclaim is a hundred warnings in seconds: each is cordoned at its receipt.",
  }),
  sqsVisibilityTimeoutSeconds: field(integer({ min: 1, max: 43200, default: 15 }), {
    group: G.sqs,
    value: "<seconds>",
    expect: "a whole number from 1 to 43200",
    defaultText: "15",
    help: "VisibilityTimeout asked for on every receive: how long a received message stays hidden from other consumers. While a message is still being handled it is extended by as much every half of it (sqs:ChangeMessageVisibility), so it bounds how long a message held by a replica that dies stays hidden from the next leader. A message kept (not deleted) reappears after it.",
  }),
  malformedMessagePolicy: field(z.enum(MESSAGE_POLICIES).default("keep"), {
    group: G.sqs,
    value: "<keep|delete>",
    expect: "one of keep, delete",
    defaultText: "keep",
    help: "Messages that cannot be parsed: keep them (they reappear and end in the dead-letter queue after maxReceiveCount) or delete them.",
  }),
  unknownMessagePolicy: field(z.enum(MESSAGE_POLICIES).default("delete"), {
    group: G.sqs,
    value: "<delete|keep>",
    expect: "one of keep, delete",
    defaultText: "delete",
    help: "Well-formed events of a kind lifeboat does not handle: delete them, or keep them for the dead-letter queue.",
  }),
  foreignInstancePolicy: field(z.enum(MESSAGE_POLICIES).default("delete"), {
    group: G.sqs,
    value: "<delete|keep>",
    expect: "one of keep, delete",
    defaultText: "delete",
    help: "Events about an instance that is no node of this cluster (a queue shared by clusters): delete, or keep for another consumer.",
  }),
  watchNodeAnnotation: field(boolean(true), {
    group: G.otherSignals,
    value: "[bool]",
    expect: "true or false",
    defaultText: "true",
    help: "Treat the node annotation lifeboat.dev/evacuate as a notice: a deadline written by a person (2m, an RFC 3339 time), or the JSON notice that lifeboat agent (IMDS, one per node) hands over.",
  }),
  asgHeartbeatSeconds: field(seconds({ min: 0, exclusive: true, max: 7200, default: 30 }), {
    group: G.otherSignals,
    value: "<seconds>",
    expect: "a number > 0 and <= 7200",
    defaultText: "30",
    help: "How often RecordLifecycleActionHeartbeat is sent for an ASG terminate hook while its evacuation runs.",
  }),
  rebalancePolicy: field(z.enum(REBALANCE_POLICIES).default("prewarm"), {
    group: G.rebalance,
    value: "<ignore|taint|prewarm|evacuate>",
    expect: "one of ignore, taint, prewarm, evacuate",
    defaultText: "prewarm",
    help: "On a rebalance recommendation: ignore it; taint the node PreferNoSchedule; prewarm (surge replacements now, retire on the warning); or evacuate fully.",
  }),
  rebalancePolicyByNodeGroup: field(nodeGroupMap(), {
    group: G.rebalance,
    value: "<group=policy,...>",
    expect: "a list of group=policy (policy: ignore, taint, prewarm, evacuate)",
    defaultText: "empty",
    help: "Per node group overrides of --rebalance-policy, e.g. 'web-spot=evacuate,batch=ignore'.",
  }),
  prewarmTimeoutSeconds: field(seconds({ min: 0, exclusive: true, default: 1800 }), {
    group: G.rebalance,
    value: "<seconds>",
    expect: "a number > 0",
    defaultText: "1800",
    help: "A prewarm that sees no interruption warning within this time is undone: its surge is retired (scale -k, so the ReplicaSet removes the pre-warmed, lowest deletion cost pods whose replacements run), no pod is evicted (StatefulSet, Job and bare pods stay), and the node is uncordoned.",
  }),
  lbPropagationSeconds: field(seconds({ min: 0, default: 20 }), {
    group: G.budgets,
    value: "<seconds>",
    expect: "a number >= 0",
    defaultText: "20",
    help: "Time for a deregistration to reach the load balancer's data plane (ALB: about 17 to 19 s). A pod is retired at least max(this, its preStop) + in-flight + safety margin before the deadline.",
  }),
  safetyMarginSeconds: field(seconds({ min: 0, default: 10 }), {
    group: G.budgets,
    value: "<seconds>",
    expect: "a number >= 0",
    defaultText: "10",
    help: "Extra time kept before the deadline, since the notice's time is approximate.",
  }),
  inFlightSeconds: field(seconds({ min: 0, default: 5 }), {
    group: G.budgets,
    value: "<seconds>",
    expect: "a number >= 0",
    defaultText: "5",
    help: "Longest request expected in flight: added to the drain budget so requests finish before the host dies.",
  }),
  defaultReadySeconds: field(seconds({ min: 0, default: 90 }), {
    group: G.budgets,
    value: "<seconds>",
    expect: "a number >= 0",
    defaultText: "90",
    help: "Expected time for a replacement pod to become Ready when the workload has no history and no lifeboat.dev/expected-ready-seconds annotation.",
  }),
  deletionCost: field(integer({ min: -2147483648, max: 2147483647, default: -100000 }), {
    group: G.budgets,
    value: "<int>",
    expect: "a whole number in the int32 range",
    defaultText: "-100000",
    help: "controller.kubernetes.io/pod-deletion-cost set on doomed pods so the ReplicaSet removes them first on scale-down.",
  }),
  reconcileIntervalSeconds: field(seconds({ min: 0, exclusive: true, max: 60, default: 2 }), {
    group: G.budgets,
    value: "<seconds>",
    expect: "a number > 0 and <= 60",
    defaultText: "2",
    help: "Longest wait between two re-plans of a running evacuation (cluster changes re-plan sooner).",
  }),
  giveUpAfterSeconds: field(seconds({ min: 0, exclusive: true, default: 900 }), {
    group: G.budgets,
    value: "<seconds>",
    expect: "a number > 0",
    defaultText: "900",
    help: "An evacuation still active this long after its deadline (after its notice when it has none; a waiting prewarm excepted) gives up: its surges are retired or handed back, nothing more is moved, an ASG lifecycle action is completed with CONTINUE, and it ends Failed (Warning EvacuationFailed, outcome failed).",
  }),
  evacuationTtlSeconds: field(seconds({ min: 0, default: 86400 }), {
    group: G.budgets,
    value: "<seconds>",
    expect: "a number >= 0",
    defaultText: "86400",
    help: "A Done or Failed Evacuation resource is deleted this long after it finished, like a Job's ttlSecondsAfterFinished (0: at once).",
  }),
  evacuationTaintKey: field(z.string().regex(QUALIFIED_NAME).default("lifeboat.dev/evacuating"), {
    group: G.budgets,
    value: "<key>",
    expect: "a valid taint key (optional DNS prefix, '/', name of at most 63 characters)",
    defaultText: "lifeboat.dev/evacuating",
    help: "Taint key put on an evacuating node with effect NoSchedule (and PreferNoSchedule for the rebalance 'taint' policy).",
  }),
  excludeFromLoadBalancers: field(boolean(true), {
    group: G.budgets,
    value: "[bool]",
    expect: "true or false",
    defaultText: "true",
    help: "Label an evacuating node node.kubernetes.io/exclude-from-external-load-balancers=true (takes it out of instance-mode target groups).",
  }),
  headroomNodes: field(integer({ min: 0, max: 100, default: 1 }), {
    group: G.headroom,
    value: "<n>",
    expect: "a whole number from 0 to 100",
    defaultText: "1",
    help: "Managed headroom: keep this many spare nodes' worth of room per node group (or zone, --headroom-scope) that runs pods lifeboat surges, held by placeholder pods (a pause container with a PriorityClass below every workload's) that a surge pod preempts and starts in at once; spare nodes already there count. Each placeholder fills a node of its own by its requests, so the cost is up to this many nodes per node group: docs/design.md, Managed headroom. 0 turns it off and removes the placeholders.",
  }),
  headroomScope: field(z.enum(HEADROOM_SCOPES).default("node-group"), {
    group: G.headroom,
    value: "<node-group|zone>",
    expect: "one of node-group, zone",
    defaultText: "node-group",
    help: "Where headroom is kept: per node group (label eks.amazonaws.com/nodegroup, else karpenter.sh/nodepool; right for workloads pinned to a group, as the seed's) or per availability zone (topology.kubernetes.io/zone).",
  }),
  headroomCpu: field(quantityOrComputed(), {
    group: G.headroom,
    value: "<quantity>",
    expect: "a Kubernetes quantity > 0 such as 500m or 2, or empty",
    defaultText: "unset: computed",
    help: "CPU request of one placeholder. Empty: a whole node of the group (its smallest schedulable node's allocatable CPU minus its DaemonSet pods' requests, rounded down to 100m), and never less than the largest node's worth of pods lifeboat surges there.",
  }),
  headroomMemory: field(quantityOrComputed(), {
    group: G.headroom,
    value: "<quantity>",
    expect: "a Kubernetes quantity > 0 such as 512Mi or 2Gi, or empty",
    defaultText: "unset: computed",
    help: "Memory request of one placeholder. Empty: computed like --headroom-cpu (rounded down to 64Mi).",
  }),
  headroomNamespace: field(z.string().regex(DNS_LABEL).default("lifeboat-system"), {
    group: G.headroom,
    value: "<namespace>",
    expect: "a namespace name (DNS label)",
    defaultText: "lifeboat-system",
    help: "Namespace of the placeholder Deployments (lifeboat-headroom-ng-<group> or lifeboat-headroom-zone-<zone>); the chart sets its release namespace.",
  }),
  headroomPriorityClass: field(z.string().regex(DNS_SUBDOMAIN).default("lifeboat-headroom"), {
    group: G.headroom,
    value: "<name>",
    expect: "a PriorityClass name (DNS subdomain)",
    defaultText: "lifeboat-headroom",
    help: "PriorityClass of the placeholders; lifeboat creates it when missing, with --headroom-priority and preemptionPolicy Never (placeholders never preempt anything).",
  }),
  headroomPriority: field(integer({ min: -2147483648, max: -1, default: -10 }), {
    group: G.headroom,
    value: "<int>",
    expect: "a whole number below 0",
    defaultText: "-10",
    help: "Value of the PriorityClass lifeboat creates: below every workload's (pods without a class have 0), and not below cluster-autoscaler's expendable-pods-priority-cutoff (-10), which ignores lower pods when it scales up.",
  }),
  headroomImage: field(
    z
      .string()
      .regex(/^[^\s]+$/)
      .default("registry.k8s.io/pause:3.10"),
    {
      group: G.headroom,
      value: "<image>",
      expect: "a container image reference",
      defaultText: "registry.k8s.io/pause:3.10",
      help: "Image of the placeholder container (it only sleeps).",
    },
  ),
  headroomIntervalSeconds: field(seconds({ min: 0, exclusive: true, max: 3600, default: 15 }), {
    group: G.headroom,
    value: "<seconds>",
    expect: "a number > 0 and <= 3600",
    defaultText: "15",
    help: "How often the headroom is planned again from the cluster and the placeholder Deployments brought in line.",
  }),
  earlyNode: field(boolean(false), {
    group: G.headroom,
    value: "[bool]",
    expect: "true or false",
    defaultText: "false",
    help: "An early node: when a surge finds no room at the notice (headroom placeholders counted as room), raise the doomed node's Auto Scaling group desired capacity by one at once (once per evacuation, up to MaxSize) instead of waiting for the autoscaler to see the Pending pods. Needs autoscaling:DescribeAutoScalingInstances, DescribeAutoScalingGroups, CreateOrUpdateTags and SetDesiredCapacity (docs/aws.md). For ASG-backed node groups (EKS managed node groups, cluster-autoscaler); Karpenter nodes belong to no group and are skipped.",
  }),
  poolSteeringThreshold: field(integer({ min: 0, max: 1000, default: 2 }), {
    group: G.headroom,
    value: "<n>",
    expect: "a whole number from 0 to 1000",
    defaultText: "2",
    help: "Steering away from a pool under reclaim: when this many nodes of one pool (instance type and zone) get notices within --pool-steering-window-seconds, the pool's other nodes are tainted lifeboat.dev/pool-under-reclaim:PreferNoSchedule (value: when it expires) so the scheduler prefers other pools for surges, headroom and new pods; nothing is evicted. 0 turns it off.",
  }),
  poolSteeringWindowSeconds: field(seconds({ min: 0, exclusive: true, default: 300 }), {
    group: G.headroom,
    value: "<seconds>",
    expect: "a number > 0",
    defaultText: "300",
    help: "Window in which --pool-steering-threshold notices of one pool make it a pool under reclaim.",
  }),
  poolSteeringSeconds: field(seconds({ min: 0, exclusive: true, default: 1800 }), {
    group: G.headroom,
    value: "<seconds>",
    expect: "a number > 0",
    defaultText: "1800",
    help: "How long after the latest notice of a burst the pool's nodes keep the PreferNoSchedule taint; then lifeboat removes it.",
  }),
  leaderElect: field(boolean(true), {
    group: G.leader,
    value: "[bool]",
    expect: "true or false",
    defaultText: "true",
    help: "Elect one active replica through a coordination.k8s.io Lease; the others stand by and take over.",
  }),
  leaderElectionNamespace: field(z.string().regex(DNS_LABEL).default("kube-system"), {
    group: G.leader,
    value: "<namespace>",
    expect: "a namespace name (DNS label)",
    defaultText: "kube-system",
    help: "Namespace of the leader Lease (the chart sets its release namespace).",
  }),
  leaseName: field(z.string().regex(DNS_SUBDOMAIN).default("lifeboat"), {
    group: G.leader,
    value: "<name>",
    expect: "a Lease name (DNS subdomain)",
    defaultText: "lifeboat",
    help: "Name of the leader Lease.",
  }),
  leaseDurationSeconds: field(integer({ min: 1, max: 86_400, default: 15 }), {
    group: G.leader,
    value: "<seconds>",
    expect: "a whole number of seconds >= 1 (the Lease stores whole seconds)",
    defaultText: "15",
    help: "How long a standby waits after the last renewal before taking the Lease over.",
  }),
  renewDeadlineSeconds: field(seconds({ min: 0, exclusive: true, default: 10 }), {
    group: G.leader,
    value: "<seconds>",
    expect: "a number > 0",
    defaultText: "10",
    help: "How long the leader keeps trying to renew before it gives up leadership (must be below the lease duration).",
  }),
  retryPeriodSeconds: field(seconds({ min: 0, exclusive: true, default: 2 }), {
    group: G.leader,
    value: "<seconds>",
    expect: "a number > 0",
    defaultText: "2",
    help: "Interval between attempts to acquire or renew the Lease (must be below the renew deadline).",
  }),
  metricsAddr: field(listenAddress("0.0.0.0:8080"), {
    group: G.endpoints,
    value: "<host:port>",
    expect: "host:port",
    defaultText: "0.0.0.0:8080",
    help: "Where /metrics (Prometheus) is served.",
  }),
  healthAddr: field(listenAddress("0.0.0.0:8081"), {
    group: G.endpoints,
    value: "<host:port>",
    expect: "host:port",
    defaultText: "0.0.0.0:8081",
    help: "Where /healthz and /readyz are served. May equal --metrics-addr to serve all three on one port.",
  }),
  logLevel: field(z.enum(LOG_LEVELS).default("info"), {
    group: G.endpoints,
    value: "<level>",
    expect: `one of ${LOG_LEVELS.join(", ")}`,
    defaultText: "info",
    help: "Least severe log level written (JSON lines on stdout).",
  }),
};

export type ConfigKey = keyof typeof FIELDS;

type Shape = { [K in ConfigKey]: (typeof FIELDS)[K]["schema"] };

/** The zod schema of the whole configuration, defaults included (values already coerced from strings). */
export const ConfigSchema = z.object(
  Object.fromEntries(Object.entries(FIELDS).map(([key, f]) => [key, f.schema])) as Shape,
);

type Parsed = z.output<typeof ConfigSchema>;

/** The validated configuration. `identity` is always filled in by loadConfig. */
export type Config = Readonly<Omit<Parsed, "identity"> & { identity: string }>;

export const CONFIG_KEYS = Object.keys(FIELDS) as ConfigKey[];

/** "lbPropagationSeconds" -> "--lb-propagation-seconds" */
export function flagName(key: ConfigKey): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** "lbPropagationSeconds" -> "LIFEBOAT_LB_PROPAGATION_SECONDS" */
export function envName(key: ConfigKey): string {
  return `LIFEBOAT_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}
