/**
 * The lab's EC2 in moto: an instance behind every node, named as EKS names nodes, with the tags that
 * aws-node-termination-handler and the cluster tooling read, and terminated when the cloud reclaims it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { startMoto } from "../../lab/aws/moto.ts";
import { asgNameOf, LabEc2, NTH_MANAGED_TAG } from "../../lab/cloud/ec2.ts";
import { eksNode, instanceIdOf, privateDnsNameOf } from "../../lab/cluster/eks-node.ts";

test("an instance per node: launched in its zone's subnet with the group's tags; the node takes its name and id", async () => {
  await using moto = await startMoto({ region: "us-east-1" });
  const ec2 = await LabEc2.create(moto.ec2Client(), { zones: ["us-east-1a", "us-east-1b"] });
  const a = await ec2.launch({ nodeGroup: "spot-a", zone: "us-east-1a" });
  const b = await ec2.launch({ nodeGroup: "spot-b", zone: "us-east-1b", capacityType: "ON_DEMAND" });

  // EC2's private DNS name in us-east-1, from an address in the zone's /19.
  assert.match(a.privateDnsName, /^ip-10-0-\d+-\d+\.ec2\.internal$/);
  assert.equal(a.privateDnsName, privateDnsNameOf(a.privateIp, "us-east-1"));
  const [, , thirdA] = a.privateIp.split(".").map(Number);
  const [, , thirdB] = b.privateIp.split(".").map(Number);
  assert.ok(thirdA !== undefined && thirdA < 32, `us-east-1a address ${a.privateIp} in 10.0.0.0/19`);
  assert.ok(
    thirdB !== undefined && thirdB >= 32 && thirdB < 64,
    `us-east-1b address ${b.privateIp} in 10.0.32.0/19`,
  );

  const described = await ec2.describe(a.instanceId);
  assert.equal(described.Placement?.AvailabilityZone, "us-east-1a");
  assert.equal(described.State?.Name, "running");
  assert.equal(described.InstanceType, "m5.xlarge");
  const tags = new Map((described.Tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
  assert.equal(tags.get(NTH_MANAGED_TAG), "");
  assert.equal(tags.get("eks:nodegroup-name"), "spot-a");
  assert.equal(tags.get("aws:autoscaling:groupName"), asgNameOf("lab", "spot-a"));

  const node = eksNode({ nodeGroup: "spot-a", zone: "us-east-1a", instance: a });
  assert.equal(node.metadata?.name, a.privateDnsName);
  assert.equal(instanceIdOf(node), a.instanceId);
  assert.equal(node.spec?.providerID, `aws:///us-east-1a/${a.instanceId}`);
  assert.deepEqual(node.status?.addresses?.[0], { type: "InternalIP", address: a.privateIp });

  await ec2.terminate(a.instanceId);
  assert.match(await ec2.state(a.instanceId), /^(shutting-down|terminated)$/);
  assert.equal(await ec2.state(b.instanceId), "running");
});

test("a launch in a zone without a subnet fails clearly", async () => {
  await using moto = await startMoto({ region: "eu-west-1" });
  const ec2 = await LabEc2.create(moto.ec2Client(), { zones: ["eu-west-1a"] });
  const a = await ec2.launch({ nodeGroup: "g", zone: "eu-west-1a" });
  assert.match(a.privateDnsName, /^ip-10-0-\d+-\d+\.eu-west-1\.compute\.internal$/);
  await assert.rejects(ec2.launch({ nodeGroup: "g", zone: "eu-west-1b" }), /no subnet in eu-west-1b/);
});
