/**
 * The lab itself: two labs side by side, EKS-shaped spot nodes, nodes added later, and a clean teardown.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { test } from "node:test";
import { startLab } from "../../lab/lab.ts";

function portOpen(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      resolve(false);
    });
  });
}

test("two labs run at once on their own ports, and disposing one stops its processes and removes its dir", async () => {
  const [a, b] = await Promise.all([
    startLab({ nodeGroups: [{ name: "spot-a", zone: "us-east-1a", count: 1 }] }),
    startLab({ nodeGroups: [{ name: "spot-b", zone: "us-west-2b", count: 2 }] }),
  ]);
  try {
    assert.notEqual(a.controlPlane.server, b.controlPlane.server);
    assert.equal((await a.core.listNode()).items.length, 1);
    assert.equal((await b.core.listNode()).items.length, 2);
  } finally {
    await b[Symbol.asyncDispose]();
  }
  assert.equal(existsSync(b.controlPlane.dir), false, "temp dir removed");
  assert.equal(await portOpen(b.controlPlane.server), false, "kube-apiserver stopped");
  assert.equal(await portOpen(a.controlPlane.server), true, "the other lab is untouched");
  await a[Symbol.asyncDispose]();
  assert.equal(await portOpen(a.controlPlane.server), false);
});

test("nodes look like EKS managed-node-group spot nodes, and a node can join a group later", async () => {
  await using lab = await startLab({
    nodeGroups: [{ name: "spot-a", zone: "us-east-1a", count: 1, instanceType: "m5.large" }],
    timeScale: 0.1,
  });
  const added = await lab.addNode({ nodeGroup: "spot-a", zone: "us-east-1a" }, 2);
  const nodes = (await lab.core.listNode()).items;
  assert.equal(nodes.length, 2);
  const first = nodes.find((n) => n.metadata?.name !== added.name);
  assert.ok(first !== undefined);
  const labels = first.metadata?.labels ?? {};
  assert.equal(labels["eks.amazonaws.com/nodegroup"], "spot-a");
  assert.equal(labels["eks.amazonaws.com/capacityType"], "SPOT");
  assert.equal(labels["topology.kubernetes.io/zone"], "us-east-1a");
  assert.equal(labels["node.kubernetes.io/instance-type"], "m5.large");
  assert.equal(labels["kubernetes.io/hostname"], first.metadata?.name);
  assert.match(first.spec?.providerID ?? "", /^aws:\/\/\/us-east-1a\/i-[0-9a-f]{17}$/);
  assert.deepEqual(first.status?.allocatable, { cpu: "1930m", memory: "7134Mi", pods: "29" });
  assert.match(added.instanceId, /^i-[0-9a-f]{17}$/);
});
