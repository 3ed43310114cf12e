import { test } from "node:test";
import assert from "node:assert/strict";
import { Serial } from "./serial.ts";

test("sections run one at a time, in call order, and a failing one does not stop the next", async () => {
  const serial = new Serial();
  const log: string[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const first = serial.run(async () => {
    log.push("first:start");
    await gate;
    log.push("first:end");
  });
  const second = serial.run(() => {
    log.push("second");
    return Promise.reject(new Error("boom"));
  });
  const third = serial.run(() => {
    log.push("third");
    return Promise.resolve(3);
  });
  await Promise.resolve();
  assert.deepEqual(log, ["first:start"], "nothing else runs while the first section is in progress");
  release();
  await first;
  await assert.rejects(second, /boom/);
  assert.equal(await third, 3);
  assert.deepEqual(log, ["first:start", "first:end", "second", "third"]);
});

test("idle resolves once no section is running or waiting, including sections added meanwhile", async () => {
  const serial = new Serial();
  await serial.idle();
  const releases: (() => void)[] = [];
  const hold = (): Promise<void> => new Promise<void>((r) => releases.push(r));
  void serial.run(hold);
  let idle = false;
  const waiting = serial.idle().then(() => (idle = true));
  await new Promise((r) => setImmediate(r));
  void serial.run(hold); // queued while idle() waits for the first
  releases[0]?.();
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  assert.equal(idle, false, "idle while a section queued meanwhile is still running");
  releases[1]?.();
  await waiting;
  assert.equal(idle, true);
});
