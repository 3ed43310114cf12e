import { test } from "node:test";
import assert from "node:assert/strict";
import { eksNode, instanceIdOf, privateDnsNameOf } from "./eks-node.ts";

test("nodes are named as EKS names them: EC2's private DNS name of the instance's address", () => {
  assert.equal(privateDnsNameOf("10.0.3.17", "us-east-1"), "ip-10-0-3-17.ec2.internal");
  assert.equal(privateDnsNameOf("10.0.3.17", "eu-west-1"), "ip-10-0-3-17.eu-west-1.compute.internal");
});

test("a node takes its instance's id, address and name; without one it gets made-up ones named the same way", () => {
  const instance = {
    instanceId: "i-0123456789abcdef0",
    privateDnsName: "ip-10-0-3-17.ec2.internal",
    privateIp: "10.0.3.17",
  };
  const node = eksNode({ nodeGroup: "spot-a", zone: "us-east-1a", instance });
  assert.equal(node.metadata?.name, "ip-10-0-3-17.ec2.internal");
  assert.equal(node.metadata?.labels?.["kubernetes.io/hostname"], "ip-10-0-3-17.ec2.internal");
  assert.equal(instanceIdOf(node), "i-0123456789abcdef0");
  assert.deepEqual(node.status?.addresses, [
    { type: "InternalIP", address: "10.0.3.17" },
    { type: "Hostname", address: "ip-10-0-3-17.ec2.internal" },
  ]);

  const made = eksNode({ nodeGroup: "spot-b", zone: "eu-west-1b", subnetOctet: 7 });
  const ip = made.status?.addresses?.[0]?.address ?? "";
  assert.match(ip, /^10\.0\.7\.\d+$/);
  assert.equal(made.metadata?.name, privateDnsNameOf(ip, "eu-west-1"));
  assert.match(instanceIdOf(made) ?? "", /^i-[0-9a-f]{17}$/);
});

test("a lab of more than 250 nodes gets valid, distinct addresses: subnets past 249 go on in 10.1.0.0/16", () => {
  const ip = (subnetOctet: number): string =>
    eksNode({ nodeGroup: "g", zone: "us-east-1a", subnetOctet }).status?.addresses?.[0]?.address ?? "";
  assert.match(ip(249), /^10\.0\.249\.\d+$/);
  assert.match(ip(253), /^10\.1\.3\.\d+$/);
  assert.match(ip(1100), /^10\.4\.100\.\d+$/);
});
