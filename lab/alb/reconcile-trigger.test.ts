import { test } from "node:test";
import assert from "node:assert/strict";
import { ReconcileTrigger } from "./reconcile-trigger.ts";
import { ManualScheduler } from "./scheduler.ts";

const s = 1000;

/** A trigger on a manual clock that records when (seconds after the start) each reconcile ran. */
function fixture(reconcile: (ranAt: number) => Promise<void> = () => Promise.resolve()) {
  const scheduler = new ManualScheduler();
  const start = scheduler.now();
  const runs: number[] = [];
  const trigger = new ReconcileTrigger(scheduler, async () => {
    const at = (scheduler.now() - start) / s;
    runs.push(at);
    await reconcile(at);
  });
  return {
    scheduler,
    trigger,
    runs,
    at: (sec: number) => scheduler.advance(start + sec * s - scheduler.now()),
  };
}

test("a watch event during a pending 15 s requeue is reconciled after the 1 s delay, not at the requeue", async () => {
  const { trigger, runs, at } = fixture();
  trigger.request(15 * s); // a target is still `initial`: requeue in 15 s
  await at(3);
  trigger.request(1 * s); // a pod begins terminating
  await at(4);
  assert.deepEqual(runs, [4]);
  await at(30);
  assert.deepEqual(runs, [4], "the requeue was replaced by the earlier reconcile, not run as well");
});

test("a later request does not postpone an armed reconcile", async () => {
  const { trigger, runs, at } = fixture();
  trigger.request(1 * s);
  await at(0.5);
  trigger.request(15 * s);
  await at(20);
  assert.deepEqual(runs, [1]);
});

test("events inside an armed window coalesce into one reconcile", async () => {
  const { trigger, runs, at } = fixture();
  trigger.request(1 * s);
  await at(0.2);
  trigger.request(1 * s);
  await at(0.4);
  trigger.request(1 * s);
  await at(5);
  assert.deepEqual(runs, [1]);
});

test("a request while a reconcile runs runs it again afterwards, the earliest request winning", async () => {
  let release: () => void = () => undefined;
  const { trigger, runs, at } = fixture(
    (ranAt) =>
      new Promise<void>((resolve) => {
        if (ranAt === 1) release = resolve;
        else resolve();
      }),
  );
  trigger.request(1 * s);
  await at(1); // the first reconcile starts and hangs
  trigger.request(15 * s); // its own requeue
  trigger.request(1 * s); // a watch event meanwhile
  assert.equal(trigger.pending, true);
  await at(2);
  release();
  await at(2); // finishes at 2 s; the re-run is armed 1 s later
  await at(3);
  assert.deepEqual(runs, [1, 3]);
});

test("stop cancels the armed reconcile and ignores later requests", async () => {
  const { trigger, runs, at } = fixture();
  trigger.request(1 * s);
  trigger.stop();
  trigger.request(1 * s);
  await at(20);
  assert.deepEqual(runs, []);
  assert.equal(trigger.pending, false);
});
