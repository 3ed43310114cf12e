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
