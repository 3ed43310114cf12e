/**
 * The lab's EC2: every node is first an instance in moto, launched the way an EKS managed node group's
 * Auto Scaling group launches it (RunInstances in a subnet of the node's zone, with the group's tags), so
 * that a handler that asks EC2 about an instance (aws-node-termination-handler's DescribeInstances) gets the
 * truth: its private DNS name (the node's name), zone, type, tags and state.
 *
 *   const ec2 = await LabEc2.create(moto.ec2Client(), { clusterName: "lab", zones: ["us-east-1a", "us-east-1b"] });
 *   const instance = await ec2.launch({ nodeGroup: "spot-a", zone: "us-east-1a" });   // ip-10-0-3-17.ec2.internal
 *   await ec2.terminate(instance.instanceId);
 *
 * Network: one VPC 10.0.0.0/16 and one /19 subnet per zone (10.0.0.0/19, 10.0.32.0/19, ...), as eksctl lays
 * out a cluster's private subnets; moto picks each instance's address in its subnet and derives the private
 * DNS name from it the way EC2 does (`ip-10-0-3-17.ec2.internal` in us-east-1,
 * `ip-10-0-3-17.<region>.compute.internal` elsewhere).
 */
import {
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Instance,
  type Tag,
} from "@aws-sdk/client-ec2";
import type { NodeInstance } from "../cluster/eks-node.ts";

/** The tag aws-node-termination-handler checks before it drains (CHECK_TAG_BEFORE_DRAINING, its default). */
export const NTH_MANAGED_TAG = "aws-node-termination-handler/managed";

/** The lab cluster's name, in the instances' EKS tags. */
export const LAB_CLUSTER_NAME = "lab";

/** What a node group asks EC2 for. */
export interface LaunchSpec {
  nodeGroup: string;
  zone: string;
  /** Default m5.xlarge. */
  instanceType?: string;
  /** Default SPOT. */
  capacityType?: "SPOT" | "ON_DEMAND";
}

/** A launched instance, as DescribeInstances reports it; `privateDnsName` becomes the node's name. */
export interface LaunchedInstance extends NodeInstance {
  zone: string;
}

export type InstanceState = "pending" | "running" | "shutting-down" | "terminated" | "stopping" | "stopped";

export class Ec2LaunchError extends Error {
  override readonly name = "Ec2LaunchError";
}

export interface LabEc2Options {
  /** Zones that get a subnet; a launch in another zone fails. */
  zones: readonly string[];
  /** Default LAB_CLUSTER_NAME. */
  clusterName?: string;
}

/** The EKS managed node group's Auto Scaling group name for a group (EKS appends a UUID; the lab a fixed one). */
export function asgNameOf(clusterName: string, nodeGroup: string): string {
  return `eks-${nodeGroup}-${clusterName}-0000`;
}

/**
 * The tags an EKS managed node group's ASG propagates to its instances, plus the NTH managed tag that its
 * docs tell users to put on the group (propagated at launch).
 */
export function instanceTags(clusterName: string, spec: LaunchSpec, name: string): Tag[] {
  return [
    { Key: "Name", Value: name },
    { Key: "eks:cluster-name", Value: clusterName },
    { Key: "eks:nodegroup-name", Value: spec.nodeGroup },
    { Key: "aws:autoscaling:groupName", Value: asgNameOf(clusterName, spec.nodeGroup) },
    { Key: `kubernetes.io/cluster/${clusterName}`, Value: "owned" },
    { Key: "k8s.io/cluster-autoscaler/enabled", Value: "true" },
    { Key: `k8s.io/cluster-autoscaler/${clusterName}`, Value: "owned" },
    { Key: NTH_MANAGED_TAG, Value: "" },
  ];
}

/** The lab's EC2 account in moto: a VPC, a subnet per zone, and the node groups' instances. */
export class LabEc2 {
  readonly #client: EC2Client;
  readonly #clusterName: string;
  readonly #subnets: ReadonlyMap<string, string>;
  readonly #imageId: string;
  #launches: Promise<unknown> = Promise.resolve();

  private constructor(client: EC2Client, clusterName: string, subnets: Map<string, string>, imageId: string) {
    this.#client = client;
    this.#clusterName = clusterName;
    this.#subnets = subnets;
    this.#imageId = imageId;
  }

