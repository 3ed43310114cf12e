import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { FLAGS_DOC, loadAgentConfig, withAgentTable } from "./agent-config.ts";
import { ConfigError } from "./load.ts";

test("docs/flags.md lists the agent's flags as the code declares them (node src/config/agent-config.ts --write)", () => {
  const text = readFileSync(FLAGS_DOC, "utf8");
  assert.equal(withAgentTable(text), text);
});

test("defaults, then env, then flags; NODE_NAME is honoured after LIFEBOAT_NODE_NAME", () => {
  const c = loadAgentConfig({}, { NODE_NAME: "ip-10-0-1-2.ec2.internal" });
  assert.deepEqual(c, {
    nodeName: "ip-10-0-1-2.ec2.internal",
    kubeconfig: undefined,
    imdsEndpoint: "http://169.254.169.254",
    imdsPollSeconds: 5,
    asgTerminateDeadlineSeconds: 0,
    healthAddr: { host: "0.0.0.0", port: 8095 },
    logLevel: "info",
  });
  const f = loadAgentConfig(
    { imdsPollSeconds: "2", nodeName: "a" },
    { LIFEBOAT_NODE_NAME: "b", NODE_NAME: "c", LIFEBOAT_IMDS_POLL_SECONDS: "3" },
  );
  assert.equal(f.nodeName, "a");
  assert.equal(f.imdsPollSeconds, 2);
});

test("the node name is required; bad values are named by where they came from", () => {
  assert.throws(
    () => loadAgentConfig({}, {}),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.problems[0] ?? "", /^--node-name \(or LIFEBOAT_NODE_NAME, NODE_NAME\) is required/);
      return true;
    },
  );
  assert.throws(
    () =>
      loadAgentConfig({ nodeName: "n" }, { LIFEBOAT_IMDS_POLL_SECONDS: "0", LIFEBOAT_IMDS_ENDPOINT: "nope" }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems, [
        "LIFEBOAT_IMDS_ENDPOINT must be an http(s) URL, got 'nope'",
        "LIFEBOAT_IMDS_POLL_SECONDS must be a number > 0 and <= 60, got '0'",
      ]);
      return true;
    },
  );
});
