import { test } from "node:test";
import assert from "node:assert/strict";
import { planPreStop, sleepSecondsOfCommand, sleepSecondsOfScript } from "./prestop.ts";
import { container } from "./testing/pods.ts";

test("a plain sleep command is its argument in seconds", () => {
  assert.equal(sleepSecondsOfCommand(["sleep", "20"]), 20);
  assert.equal(sleepSecondsOfCommand(["/bin/sleep", "20s"]), 20);
  assert.equal(sleepSecondsOfCommand(["/usr/bin/sleep", "1.5"]), 1.5);
  assert.equal(sleepSecondsOfCommand(["sleep", "2m"]), 120);
});

test("a shell script sleeps for the sum of its sleep commands", () => {
  assert.equal(sleepSecondsOfCommand(["sh", "-c", "sleep 20 && nginx -s quit"]), 20);
  assert.equal(sleepSecondsOfCommand(["/bin/bash", "-ec", "sleep 5; kill -TERM 1; sleep 10"]), 15);
  assert.equal(sleepSecondsOfScript("echo draining; /bin/sleep 7"), 7);
});

test("commands without a sleep, or with an unparsable one, are not emulated", () => {
  assert.equal(sleepSecondsOfCommand(["nginx", "-s", "quit"]), null);
  assert.equal(sleepSecondsOfCommand(["sh", "-c", "echo bye"]), null);
  assert.equal(sleepSecondsOfCommand(["sleep", "infinity"]), null);
  assert.equal(sleepSecondsOfScript("nosleep 5"), null);
  assert.equal(sleepSecondsOfCommand([]), null);
});

test("planPreStop reads exec, the native sleep action, and reports why it skips", () => {
  const exec = planPreStop(
    container({ lifecycle: { preStop: { exec: { command: ["sh", "-c", "sleep 20"] } } } }),
  );
  assert.deepEqual(
    { kind: exec.kind, seconds: exec.kind === "sleep" ? exec.seconds : -1 },
    { kind: "sleep", seconds: 20 },
  );

  const native = planPreStop(container({ lifecycle: { preStop: { sleep: { seconds: 15 } } } }));
  assert.equal(native.kind === "sleep" ? native.seconds : -1, 15);

  const none = planPreStop(container());
  assert.equal(none.kind, "none");
  assert.match(none.reason, /no preStop/);

  const http = planPreStop(container({ lifecycle: { preStop: { httpGet: { path: "/quit", port: 8080 } } } }));
  assert.equal(http.kind, "none");
  assert.match(http.reason, /httpGet/);
});
