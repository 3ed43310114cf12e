/**
 * An ASG terminate lifecycle action's deadline is its time plus the hook's heartbeat timeout (issue 7 item
 * 13), read from moto's Auto Scaling API (DescribeLifecycleHooks) by `lifeboat run`: the message itself
 * carries no timeout.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  CreateLaunchConfigurationCommand,
  PutLifecycleHookCommand,
} from "@aws-sdk/client-auto-scaling";
import { MOTO_CREDENTIALS } from "../../lab/aws/moto.ts";
import { startController } from "../helpers/controller-process.ts";
import { REGION, startControllerLab } from "../helpers/lab-env.ts";
import { counter, waitForCount } from "../helpers/reconciles.ts";
import { waitFor } from "../helpers/wait.ts";

test("an ASG lifecycle action gets the deadline event time + the hook's HeartbeatTimeout", async () => {
  await using env = await startControllerLab({
    timeScale: 0.2,
    nodeGroups: [{ name: "asg", zone: "us-east-1a", count: 1 }],
  });
  const asg = new AutoScalingClient({
    endpoint: env.moto.endpoint,
    region: REGION,
    credentials: { ...MOTO_CREDENTIALS },
  });
  await asg.send(
    new CreateLaunchConfigurationCommand({
      LaunchConfigurationName: "lc",
      ImageId: "ami-12c6146b",
      InstanceType: "m5.large",
    }),
  );
  await asg.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: "asg",
      LaunchConfigurationName: "lc",
      MinSize: 0,
      MaxSize: 1,
      AvailabilityZones: ["us-east-1a"],
    }),
  );
  await asg.send(
    new PutLifecycleHookCommand({
      AutoScalingGroupName: "asg",
      LifecycleHookName: "drain",
      LifecycleTransition: "autoscaling:EC2_INSTANCE_TERMINATING",
      HeartbeatTimeout: 300,
    }),
  );
  const [node] = env.lab.nodes;
  assert.ok(node !== undefined);
  await using controller = await startController(env.handlerContext("asg.log"));
  const time = new Date(Date.now() - 5_000);
  await env.send(
    JSON.stringify({
      Origin: "AutoScalingGroup",
      Destination: "EC2",
      Service: "AWS Auto Scaling",
      Time: time.toISOString(),
      AccountId: "123456789012",
      RequestId: "req-1",
      LifecycleActionToken: "token-1",
      AutoScalingGroupName: "asg",
      LifecycleHookName: "drain",
      EC2InstanceId: node.instanceId,
      LifecycleTransition: "autoscaling:EC2_INSTANCE_TERMINATING",
    }),
  );
  const evacuation = await waitFor("the Evacuation", async () => (await env.evacuationsOf(node.name))[0], {
    timeoutMs: 30_000,
    alive: controller.assertRunning,
  });
  assert.equal(evacuation.spec.deadline, new Date(time.getTime() + 300_000).toISOString());
  // The event's age at receipt (the message says it was sent 5 s ago), as lifeboat_notice_event_age_seconds.
  const age = { kind: "asg-lifecycle-terminate" };
  await waitForCount(controller, "lifeboat_notice_event_age_seconds_count", age, 1);
  assert.ok((await counter(controller, "lifeboat_notice_event_age_seconds_sum", age)) >= 5);
});
