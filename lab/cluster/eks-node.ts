import { randomBytes } from "node:crypto";
import type { V1Node } from "@kubernetes/client-node";
import { HEARTBEAT_LABEL } from "../controlplane/control-plane.ts";

/** Label every simulated node carries; the pod runtime runs the pods of nodes with it. */
export const LAB_NODE_LABEL = "lifeboat.dev/lab-node";

export interface InstanceType {
  name: string;
  /** Allocatable as EKS reports it (after kube-reserved and system-reserved). */
  cpuMilli: number;
  memoryMi: number;
  /** Max pods with the VPC CNI (ENIs x (IPs per ENI - 1) + 2). */
  pods: number;
  capacityCpu: number;
  capacityMemoryMi: number;
}

/** A few instance types with the allocatable an EKS AL2023 node reports for them. */
export const INSTANCE_TYPES: Record<string, InstanceType> = {
  "m5.large": {
    name: "m5.large",
    cpuMilli: 1930,
    memoryMi: 7134,
    pods: 29,
    capacityCpu: 2,
    capacityMemoryMi: 7850,
  },
  "m5.xlarge": {
    name: "m5.xlarge",
    cpuMilli: 3920,
    memoryMi: 14_783,
    pods: 58,
    capacityCpu: 4,
    capacityMemoryMi: 15_743,
  },
  "c5.xlarge": {
    name: "c5.xlarge",
    cpuMilli: 3920,
    memoryMi: 6_828,
    pods: 58,
    capacityCpu: 4,
    capacityMemoryMi: 7_624,
  },
};

export interface EksNodeSpec {
  nodeGroup: string;
  zone: string;
  instanceType?: string;
  capacityType?: "SPOT" | "ON_DEMAND";
  /**
   * The EC2 instance behind the node (the lab launches it in moto first): the node takes its id, address and
   * private DNS name (its name, as on EKS). Without it (tests that need no EC2) the node gets a fresh id and
   * address and the name EC2 would derive from them.
   */
  instance?: NodeInstance;
  /**
   * Which /24 of the VPC (10.0.0.0/16 first, then 10.1.0.0/16, ...: 250 subnets each) holds the node's
   * address when there is no instance, for a readable hostname: 3 is 10.0.3.x, 253 is 10.1.3.x.
   */
  subnetOctet?: number;
}

/** What a node takes from its EC2 instance. */
export interface NodeInstance {
  instanceId: string;
  privateDnsName: string;
  privateIp: string;
}

export function randomInstanceId(): string {
  return `i-${randomBytes(9).toString("hex").slice(0, 17)}`;
}

/** The region of an availability zone name ("us-east-1a" -> "us-east-1"). */
export function regionOf(zone: string): string {
  return zone.replace(/[a-z]$/, "");
}

/**
 * The private DNS name EC2 gives an address in a region, which EKS uses as the node's name:
 * `ip-10-0-3-17.ec2.internal` in us-east-1, `ip-10-0-3-17.<region>.compute.internal` elsewhere.
 */
export function privateDnsNameOf(ip: string, region: string): string {
  const host = `ip-${ip.replaceAll(".", "-")}`;
  return region === "us-east-1" ? `${host}.ec2.internal` : `${host}.${region}.compute.internal`;
}

/** A Node object shaped like an EKS managed-node-group spot node, for KWOK to animate. */
export function eksNode(spec: EksNodeSpec): V1Node {
  const type = INSTANCE_TYPES[spec.instanceType ?? "m5.xlarge"];
  if (type === undefined) throw new Error(`unknown instance type ${String(spec.instanceType)}`);
  const octets = randomBytes(2);
  const subnet = spec.subnetOctet ?? (octets[0] ?? 0) % 250;
  const ip =
    spec.instance?.privateIp ??
    `10.${Math.floor(subnet / 250)}.${subnet % 250}.${((octets[1] ?? 0) % 250) + 4}`;
  const instanceId = spec.instance?.instanceId ?? randomInstanceId();
  const name = spec.instance?.privateDnsName ?? privateDnsNameOf(ip, regionOf(spec.zone));
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: {
        "eks.amazonaws.com/nodegroup": spec.nodeGroup,
        "eks.amazonaws.com/capacityType": spec.capacityType ?? "SPOT",
        "topology.kubernetes.io/zone": spec.zone,
        "topology.kubernetes.io/region": regionOf(spec.zone),
        "node.kubernetes.io/instance-type": type.name,
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        [LAB_NODE_LABEL]: "true",
        [HEARTBEAT_LABEL]: "on",
      },
      annotations: { "kwok.x-k8s.io/node": "fake", "lab.lifeboat.dev/instance-id": instanceId },
    },
    spec: { providerID: `aws:///${spec.zone}/${instanceId}` },
    status: {
      addresses: [
        { type: "InternalIP", address: ip },
        { type: "Hostname", address: name },
      ],
      capacity: {
        cpu: String(type.capacityCpu),
        memory: `${type.capacityMemoryMi}Mi`,
        pods: String(type.pods),
      },
      allocatable: { cpu: `${type.cpuMilli}m`, memory: `${type.memoryMi}Mi`, pods: String(type.pods) },
    },
  };
}

/** The EC2 instance id in a node's spec.providerID (aws:///zone/i-...), or null. */
export function instanceIdOf(node: V1Node): string | null {
  const m = /^aws:\/\/\/[^/]+\/(i-[0-9a-f]+)$/.exec(node.spec?.providerID ?? "");
  return m?.[1] ?? null;
}