  /** Creates the VPC and one subnet per zone. */
  static async create(client: EC2Client, options: LabEc2Options): Promise<LabEc2> {
    const zones = [...new Set(options.zones)];
    if (zones.length > 8)
      throw new RangeError(`at most 8 zones fit 10.0.0.0/16 in /19s, got ${zones.length}`);
    const vpc = await client.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/16" }));
    const vpcId = vpc.Vpc?.VpcId;
    if (vpcId === undefined) throw new Ec2LaunchError("CreateVpc returned no VpcId");
    const subnets = new Map<string, string>();
    for (const [i, zone] of zones.entries()) {
      const subnet = await client.send(
        new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.0.${i * 32}.0/19`, AvailabilityZone: zone }),
      );
      const id = subnet.Subnet?.SubnetId;
      if (id === undefined) throw new Ec2LaunchError(`CreateSubnet in ${zone} returned no SubnetId`);
      subnets.set(zone, id);
    }
    // An EKS-optimized AMI in a real account; any image moto knows here.
    const images = await client.send(new DescribeImagesCommand({ Owners: ["amazon"] }));
    const imageId = images.Images?.find((i) => i.ImageId !== undefined)?.ImageId;
    if (imageId === undefined)
      throw new Ec2LaunchError("moto lists no Amazon image to launch instances from");
    return new LabEc2(client, options.clusterName ?? LAB_CLUSTER_NAME, subnets, imageId);
  }

  /**
   * RunInstances in the zone's subnet with the group's tags; resolves with the running instance. Launches run
   * one at a time: moto answered 500 to one of 50 concurrent RunInstances while a 300-node lab started.
   */
  launch(spec: LaunchSpec): Promise<LaunchedInstance> {
    const launched = this.#launches.then(() => this.#launch(spec));
    this.#launches = launched.catch(() => undefined);
    return launched;
  }

  async #launch(spec: LaunchSpec): Promise<LaunchedInstance> {
    const subnetId = this.#subnets.get(spec.zone);
    if (subnetId === undefined)
      throw new Ec2LaunchError(
        `no subnet in ${spec.zone} (zones: ${[...this.#subnets.keys()].join(", ")}): cannot launch for ${spec.nodeGroup}`,
      );
    const name = `${this.#clusterName}-${spec.nodeGroup}`;
    const out = await this.#client.send(
      new RunInstancesCommand({
        ImageId: this.#imageId,
        InstanceType: (spec.instanceType ?? "m5.xlarge") as never,
        SubnetId: subnetId,
        MinCount: 1,
        MaxCount: 1,
        ...((spec.capacityType ?? "SPOT") === "SPOT"
          ? { InstanceMarketOptions: { MarketType: "spot" as const } }
          : {}),
        TagSpecifications: [{ ResourceType: "instance", Tags: instanceTags(this.#clusterName, spec, name) }],
      }),
    );
    const instance = out.Instances?.[0];
    return launched(instance, spec);
  }

  /** TerminateInstances: the instance goes to shutting-down, then terminated. */
  async terminate(instanceId: string): Promise<void> {
    await this.#client.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  }

  /** The instance as DescribeInstances reports it now. */
  async describe(instanceId: string): Promise<Instance> {
    const out = await this.#client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = out.Reservations?.[0]?.Instances?.[0];
    if (instance === undefined) throw new Ec2LaunchError(`DescribeInstances: no instance ${instanceId}`);
    return instance;
  }

  async state(instanceId: string): Promise<InstanceState> {
    return (await this.describe(instanceId)).State?.Name as InstanceState;
  }
}

function launched(instance: Instance | undefined, spec: LaunchSpec): LaunchedInstance {
  const id = instance?.InstanceId;
  const dns = instance?.PrivateDnsName;
  const ip = instance?.PrivateIpAddress;
  if (id === undefined || dns === undefined || dns === "" || ip === undefined)
    throw new Ec2LaunchError(
      `RunInstances for ${spec.nodeGroup} in ${spec.zone} returned no instance id, private DNS name or address`,
    );
  const zone = instance?.Placement?.AvailabilityZone ?? spec.zone;
  if (zone !== spec.zone)
    throw new Ec2LaunchError(`RunInstances placed ${id} in ${zone}, asked for ${spec.zone}`);
  return { instanceId: id, privateDnsName: dns, privateIp: ip, zone };
}
