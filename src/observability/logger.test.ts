import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../domain/clock.ts";
import { createLogger, formatPrettyLine } from "./logger.ts";

function collect() {
  const lines: string[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(line) } };
}

test("writes one JSON object per line with a level label and the clock's time", () => {
  const { lines, destination } = collect();
  const logger = createLogger({
    level: "info",
    destination,
    clock: new FakeClock(Date.parse("2026-11-24T12:00:01.250Z")),
    base: { identity: "a" },
  });
  logger.child({ node: "n1" }).info({ pods: 3 }, "surge created");
  logger.debug("not written at info");
  assert.equal(lines.length, 1);
  const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(entry["level"], "info");
  assert.equal(entry["time"], "2026-11-24T12:00:01.250Z");
  assert.equal(entry["msg"], "surge created");
  assert.equal(entry["node"], "n1");
  assert.equal(entry["pods"], 3);
  assert.equal(entry["identity"], "a");
  assert.equal(entry["name"], "lifeboat");
});

test("pretty mode prints a readable line", () => {
  const { lines, destination } = collect();
  const logger = createLogger({
    level: "debug",
    pretty: true,
    destination,
    clock: new FakeClock(Date.parse("2026-11-24T12:00:01.250Z")),
  });
  logger.warn({ node: "n1", slack: -2 }, "deadline missed");
  assert.deepEqual(lines, ["12:00:01.250 WARN  deadline missed node=n1 slack=-2\n"]);
  assert.equal(formatPrettyLine("not json"), "not json");
});
