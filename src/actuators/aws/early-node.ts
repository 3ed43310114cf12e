/**
 * An early node: at the notice, when a surge finds no room (not even by preempting headroom placeholders),
 * raise the doomed instance's Auto Scaling group desired capacity at once instead of waiting for the
 * autoscaler to notice the Pending pods (cluster-autoscaler: a scan every 10 s, then the same launch).
 * Opt-in (`--early-node`). Calls (all implemented by moto): DescribeAutoScalingInstances (which group),
 * DescribeAutoScalingGroups (desired, max, tags), CreateOrUpdateTags (the request's record), SetDesiredCapacity.
 *
 * Exactly once per evacuation: the request is recorded on the group as the tag
 * `lifeboat.dev/early-node/<evacuation>` BEFORE the capacity is raised, and a group that carries it is not
 * raised again (a crash between the two writes loses the request rather than doubling it).
 */
import type { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import {
  CreateOrUpdateTagsCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  SetDesiredCapacityCommand,
} from "@aws-sdk/client-auto-scaling";

export const EARLY_NODE_TAG_PREFIX = "lifeboat.dev/early-node/";

export type EarlyNodeOutcome =
  /** Desired capacity raised from `from` to `to`. */
  | { kind: "requested"; group: string; from: number; to: number }
  /** This evacuation's request was made before (the group carries its tag). */
  | { kind: "already"; group: string }
  /** The group is at its MaxSize: nothing to raise (the autoscaler could not add a node either). */
  | { kind: "at-max"; group: string; max: number }
  /** The instance belongs to no Auto Scaling group (Karpenter, a bare instance, already detached). */
  | { kind: "no-group" };

export interface EarlyNodeActuatorLike {
  request(instanceId: string, count: number, evacuation: string): Promise<EarlyNodeOutcome>;
}

export class EarlyNodeError extends Error {
  override readonly name = "EarlyNodeError";
}

export class EarlyNodeActuator implements EarlyNodeActuatorLike {
  readonly #client: AutoScalingClient;
  /** Evacuations already answered in this process: no AWS call on a re-plan. */
  readonly #done = new Map<string, EarlyNodeOutcome>();

  constructor(client: AutoScalingClient) {
    this.#client = client;
  }

  async request(instanceId: string, count: number, evacuation: string): Promise<EarlyNodeOutcome> {
    const known = this.#done.get(evacuation);
    if (known !== undefined)
      return known.kind === "requested" ? { kind: "already", group: known.group } : known;
    const outcome = await this.#request(instanceId, count, evacuation);
    this.#done.set(evacuation, outcome);
    return outcome;
  }

  async #request(instanceId: string, count: number, evacuation: string): Promise<EarlyNodeOutcome> {
    const instances = await this.#client.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }),
    );
    const group = instances.AutoScalingInstances?.[0]?.AutoScalingGroupName;
    if (group === undefined) return { kind: "no-group" };
    const groups = await this.#client.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }),
    );
    const g = groups.AutoScalingGroups?.[0];
    if (g === undefined) throw new EarlyNodeError(`DescribeAutoScalingGroups found no group ${group}`);
    const tag = `${EARLY_NODE_TAG_PREFIX}${evacuation}`;
    if ((g.Tags ?? []).some((t) => t.Key === tag)) return { kind: "already", group };
    const from = g.DesiredCapacity ?? 0;
    const max = g.MaxSize ?? from;
    const to = Math.min(max, from + count);
    if (to <= from) return { kind: "at-max", group, max };
    await this.#client.send(
      new CreateOrUpdateTagsCommand({
        Tags: [
          {
            ResourceId: group,
            ResourceType: "auto-scaling-group",
            Key: tag,
            Value: `${from}->${to}`,
            PropagateAtLaunch: false,
          },
        ],
      }),
    );
    await this.#client.send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: group,
        DesiredCapacity: to,
        HonorCooldown: false,
      }),
    );
    return { kind: "requested", group, from, to };
  }
}
