/**
 * The node groups' Auto Scaling groups in moto, as EKS managed node groups have them: one group per node group
 * (named like the instances' `aws:autoscaling:groupName` tag), the lab's starting instances attached, so that a
 * controller that looks an instance's group up (DescribeAutoScalingInstances) and raises its desired capacity
 * (lifeboat's `--early-node`) acts on the same groups the cloud simulator reads (`asgHooks`).
 *
 * moto launches instances of its own when a group's desired capacity rises; they are not nodes and nothing
 * reads them. The cloud simulator launches the lab's node for the raise (see AsgHooks in ./cloud.ts).
 */
import {
  AttachInstancesCommand,
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  CreateLaunchConfigurationCommand,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
} from "@aws-sdk/client-auto-scaling";
import { DescribeImagesCommand } from "@aws-sdk/client-ec2";
import type { Moto } from "../aws/moto.ts";
import type { NodeGroup } from "../scenarios/schema.ts";
import type { AsgHooks } from "./cloud.ts";
import { asgNameOf, LAB_CLUSTER_NAME } from "./ec2.ts";

export class LabAsgs implements AsyncDisposable {
  readonly #client: AutoScalingClient;
  readonly #clusterName: string;

  private constructor(client: AutoScalingClient, clusterName: string) {
    this.#client = client;
    this.#clusterName = clusterName;
  }

  /** One group per node group (desired 0, MaxSize `maxSize`), then the given instances attached to theirs. */
  static async create(
    moto: Moto,
    groups: readonly NodeGroup[],
    instances: readonly { nodeGroup: string; instanceId: string }[],
    maxSize: number,
    clusterName = LAB_CLUSTER_NAME,
  ): Promise<LabAsgs> {
    const client = new AutoScalingClient({
      endpoint: moto.endpoint,
      region: moto.region,
      credentials: { ...moto.credentials },
      maxAttempts: 1,
    });
    const images = await moto.ec2Client().send(new DescribeImagesCommand({ Owners: ["amazon"] }));
    const imageId = images.Images?.find((i) => i.ImageId !== undefined)?.ImageId ?? "";
    for (const g of groups) {
      const name = asgNameOf(clusterName, g.name);
      await client.send(
        new CreateLaunchConfigurationCommand({
          LaunchConfigurationName: `${name}-lc`,
          ImageId: imageId,
          InstanceType: g.instanceType,
        }),
      );
      await client.send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: name,
          LaunchConfigurationName: `${name}-lc`,
          MinSize: 0,
          MaxSize: Math.max(maxSize, g.count),
          DesiredCapacity: 0,
          AvailabilityZones: [g.zone],
        }),
      );
      const ids = instances.filter((i) => i.nodeGroup === g.name).map((i) => i.instanceId);
      if (ids.length > 0)
        await client.send(new AttachInstancesCommand({ AutoScalingGroupName: name, InstanceIds: ids }));
    }
    return new LabAsgs(client, clusterName);
  }

  get hooks(): AsgHooks {
    return {
      desired: async (group) => {
        const out = await this.#client.send(
          new DescribeAutoScalingGroupsCommand({
            AutoScalingGroupNames: [asgNameOf(this.#clusterName, group)],
          }),
        );
        return out.AutoScalingGroups?.[0]?.DesiredCapacity ?? null;
      },
      setDesired: async (group, desired) => {
        await this.#client.send(
          new SetDesiredCapacityCommand({
            AutoScalingGroupName: asgNameOf(this.#clusterName, group),
            DesiredCapacity: desired,
          }),
        );
      },
    };
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.#client.destroy();
    return Promise.resolve();
  }
}
