import { test } from "node:test";
import assert from "node:assert/strict";
import type { V1Node } from "@kubernetes/client-node";
import { FakeClock } from "../domain/clock.ts";
import type { Notice } from "../domain/notice.ts";
import { decodeHandoff } from "../signals/imds/handoff.ts";
import { silentLogger } from "../signals/logger.ts";
import { NodeAgent, type NodeClient } from "./node-agent.ts";

const T = Date.parse("2026-11-24T12:00:00Z");

/** One node in memory: reads return a copy, patches are recorded and applied (merge of annotations). */
function fakeNode(annotations: Record<string, string> = {}) {
  const node: V1Node = { metadata: { name: "n1", resourceVersion: "7", annotations: { ...annotations } } };
  const patches: unknown[] = [];
  const core = {
    readNode: ({ name }: { name: string }) => {
      assert.equal(name, "n1");
      return Promise.resolve(structuredClone(node));
    },
    patchNode: ({ body }: { name: string; body: { metadata: { annotations: Record<string, string> } } }) => {
      patches.push(body);
      Object.assign(node.metadata?.annotations ?? {}, body.metadata.annotations);
      return Promise.resolve(node);
    },
  };
  return { node, patches, core };
}

const spot: Notice = {
  id: "imds-spot/abc",
  kind: "spot-interruption",
  source: "imds",
  target: { kind: "instance", instanceId: "i-0123456789abcdef0" },
  issuedAt: T,
  deadline: T + 120_000,
  summary: "spot interruption notice (IMDS)",
};

function agent(core: NodeClient): NodeAgent {
  return new NodeAgent({ nodeName: "n1", imds: {}, core, clock: new FakeClock(T), log: silentLogger });
}

test("hands a notice over with the resourceVersion it read, then keeps it on the next poll", async () => {
  const { patches, core, node } = fakeNode();
  const a = agent(core);
  assert.equal((await a.handOff(spot)).kind, "write");
  assert.equal(patches.length, 1);
  assert.equal((patches[0] as { metadata: { resourceVersion: string } }).metadata.resourceVersion, "7");
  assert.equal(decodeHandoff(node.metadata?.annotations?.["lifeboat.dev/evacuate"] ?? "").id, spot.id);
  assert.equal((await a.handOff(spot)).kind, "keep");
  assert.equal(patches.length, 1, "nothing written twice");
});

test("a rebalance after a spot warning is not written over it", async () => {
  const { patches, core } = fakeNode();
  const a = agent(core);
  await a.handOff(spot);
  const result = await a.handOff({
    ...spot,
    id: "imds-rebalance/r",
    kind: "rebalance-recommendation",
    deadline: null,
  });
  assert.equal(result.kind, "keep");
  assert.equal(patches.length, 1);
});

test("health: not ready before the first poll; live while polls keep coming", () => {
  const { core } = fakeNode();
  const h = agent(core).health();
  assert.equal(h.ready.ok, false);
  assert.equal(h.live.ok, true);
});
