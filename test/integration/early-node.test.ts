/**
 * The early node against moto's Auto Scaling: the doomed instance's group is found, its desired capacity
 * raised once per evacuation (recorded first in the group's one lifeboat tag), capped by MaxSize, and an
 * instance in no group is reported as such. (src/actuators/aws/early-node.test.ts: the same calls against a
 * fake group, with another writer acting between lifeboat's read and its write.)
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  CreateLaunchConfigurationCommand,
  DescribeAutoScalingGroupsCommand,
} from "@aws-sdk/client-auto-scaling";
import { DescribeImagesCommand } from "@aws-sdk/client-ec2";
import { startMoto, type Moto } from "../../lab/aws/moto.ts";
import { EarlyNodeActuator, requested } from "../../src/actuators/aws/early-node.ts";

let moto: Moto;
let asg: AutoScalingClient;

async function group(name: string) {
  const out = await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }));
  const g = out.AutoScalingGroups?.[0];
  assert.ok(g !== undefined, `group ${name}`);
  return g;
}

async function createGroup(name: string, desired: number, max: number): Promise<string[]> {
  const images = await moto.ec2Client().send(new DescribeImagesCommand({ Owners: ["amazon"] }));
  await asg.send(
    new CreateLaunchConfigurationCommand({
      LaunchConfigurationName: `${name}-lc`,
      ImageId: images.Images?.[0]?.ImageId ?? "",
      InstanceType: "m5.xlarge",
    }),
  );
  await asg.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: name,
      LaunchConfigurationName: `${name}-lc`,
      MinSize: 0,
      MaxSize: max,
      DesiredCapacity: desired,
      AvailabilityZones: ["us-east-1a"],
    }),
  );
  return ((await group(name)).Instances ?? []).map((i) => i.InstanceId ?? "");
}

before(async () => {
  moto = await startMoto({ region: "us-east-1" });
  asg = new AutoScalingClient({
    endpoint: moto.endpoint,
    region: moto.region,
    credentials: { ...moto.credentials },
    maxAttempts: 1,
  });
});

after(async () => {
  asg.destroy();
  await moto.stop();
});

describe("EarlyNodeActuator", () => {
  test("raises the doomed instance's group by the nodes asked for, once per evacuation", async () => {
    const [doomed] = await createGroup("eks-spot-lab", 3, 6);
    assert.ok(doomed !== undefined && doomed !== "");
    const outcome = await new EarlyNodeActuator(asg).request(doomed, 1, "evac-a");
    assert.deepEqual(outcome, { kind: "requested", group: "eks-spot-lab", from: 3, to: 4 });
    const g = await group("eks-spot-lab");
    assert.equal(g.DesiredCapacity, 4);
    assert.ok(requested(g.Tags ?? [], "evac-a"));
    // A restarted controller (no memory) finds the tag: no second raise.
    assert.deepEqual(await new EarlyNodeActuator(asg).request(doomed, 1, "evac-a"), {
      kind: "already",
      group: "eks-spot-lab",
    });
    assert.equal((await group("eks-spot-lab")).DesiredCapacity, 4);
    // Another evacuation of the same group raises again, up to MaxSize.
    assert.deepEqual(await new EarlyNodeActuator(asg).request(doomed, 5, "evac-b"), {
      kind: "requested",
      group: "eks-spot-lab",
      from: 4,
      to: 6,
    });
    assert.equal(
      (await group("eks-spot-lab")).Tags?.filter((t) => t.Key?.startsWith("lifeboat.dev/")).length,
      1,
      "one tag records every request",
    );
    assert.deepEqual(await new EarlyNodeActuator(asg).request(doomed, 1, "evac-c"), {
      kind: "at-max",
      group: "eks-spot-lab",
      max: 6,
    });
  });

  test("an instance in no Auto Scaling group is reported, nothing raised", async () => {
    assert.deepEqual(await new EarlyNodeActuator(asg).request("i-0123456789abcdef0", 1, "evac-x"), {
      kind: "no-group",
    });
  });
});
