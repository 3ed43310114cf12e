import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CidrAllocator, CidrExhaustedError, InvalidCidrError, ipToNumber, numberToIp } from "./cidr.ts";

test("a /24 hands out .2 to .254: never the network, gateway or broadcast address", () => {
  const cidr = new CidrAllocator("10.244.3.0/24");
  assert.equal(cidr.capacity, 253);
  assert.equal(cidr.allocate(), "10.244.3.2");
  assert.equal(cidr.allocate(), "10.244.3.3");
  assert.equal(cidr.contains("10.244.3.1"), false);
  assert.equal(cidr.contains("10.244.3.255"), false);
  assert.equal(cidr.contains("10.244.3.254"), true);
});

test("allocation is next-fit: a released address is reused only after the others", () => {
  const cidr = new CidrAllocator("10.0.0.0/29"); // .2 .. .6
  const first = cidr.allocate();
  cidr.release(first);
  const next = [cidr.allocate(), cidr.allocate(), cidr.allocate(), cidr.allocate(), cidr.allocate()];
  assert.deepEqual(next, ["10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.2"]);
  assert.throws(() => cidr.allocate(), CidrExhaustedError);
});

test("reserve takes an address found on an existing pod, once", () => {
  const cidr = new CidrAllocator("10.244.1.0/24");
  assert.equal(cidr.reserve("10.244.1.2"), true);
  assert.equal(cidr.reserve("10.244.1.2"), false);
  assert.equal(cidr.reserve("10.244.2.9"), false);
  assert.equal(cidr.allocate(), "10.244.1.3");
});

test("a host address inside the CIDR is accepted as its network; nonsense is rejected", () => {
  assert.equal(new CidrAllocator("10.244.7.77/24").allocate(), "10.244.7.2");
  assert.throws(() => new CidrAllocator("fd00::/64"), InvalidCidrError);
  assert.throws(() => new CidrAllocator("10.0.0.0/31"), InvalidCidrError);
});

test("ip <-> number round-trips", () => {
  fc.assert(fc.property(fc.ipV4(), (ip) => numberToIp(ipToNumber(ip) ?? -1) === ip));
});

test("allocated addresses are distinct and inside the range until exhaustion", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 24, max: 30 }),
      fc.array(fc.boolean(), { maxLength: 300 }),
      (prefix, releases) => {
        const cidr = new CidrAllocator(`10.1.0.0/${prefix}`);
        const live = new Set<string>();
        for (const release of releases) {
          if (release && live.size > 0) {
            const ip = [...live][0] ?? "";
            live.delete(ip);
            cidr.release(ip);
            continue;
          }
          if (live.size === cidr.capacity) {
            assert.throws(() => cidr.allocate(), CidrExhaustedError);
            continue;
          }
          const ip = cidr.allocate();
          assert.equal(live.has(ip), false);
          assert.equal(cidr.contains(ip), true);
          live.add(ip);
        }
        assert.equal(cidr.inUse, live.size);
      },
    ),
  );
});
