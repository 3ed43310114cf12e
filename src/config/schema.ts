/**
 * The controller's configuration: one table of fields, each with its zod schema (type, bounds, default), its
 * help text, and the words used when a value is wrong. The CLI flags (`--kebab-case`), the environment
 * variables (`LIFEBOAT_UPPER_SNAKE`), `lifeboat run --help` and docs/flags.md are all derived from this table,
 * so a field cannot be added without being documented.
 */
import { z } from "zod";
import { REBALANCE_POLICIES } from "./node-groups.ts";
import {
  DNS_LABEL,
  DNS_SUBDOMAIN,
  FLAG_GROUPS,
  MESSAGE_POLICIES,
  QUALIFIED_NAME,
  boolean,
  httpUrl,
  integer,
  listenAddress,
  nodeGroupMap,
  seconds,
  field,
  toNumber,
} from "./field-types.ts";
import { CAPACITY_FIELDS } from "./capacity-fields.ts";

export {
  DNS_SUBDOMAIN,
  FLAG_GROUPS,
  MESSAGE_POLICIES,
  httpUrl,
  listenAddress,
  parseListenAddress,
  seconds,
  type FieldDoc,
  type ListenAddress,
  type MessagePolicy,
} from "./field-types.ts";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

// ---- the table -----------------------------------------------------------------------------------------

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
  ...CAPACITY_FIELDS,
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
