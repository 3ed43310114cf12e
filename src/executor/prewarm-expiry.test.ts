import { test } from "node:test";
import assert from "node:assert/strict";
import { anEvacuation, T0 } from "../../test/fixtures/snapshot-builders.ts";
import { expirePrewarm } from "./prewarm-expiry.ts";

const prewarm = anEvacuation({ mode: "prewarm", deadline: null, noticedAt: T0, phase: "Surging" });

test("a pre-warm younger than the timeout is left alone", () => {
  assert.equal(expirePrewarm(prewarm, T0 + 1_799_000, 1800), null);
});

test("a pre-warm past the timeout becomes an evacuation without a deadline, and says why", () => {
  const expiry = expirePrewarm(prewarm, T0 + 1_800_000, 1800);
  assert.ok(expiry !== null);
  assert.equal(expiry.evacuation.mode, "evacuate");
  assert.equal(expiry.evacuation.deadline, null);
  assert.match(expiry.reason, /no interruption warning within 1800 s/);
});

test("a pre-warm that learned its deadline, an evacuation, or a finished one never expires", () => {
  assert.equal(expirePrewarm({ ...prewarm, deadline: T0 + 60_000 }, T0 + 9_999_999, 1800), null);
  assert.equal(expirePrewarm({ ...prewarm, mode: "evacuate" }, T0 + 9_999_999, 1800), null);
  assert.equal(expirePrewarm({ ...prewarm, phase: "Done" }, T0 + 9_999_999, 1800), null);
});
