import { test } from "node:test";
import assert from "node:assert/strict";
import { scheduledChangeKind } from "./notice.ts";

test("a scheduled change is a retirement (retirement, stop), a reboot, or else maintenance", () => {
  assert.equal(scheduledChangeKind("instance-retirement"), "retirement");
  assert.equal(scheduledChangeKind("instance-stop"), "retirement");
  assert.equal(scheduledChangeKind("AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED"), "retirement");
  assert.equal(scheduledChangeKind("instance-reboot"), "reboot");
  assert.equal(scheduledChangeKind("system-reboot"), "reboot");
  assert.equal(scheduledChangeKind("system-maintenance"), "maintenance");
  assert.equal(scheduledChangeKind("AWS_EC2_INSTANCE_NONSTOP_THING"), "maintenance", "whole words only");
  assert.equal(scheduledChangeKind(undefined), "maintenance");
});
