/** The out-of-service taint (issue 19 item 3) against a node client fake: what it reads and writes. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1Node } from "@kubernetes/client-node";
import { taintOutOfService } from "./node.ts";

/** A node client that serves `node` and records each patch body. */
function fakeCore(node: V1Node) {
  const patches: unknown[] = [];
  return {
    patches,
    readNode: () => Promise.resolve(node),
    patchNode: (req: { body: unknown }) => {
      patches.push(req.body);
      return Promise.resolve(node);
    },
  };
}

test("taintOutOfService adds node.kubernetes.io/out-of-service=nodeshutdown:NoExecute, keeping the other taints", async () => {
  const core = fakeCore({
    metadata: { name: "n1", resourceVersion: "7" },
    spec: { taints: [{ key: "lifeboat.dev/evacuating", effect: "NoSchedule" }] },
  });
  assert.deepEqual(await taintOutOfService(core as never, "n1"), { kind: "done", changed: true });
  assert.deepEqual(core.patches, [
    {
      metadata: { resourceVersion: "7" },
      spec: {
        taints: [
          { key: "lifeboat.dev/evacuating", effect: "NoSchedule" },
          { key: "node.kubernetes.io/out-of-service", value: "nodeshutdown", effect: "NoExecute" },
        ],
      },
    },
  ]);
});

test("taintOutOfService writes nothing when the node is out of service already, whatever the value", async () => {
  const core = fakeCore({
    metadata: { name: "n1", resourceVersion: "7" },
    spec: { taints: [{ key: "node.kubernetes.io/out-of-service", value: "by-hand", effect: "NoExecute" }] },
  });
  assert.deepEqual(await taintOutOfService(core as never, "n1"), { kind: "done", changed: false });
  assert.deepEqual(core.patches, []);
});
