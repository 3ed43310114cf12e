/**
 * The one shape every signal source (SQS/EventBridge, ASG lifecycle hooks, IMDS, manual) is normalized to.
 * The executor and the planner never see where a notice came from except through `kind` and `source`.
 */

/** What the notice says will happen to the instance. */
export type NoticeKind =
  /** EC2 Spot Instance Interruption Warning: the instance is reclaimed at `deadline` (about 2 minutes). */
  | "spot-interruption"
  /** EC2 Instance Rebalance Recommendation: elevated risk, no deadline yet. */
  | "rebalance-recommendation"
  /** EC2 Instance State-change Notification (stopping, stopped, shutting-down, terminated): it is going now. */
  | "instance-state-change"
  /** AWS Health scheduled change for EC2 (retirement, maintenance): deadline is the event's start time. */
  | "scheduled-change"
  /** EC2 Instance-terminate Lifecycle Action from an Auto Scaling group hook. */
  | "asg-lifecycle-terminate"
  /** `lifeboat evacuate NODE` or the node annotation `lifeboat.dev/evacuate`. */
  | "manual";

export type NoticeSource = "sqs" | "imds" | "manual" | "annotation";

/** An EC2 instance state as reported by the state-change notification. */
export type InstanceState = "pending" | "running" | "stopping" | "stopped" | "shutting-down" | "terminated";

/**
 * What an EC2 scheduled change (AWS Health `scheduledChange`, IMDS scheduled event) does at its start time.
 * AWS's own grouping (EC2 User Guide, "Scheduled events for your instances"):
 */
export type ScheduledChangeKind =
  /** Instance retirement or instance stop: at the start time the instance is stopped or terminated. */
  | "retirement"
  /** Instance reboot or system reboot: the instance goes down and comes back. */
  | "reboot"
  /** System maintenance, or a change lifeboat does not know: the instance may be affected, and stays. */
  | "maintenance";

/**
 * The kind of a scheduled change from its code: a Health `eventTypeCode` (AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED,
 * AWS_EC2_INSTANCE_STOP_SCHEDULED, AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED, ...) or an IMDS `Code`
 * (instance-retirement, instance-stop, instance-reboot, system-reboot, system-maintenance). A code that names
 * neither a retirement, a stop nor a reboot is maintenance: nothing says the instance ends.
 */
export function scheduledChangeKind(code: string | undefined): ScheduledChangeKind {
  const words = (code ?? "").toLowerCase().split(/[^a-z]+/);
  if (words.includes("retirement") || words.includes("stop")) return "retirement";
  if (words.includes("reboot")) return "reboot";
  return "maintenance";
}

export interface LifecycleHookRef {
  autoScalingGroupName: string;
  lifecycleHookName: string;
  lifecycleActionToken: string;
  instanceId: string;
}

/** Which node a notice is about: an EC2 instance (mapped through spec.providerID) or a node by name. */
export type NoticeTarget = { kind: "instance"; instanceId: string } | { kind: "node"; nodeName: string };

export interface Notice {
  /** Stable identity of the event (EventBridge event id, IMDS payload hash, manual request id). */
  id: string;
  kind: NoticeKind;
  source: NoticeSource;
  target: NoticeTarget;
  /** When the notice was issued (event time), ms since epoch. */
  issuedAt: number;
  /** When the instance is expected to go away, ms since epoch; null when there is no deadline yet (rebalance). */
  deadline: number | null;
  /** Present on instance-state-change notices. */
  instanceState?: InstanceState;
  /** Present on scheduled-change notices: what happens at the start time (the deadline). */
  scheduledChange?: ScheduledChangeKind;
  /** Present on ASG lifecycle notices: what to heartbeat and complete. */
  lifecycleHook?: LifecycleHookRef;
  /** One human-readable line: what this notice is, for logs and Events. */
  summary: string;
  /**
   * When lifeboat received it (SQS receive, IMDS poll, annotation seen), ms since epoch, stamped by the
   * source before any waiting; the intake stamps it when absent. The evacuation's noticedAt.
   */
  receivedAt?: number;
  /** SQS SentTimestamp: when the message entered the queue, ms since epoch (SQS notices only). */
  sentAt?: number;
}
