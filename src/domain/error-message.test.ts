import assert from "node:assert/strict";
import { test } from "node:test";
import { errorMessage } from "./error-message.ts";

test("errorMessage: an Error's message, anything else as text", () => {
  assert.equal(errorMessage(new TypeError("bad input")), "bad input");
  assert.equal(errorMessage("plain"), "plain");
  assert.equal(errorMessage(42), "42");
  assert.equal(errorMessage(undefined), "undefined");
});
