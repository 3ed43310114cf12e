/**
 * The configuration fields of lifeboat's capacity features (headroom, the early node, steering away from a pool
 * under reclaim): one group of the table in src/config/schema.ts, kept in a file of its own.
 */
import { z } from "zod";
import { HEADROOM_SCOPES } from "../domain/headroom.ts";
import {
  FLAG_GROUPS,
  boolean,
  field,
  integer,
  quantityOrComputed,
  seconds,
  DNS_LABEL,
  DNS_SUBDOMAIN,
} from "./field-types.ts";

const G = FLAG_GROUPS;

export const CAPACITY_FIELDS = {
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
};
