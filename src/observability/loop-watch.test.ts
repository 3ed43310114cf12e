import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../domain/clock.ts";
import { LoopWatch } from "./loop-watch.ts";
import { assessHealth } from "./server.ts";

/** /healthz as the controller computes it, from a LoopWatch on a fake clock. */
function live(clock: FakeClock, watch: LoopWatch): boolean {
  return assessHealth({
    now: clock.now(),
    loop: watch.state,
    maxStallMs: 60_000,
    informersSynced: true,
    leadership: { kind: "leader" },
  }).live.ok;
}

test("a reconcile that never returns fails /healthz after the limit, though the process keeps running", async () => {
  const clock = new FakeClock();
  const watch = new LoopWatch(clock);
  watch.begin();
  await clock.advance(59_000);
  assert.equal(live(clock, watch), true);
  await clock.advance(2_000);
  assert.equal(live(clock, watch), false);
});

test("a loop that reconciles and sleeps stays alive indefinitely", async () => {
  const clock = new FakeClock();
  const watch = new LoopWatch(clock);
  for (let i = 0; i < 100; i++) {
    watch.begin();
    await clock.advance(500);
    watch.end(clock.now() + 2_000);
    await clock.advance(2_000);
    assert.equal(live(clock, watch), true);
  }
});

test("a loop that stopped leading is not watched", async () => {
  const clock = new FakeClock();
  const watch = new LoopWatch(clock);
  watch.begin();
  watch.stop("stopped leading");
  await clock.advance(600_000);
  assert.equal(live(clock, watch), true);
});
