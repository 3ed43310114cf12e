/**
 * An early node: at the notice, when a surge finds no room (not even by preempting headroom placeholders),
 * raise the doomed instance's Auto Scaling group desired capacity at once instead of waiting for the
 * autoscaler to notice the Pending pods (cluster-autoscaler: a scan every 10 s, then the same launch).
 * Opt-in (`--early-node`). Calls (all implemented by moto): DescribeAutoScalingInstances (which group),
 * DescribeAutoScalingGroups (desired, max, tags; read twice), CreateOrUpdateTags (the request's record),
 * SetDesiredCapacity.
 *
 * Exactly once per evacuation: the request is recorded on the group BEFORE the capacity is raised, and a
 * request the group's record already holds is not made again (a crash between the two writes loses the
 * request rather than doubling it). The record is ONE tag, `lifeboat.dev/early-node`, whose value lists
 * the latest requests' ids (8 hex digits of a hash of the evacuation's name), oldest dropped first to stay
 * within a tag value's 256 characters (28 ids): an Auto Scaling group holds 50 tags, and one tag per
 * request, never removed, used them up. Why not a tag per request removed when its evacuation ends: that
 * needs the group again at every ending, one more permission (DeleteTags), and still leaves a tag behind
 * whenever the controller stops between the two; the record only has to outlive a restart during the
 * evacuation, and within one process the actuator remembers its answers anyway.
 *
 * The raise is relative and never lowers a target someone else raised (`raiseTarget`): the group is read
 * again right before SetDesiredCapacity, and lifeboat asks for `count` more than the lowest desired
 * capacity it saw, never less than the desired capacity it read last. A raise by the autoscaler in
 * between (most likely for the same Pending pods) counts towards the request; a scale-in in between is
 * kept. SetDesiredCapacity is absolute and has no condition, so one race remains: a change made by someone
 * else between that last read and the write (one API round trip) is overwritten. Every writer of an Auto
 * Scaling group (cluster-autoscaler too) lives with the same race; the next autoscaler scan corrects it.
 */
import { createHash } from "node:crypto";
import type { AutoScalingClient, AutoScalingGroup, TagDescription } from "@aws-sdk/client-auto-scaling";
import {
  CreateOrUpdateTagsCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  SetDesiredCapacityCommand,
} from "@aws-sdk/client-auto-scaling";

/** The one tag on an Auto Scaling group that records lifeboat's early-node requests. */
export const EARLY_NODE_TAG = "lifeboat.dev/early-node";
/**
 * Prefix of the tags lifeboat wrote before, one per request (`lifeboat.dev/early-node/<evacuation>`). Still
 * read, so that a controller upgraded mid-evacuation does not ask twice; never written any more.
 */
export const EARLY_NODE_TAG_PREFIX = "lifeboat.dev/early-node/";
/** An Auto Scaling tag value holds at most 256 characters. */
export const TAG_VALUE_MAX = 256;

/** The id of one evacuation's request in the record: 8 hex digits of a hash of its name. */
export function requestId(evacuation: string): string {
  return createHash("sha256").update(evacuation).digest("hex").slice(0, 8);
}

/** True when the group's tags record a request of `evacuation` (in the one tag, or in an old per-request tag). */
export function requested(tags: readonly TagDescription[], evacuation: string): boolean {
  const record = tags.find((t) => t.Key === EARLY_NODE_TAG)?.Value ?? "";
  return (
    record.split(" ").includes(requestId(evacuation)) ||
    tags.some((t) => t.Key === `${EARLY_NODE_TAG_PREFIX}${evacuation}`)
  );
}

/** The record's value with `evacuation`'s request added last, the oldest requests dropped to fit the tag. */
export function withRequest(record: string | undefined, evacuation: string): string {
  const id = requestId(evacuation);
  const ids = [...(record ?? "").split(" ").filter((x) => x !== "" && x !== id), id];
  while (ids.join(" ").length > TAG_VALUE_MAX) ids.shift();
  return ids.join(" ");
}

/** What to write for a request of `count` nodes; `seen` and `now`: the desired capacity read first and last. */
export type RaiseDecision =
  | { kind: "raise"; from: number; to: number }
  /** The group already holds what lifeboat would ask for (raised meanwhile by someone else). */
  | { kind: "met"; desired: number }
  | { kind: "at-max"; max: number };

/**
 * `count` more than the lowest desired capacity lifeboat saw, never less than the last one read (a raise
 * meanwhile counts towards the request and is never lowered; a scale-in meanwhile is kept), capped at
 * MaxSize.
 */
export function raiseTarget(g: { seen: number; now: number; max: number; count: number }): RaiseDecision {
  if (g.now >= g.max) return { kind: "at-max", max: g.max };
  const to = Math.min(g.max, Math.max(g.now, Math.min(g.seen, g.now) + g.count));
  return to > g.now ? { kind: "raise", from: g.now, to } : { kind: "met", desired: g.now };
}

export type EarlyNodeOutcome =
  /** Desired capacity raised from `from` to `to`. */
  | { kind: "requested"; group: string; from: number; to: number }
  /** This evacuation's request was made before (the group carries its tag). */
  | { kind: "already"; group: string }
  /** The group is at its MaxSize: nothing to raise (the autoscaler could not add a node either). */
  | { kind: "at-max"; group: string; max: number }
  /** The group was raised meanwhile by someone else to at least what lifeboat would ask for: nothing written. */
  | { kind: "met"; group: string; desired: number }
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
    const first = await this.#group(group);
    const tags = first.Tags ?? [];
    if (requested(tags, evacuation)) return { kind: "already", group };
    const seen = first.DesiredCapacity ?? 0;
    const max = first.MaxSize ?? seen;
    if (seen >= max) return { kind: "at-max", group, max };
    // Invariant: the request is recorded before the capacity is raised (exactly once, even across a crash).
    await this.#client.send(
      new CreateOrUpdateTagsCommand({
        Tags: [
          {
            ResourceId: group,
            ResourceType: "auto-scaling-group",
            Key: EARLY_NODE_TAG,
            Value: withRequest(tags.find((t) => t.Key === EARLY_NODE_TAG)?.Value, evacuation),
            PropagateAtLaunch: false,
          },
        ],
      }),
    );
    // Read again right before the absolute write: what someone else changed meanwhile is not written over.
    const last = await this.#group(group);
    const decision = raiseTarget({
      seen,
      now: last.DesiredCapacity ?? seen,
      max: last.MaxSize ?? max,
      count,
    });
    if (decision.kind === "at-max") return { kind: "at-max", group, max: decision.max };
    if (decision.kind === "met") return { kind: "met", group, desired: decision.desired };
    await this.#client.send(
      new SetDesiredCapacityCommand({
        AutoScalingGroupName: group,
        DesiredCapacity: decision.to,
        HonorCooldown: false,
      }),
    );
    return { kind: "requested", group, from: decision.from, to: decision.to };
  }

  async #group(name: string): Promise<AutoScalingGroup> {
    const groups = await this.#client.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
    );
    const g = groups.AutoScalingGroups?.[0];
    if (g === undefined) throw new EarlyNodeError(`DescribeAutoScalingGroups found no group ${name}`);
    return g;
  }
}
