import { test } from "node:test";
import assert from "node:assert/strict";
import { AddressMap } from "./address-map.ts";

function mapWithPod(): AddressMap {
  const map = new AddressMap();
  map.assign("10.244.1.2", { node: "node-a", pod: "default/web-1", ports: [8080] });
  return map;
}

test("unknown addresses resolve to null", () => {
  assert.equal(new AddressMap().resolve("10.244.1.2", 8080), null);
});

test("a pod is refused until it listens, then reaches its loopback port on declared ports only", () => {
  const map = mapWithPod();
  assert.equal(map.resolve("10.244.1.2", 8080)?.kind, "refused");
  map.listen("10.244.1.2", 40001);
  assert.deepEqual(map.resolve("10.244.1.2", 8080), {
    kind: "listener",
    port: 40001,
    reason: "default/web-1 listens",
  });
  assert.equal(map.resolve("10.244.1.2", 9090)?.kind, "refused");
  map.close("10.244.1.2");
  assert.equal(map.resolve("10.244.1.2", 8080)?.kind, "refused");
});

test("a dead node's addresses refuse, then go silent, and nothing revives them", () => {
  const map = mapWithPod();
  map.listen("10.244.1.2", 40001);
  map.assign("10.244.2.2", { node: "node-b", pod: "default/web-2", ports: [8080] });
  map.listen("10.244.2.2", 40002);
  assert.deepEqual(map.killNode("node-a", "refuse"), ["10.244.1.2"]);
  assert.equal(map.resolve("10.244.1.2", 8080)?.kind, "refused");
  map.listen("10.244.1.2", 40003);
  map.close("10.244.1.2");
  assert.equal(map.resolve("10.244.1.2", 8080)?.kind, "refused");
  map.killNode("node-a", "blackhole");
  assert.equal(map.resolve("10.244.1.2", 8080)?.kind, "blackhole");
  assert.equal(map.resolve("10.244.1.2", 9999)?.kind, "blackhole");
  assert.equal(map.resolve("10.244.2.2", 8080)?.kind, "listener");
});

test("a reassigned IP belongs to its new pod", () => {
  const map = mapWithPod();
  map.close("10.244.1.2");
  map.assign("10.244.1.2", { node: "node-a", pod: "default/web-9", ports: [80] });
  map.listen("10.244.1.2", 40009);
  assert.equal(map.ownerOf("10.244.1.2"), "default/web-9");
  assert.equal(map.resolve("10.244.1.2", 80)?.kind, "listener");
});
