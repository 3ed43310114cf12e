import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Command } from "commander";
import fc from "fast-check";
import { ConfigError, configForLog, loadConfig } from "./load.ts";
import { CONFIG_KEYS, FIELDS, envName, flagName, parseListenAddress } from "./schema.ts";
import type { ConfigKey } from "./schema.ts";
import { registerRunFlags } from "./flags.ts";
import {
  REBALANCE_POLICIES,
  formatNodeGroupPolicies,
  parseNodeGroupPolicies,
  rebalancePolicyFor,
} from "./node-groups.ts";
import { EVACUATION_CRD_PATH } from "./crd-path.ts";
import { existsSync } from "node:fs";

const deps = { hostname: () => "host-a", randomSuffix: () => "abc123" };

function load(flags: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}) {
  return loadConfig(flags, env, deps);
}

function problemsOf(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    load(flags, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail("expected loadConfig to throw");
}

describe("defaults", () => {
  test("an empty command line and environment give the documented defaults", () => {
    const config = load();
    assert.deepEqual(configForLog(config), {
      dryRun: false,
      kubeApiQps: 200,
      kubeApiBurst: 300,
      awsRegion: "us-east-1",
      sqsWaitSeconds: 20,
      sqsMaxMessages: 10,
      sqsConcurrency: 100,
      sqsVisibilityTimeoutSeconds: 15,
      malformedMessagePolicy: "keep",
      unknownMessagePolicy: "delete",
      foreignInstancePolicy: "delete",
      watchNodeAnnotation: true,
      asgHeartbeatSeconds: 30,
      rebalancePolicy: "prewarm",
      rebalancePolicyByNodeGroup: "",
      prewarmTimeoutSeconds: 1800,
      lbPropagationSeconds: 20,
      safetyMarginSeconds: 10,
      inFlightSeconds: 5,
      defaultReadySeconds: 90,
      deletionCost: -100000,
      reconcileIntervalSeconds: 2,
      giveUpAfterSeconds: 900,
      evacuationTtlSeconds: 86400,
      evacuationTaintKey: "lifeboat.dev/evacuating",
      excludeFromLoadBalancers: true,
      headroomNodes: 1,
      headroomScope: "node-group",
      headroomCpu: null,
      headroomMemory: null,
      headroomNamespace: "lifeboat-system",
      headroomPriorityClass: "lifeboat-headroom",
      headroomPriority: -10,
      headroomImage: "registry.k8s.io/pause:3.10",
      headroomIntervalSeconds: 15,
      earlyNode: false,
      poolSteeringThreshold: 2,
      poolSteeringWindowSeconds: 300,
      poolSteeringSeconds: 1800,
      leaderElect: true,
      leaderElectionNamespace: "kube-system",
      leaseName: "lifeboat",
      leaseDurationSeconds: 15,
      renewDeadlineSeconds: 10,
      retryPeriodSeconds: 2,
      metricsAddr: "0.0.0.0:8080",
      healthAddr: "0.0.0.0:8081",
      logLevel: "info",
      identity: "host-a_abc123",
    });
    assert.equal(config.kubeconfig, undefined);
    assert.equal(config.queueUrl, undefined);
    assert.equal(config.awsEndpoint, undefined);
  });

  test("every documented default, given explicitly, gives the same config as leaving it unset", () => {
    const defaults = load();
    for (const key of CONFIG_KEYS) {
      const text = FIELDS[key].doc.defaultText;
      if (/unset|\$|hostname/.test(text)) continue; // computed or absent defaults
      const given = load({ [key]: text === "empty" ? "" : text });
      assert.deepEqual(
        given,
        defaults,
        `default text of ${key} ('${text}') does not match the schema default`,
      );
    }
  });
});

describe("precedence: flag, then LIFEBOAT_* env, then default", () => {
  test("a flag beats the env var, which beats the default", () => {
    assert.equal(load({}, {}).lbPropagationSeconds, 20);
    assert.equal(load({}, { LIFEBOAT_LB_PROPAGATION_SECONDS: "25" }).lbPropagationSeconds, 25);
    assert.equal(
      load({ lbPropagationSeconds: "30" }, { LIFEBOAT_LB_PROPAGATION_SECONDS: "25" }).lbPropagationSeconds,
      30,
    );
  });

  test("an empty flag or env var counts as unset", () => {
    assert.equal(
      load({ queueUrl: "" }, { LIFEBOAT_QUEUE_URL: "http://127.0.0.1:5000/1/q" }).queueUrl,
      "http://127.0.0.1:5000/1/q",
    );
    assert.equal(load({}, { LIFEBOAT_SQS_CONCURRENCY: "  " }).sqsConcurrency, 100);
  });

  test("KUBECONFIG and AWS_REGION are honoured after their LIFEBOAT_ names", () => {
    assert.equal(load({}, { KUBECONFIG: "/k" }).kubeconfig, "/k");
    assert.equal(load({}, { KUBECONFIG: "/k", LIFEBOAT_KUBECONFIG: "/l" }).kubeconfig, "/l");
    assert.equal(
      load({ kubeconfig: "/f" }, { KUBECONFIG: "/k", LIFEBOAT_KUBECONFIG: "/l" }).kubeconfig,
      "/f",
    );
    assert.equal(load({}, { AWS_REGION: "eu-west-1" }).awsRegion, "eu-west-1");
    assert.equal(
      load({}, { AWS_REGION: "eu-west-1", LIFEBOAT_AWS_REGION: "ap-south-1" }).awsRegion,
      "ap-south-1",
    );
  });

  test("booleans accept true/false/1/0/yes/no/on/off and native booleans", () => {
    for (const [text, value] of [
      ["true", true],
      ["1", true],
      ["YES", true],
      ["on", true],
      ["false", false],
      ["0", false],
      ["no", false],
      ["off", false],
    ] as const) {
      assert.equal(load({}, { LIFEBOAT_DRY_RUN: text }).dryRun, value, text);
    }
    assert.equal(load({ leaderElect: false }).leaderElect, false);
  });

  test("identity: explicit value wins, else hostname plus random suffix", () => {
    assert.equal(load({}, { LIFEBOAT_IDENTITY: "lifeboat-7d9f-x2" }).identity, "lifeboat-7d9f-x2");
    assert.equal(load().identity, "host-a_abc123");
  });

  test("unknown flags and unrelated LIFEBOAT_ env vars (Kubernetes service links) are ignored", () => {
    const config = load(
      { verbose: true },
      { LIFEBOAT_SERVICE_HOST: "10.0.0.1", LIFEBOAT_PORT: "tcp://10.0.0.1:8080" },
    );
    assert.equal(config.dryRun, false);
  });

  test("listen addresses parse host:port, :port and [v6]:port", () => {
    assert.deepEqual(load({ metricsAddr: ":9090" }).metricsAddr, { host: "0.0.0.0", port: 9090 });
    assert.deepEqual(load({ metricsAddr: "127.0.0.1:0" }).metricsAddr, { host: "127.0.0.1", port: 0 });
    assert.deepEqual(parseListenAddress("[::1]:8080"), { host: "::1", port: 8080 });
    assert.equal(parseListenAddress("host:70000"), null);
    assert.equal(parseListenAddress("8080"), null);
  });
});

describe("validation errors name the flag or env var, the expectation and the value", () => {
  const bad: [ConfigKey, unknown, string][] = [
    ["identity", "x".repeat(129), "must be a non-empty string of at most 128 characters"],
    ["dryRun", "maybe", "must be true or false, got 'maybe'"],
    ["kubeApiQps", "0", "must be a number above 0, at most 10000, got '0'"],
    ["kubeApiBurst", "0.5", "must be a whole number from 1 to 100000, got '0.5'"],
    ["queueUrl", "not a url", "must be an http(s) URL, got 'not a url'"],
    ["queueUrl", "ftp://example.invalid/q", "must be an http(s) URL"],
    ["awsRegion", "Mars", "must be an AWS region name such as us-east-1, got 'Mars'"],
    ["awsEndpoint", "localhost", "must be an http(s) URL, got 'localhost'"],
    ["sqsWaitSeconds", "21", "must be a whole number from 0 to 20, got '21'"],
    ["sqsWaitSeconds", "2.5", "must be a whole number from 0 to 20, got '2.5'"],
    ["sqsMaxMessages", "0", "must be a whole number from 1 to 10, got '0'"],
    ["sqsConcurrency", "0", "must be a whole number from 1 to 1000, got '0'"],
    ["sqsVisibilityTimeoutSeconds", "43201", "must be a whole number from 1 to 43200"],
    ["malformedMessagePolicy", "drop", "must be one of keep, delete, got 'drop'"],
    ["unknownMessagePolicy", "drop", "must be one of keep, delete, got 'drop'"],
    ["foreignInstancePolicy", "drop", "must be one of keep, delete, got 'drop'"],
    ["watchNodeAnnotation", "2", "must be true or false, got '2'"],
    ["asgHeartbeatSeconds", "7201", "must be a number > 0 and <= 7200"],
    ["rebalancePolicy", "panic", "must be one of ignore, taint, prewarm, evacuate, got 'panic'"],
    ["rebalancePolicyByNodeGroup", "a", "entry 'a' is not of the form group=policy"],
    ["prewarmTimeoutSeconds", "0", "must be a number > 0, got '0'"],
    ["lbPropagationSeconds", "abc", "must be a number >= 0, got 'abc'"],
    ["lbPropagationSeconds", "-1", "must be a number >= 0, got '-1'"],
    ["safetyMarginSeconds", "Infinity", "must be a number >= 0, got 'Infinity'"],
    ["inFlightSeconds", "-0.5", "must be a number >= 0"],
    ["defaultReadySeconds", "ninety", "must be a number >= 0, got 'ninety'"],
    ["deletionCost", "-2147483649", "must be a whole number in the int32 range"],
    ["reconcileIntervalSeconds", "0", "must be a number > 0 and <= 60"],
    ["giveUpAfterSeconds", "0", "must be a number > 0, got '0'"],
    ["evacuationTtlSeconds", "-1", "must be a number >= 0, got '-1'"],
    ["evacuationTaintKey", "bad key", "must be a valid taint key"],
    ["excludeFromLoadBalancers", "sure", "must be true or false"],
    ["headroomNodes", "-1", "must be a whole number from 0 to 100, got '-1'"],
    ["headroomScope", "region", "must be one of node-group, zone, got 'region'"],
    ["headroomCpu", "lots", "must be a Kubernetes quantity > 0 such as 500m or 2, or empty, got 'lots'"],
    ["headroomMemory", "0", "must be a Kubernetes quantity > 0 such as 512Mi or 2Gi, or empty, got '0'"],
    ["headroomNamespace", "Lifeboat", "must be a namespace name (DNS label)"],
    ["headroomPriorityClass", "_x", "must be a PriorityClass name (DNS subdomain)"],
    ["headroomPriority", "0", "must be a whole number below 0, got '0'"],
    ["headroomImage", "pause 3.10", "must be a container image reference"],
    ["headroomIntervalSeconds", "0", "must be a number > 0 and <= 3600"],
    ["earlyNode", "soon", "must be true or false, got 'soon'"],
    ["poolSteeringThreshold", "-1", "must be a whole number from 0 to 1000, got '-1'"],
    ["poolSteeringWindowSeconds", "0", "must be a number > 0, got '0'"],
    ["poolSteeringSeconds", "soon", "must be a number > 0, got 'soon'"],
    ["leaderElect", "perhaps", "must be true or false"],
    ["leaderElectionNamespace", "Kube_System", "must be a namespace name (DNS label)"],
    ["leaseName", "-lease", "must be a Lease name (DNS subdomain)"],
    ["leaseDurationSeconds", "0", "must be a whole number of seconds >= 1 (the Lease stores whole seconds)"],
    // A fractional duration used to pass and then every Lease write failed (spec.leaseDurationSeconds is int32).
    [
      "leaseDurationSeconds",
      "3.75",
      "must be a whole number of seconds >= 1 (the Lease stores whole seconds), got '3.75'",
    ],
    ["renewDeadlineSeconds", "x", "must be a number > 0"],
    ["retryPeriodSeconds", "-2", "must be a number > 0"],
    ["metricsAddr", "8080", "must be host:port, got '8080': expected host:port"],
    ["healthAddr", "h:99999", "must be host:port, got 'h:99999'"],
    ["logLevel", "loud", "must be one of trace, debug, info, warn, error, fatal, silent, got 'loud'"],
  ];

  for (const [key, value, expected] of bad) {
    test(`${key} = ${JSON.stringify(value).slice(0, 40)}`, () => {
      const viaFlag = problemsOf({ [key]: value });
      assert.equal(viaFlag.length, 1, viaFlag.join("\n"));
      assert.ok(viaFlag[0]!.startsWith(`${flagName(key)} `), viaFlag[0]);
      assert.ok(viaFlag[0]!.includes(expected), `'${viaFlag[0]!}' should include '${expected}'`);
      const viaEnv = problemsOf({}, { [envName(key)]: String(value) });
      assert.ok(viaEnv[0]!.startsWith(`${envName(key)} `), viaEnv[0]);
    });
  }

  test("every field with a constraint has a case above", () => {
    const covered = new Set(bad.map(([key]) => key));
    const unconstrained = new Set<ConfigKey>(["kubeconfig", "context"]);
    for (const key of CONFIG_KEYS)
      if (!unconstrained.has(key)) assert.ok(covered.has(key), `no bad-value test for ${key}`);
  });

  test("the exact sentence for a bad number", () => {
    assert.deepEqual(problemsOf({ lbPropagationSeconds: "abc" }), [
      "--lb-propagation-seconds must be a number >= 0, got 'abc'",
    ]);
  });

  test("all problems are reported at once, in field order", () => {
    const problems = problemsOf(
      { sqsWaitSeconds: "99", logLevel: "loud" },
      { LIFEBOAT_LB_PROPAGATION_SECONDS: "abc" },
    );
    assert.equal(problems.length, 3);
    assert.match(problems[0]!, /^--sqs-wait-seconds/);
    assert.match(problems[1]!, /^LIFEBOAT_LB_PROPAGATION_SECONDS/);
    assert.match(problems[2]!, /^--log-level/);
  });

  test("ConfigError's message lists every problem", () => {
    assert.throws(
      () => load({ sqsWaitSeconds: "99", logLevel: "loud" }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message.startsWith("invalid configuration:\n  - --sqs-wait-seconds") &&
        error.message.includes("\n  - --log-level"),
    );
  });
});

describe("rules between fields", () => {
  test("renew deadline must be below the lease duration", () => {
    assert.deepEqual(problemsOf({ renewDeadlineSeconds: "15" }), [
      "--renew-deadline-seconds (15) must be less than --lease-duration-seconds (15): a leader must give up before a standby may take the lease over",
    ]);
  });

  test("retry period must be below the renew deadline", () => {
    const problems = problemsOf({}, { LIFEBOAT_RETRY_PERIOD_SECONDS: "10" });
    assert.equal(problems.length, 1);
    assert.match(
      problems[0]!,
      /^LIFEBOAT_RETRY_PERIOD_SECONDS \(10\) must be less than --renew-deadline-seconds \(10\)/,
    );
  });

  test("lease timings are not checked when leader election is off", () => {
    assert.equal(load({ leaderElect: "false", renewDeadlineSeconds: "30" }).renewDeadlineSeconds, 30);
  });

  test("both cross-field problems are reported together", () => {
    assert.equal(
      problemsOf({ leaseDurationSeconds: "5" }, { LIFEBOAT_RETRY_PERIOD_SECONDS: "10" }).length,
      2,
    );
  });

  test("the controller has no IMDS flags: IMDS is lifeboat agent's (one per node)", () => {
    for (const key of ["imdsEnabled", "imdsEndpoint", "imdsPollSeconds", "nodeName"]) {
      assert.ok(!(CONFIG_KEYS as string[]).includes(key), key);
    }
  });
});

describe("node-group rebalance policies", () => {
  test("parses group=policy lists with whitespace", () => {
    const parsed = parseNodeGroupPolicies(" web-spot = evacuate , batch=ignore");
    assert.deepEqual(parsed, {
      ok: true,
      value: new Map([
        ["web-spot", "evacuate"],
        ["batch", "ignore"],
      ]),
    });
    assert.deepEqual(parseNodeGroupPolicies(""), { ok: true, value: new Map() });
  });

  test("reports every problem in the list", () => {
    const parsed = parseNodeGroupPolicies("a=evacuate,,b,=taint,c=panic,a=ignore");
    assert.deepEqual(parsed, {
      ok: false,
      problems: [
        "empty entry (two commas in a row, or a trailing comma)",
        "entry 'b' is not of the form group=policy",
        "entry '=taint' has no node group name before '='",
        "node group 'c' has policy 'panic', expected one of ignore, taint, prewarm, evacuate",
        "node group 'a' is listed more than once",
      ],
    });
  });

  test("loadConfig returns the map, and errors carry the parser's details", () => {
    assert.equal(
      load({ rebalancePolicyByNodeGroup: "a=taint" }).rebalancePolicyByNodeGroup.get("a"),
      "taint",
    );
    assert.deepEqual(problemsOf({}, { LIFEBOAT_REBALANCE_POLICY_BY_NODE_GROUP: "a=x" }), [
      "LIFEBOAT_REBALANCE_POLICY_BY_NODE_GROUP must be a list of group=policy (policy: ignore, taint, prewarm, evacuate), got 'a=x': node group 'a' has policy 'x', expected one of ignore, taint, prewarm, evacuate",
    ]);
  });

  test("format then parse gives the same map (property)", () => {
    const group = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/);
    const policies = fc.uniqueArray(fc.tuple(group, fc.constantFrom(...REBALANCE_POLICIES)), {
      selector: ([g]) => g,
    });
    fc.assert(
      fc.property(policies, (entries) => {
        const map = new Map(entries);
        assert.deepEqual(parseNodeGroupPolicies(formatNodeGroupPolicies(map)), { ok: true, value: map });
      }),
    );
  });

  test("rebalancePolicyFor: the group's entry, else the global policy, with a reason", () => {
    const config = load({ rebalancePolicy: "taint", rebalancePolicyByNodeGroup: "web=evacuate" });
    assert.deepEqual(rebalancePolicyFor(config, "web"), {
      policy: "evacuate",
      reason: "node group 'web' is set to 'evacuate'",
    });
    assert.deepEqual(rebalancePolicyFor(config, "batch"), {
      policy: "taint",
      reason: "node group 'batch' has no entry; global rebalance policy is 'taint'",
    });
    assert.equal(rebalancePolicyFor(config, undefined).policy, "taint");
  });
});

describe("flags", () => {
  function runCommand(): Command {
    const command = new Command("run")
      .exitOverride()
      .configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
    return registerRunFlags(command);
  }

  test("names: camelCase field to --kebab flag and LIFEBOAT_UPPER_SNAKE env var", () => {
    assert.equal(flagName("lbPropagationSeconds"), "--lb-propagation-seconds");
    assert.equal(envName("lbPropagationSeconds"), "LIFEBOAT_LB_PROPAGATION_SECONDS");
    assert.equal(envName("kubeconfig"), "LIFEBOAT_KUBECONFIG");
  });

  test("parsed flags feed loadConfig, and unset flags stay undefined so env vars still apply", () => {
    const command = runCommand();
    command.parse(
      [
        "--lb-propagation-seconds",
        "3",
        "--dry-run",
        "--leader-elect=false",
        "--queue-url=http://127.0.0.1:5000/1/q",
      ],
      { from: "user" },
    );
    const opts = command.opts();
    assert.equal(opts["safetyMarginSeconds"], undefined);
    const config = load(opts, { LIFEBOAT_SAFETY_MARGIN_SECONDS: "7", LIFEBOAT_LB_PROPAGATION_SECONDS: "99" });
    assert.equal(config.lbPropagationSeconds, 3);
    assert.equal(config.safetyMarginSeconds, 7);
    assert.equal(config.dryRun, true);
    assert.equal(config.leaderElect, false);
    assert.equal(config.queueUrl, "http://127.0.0.1:5000/1/q");
  });

  test("--help documents every flag with its env var and default", () => {
    const help = runCommand().helpInformation();
    for (const key of CONFIG_KEYS) {
      assert.ok(help.includes(flagName(key)), `help lacks ${flagName(key)}`);
      assert.ok(help.includes(envName(key)), `help lacks ${envName(key)}`);
    }
    assert.match(help, /Evacuation budgets and actions:/);
    assert.match(help, /default: 20; env: LIFEBOAT_LB_PROPAGATION_SECONDS/);
  });

  test("the CRD path points at the shipped manifest", () => {
    assert.ok(existsSync(EVACUATION_CRD_PATH), EVACUATION_CRD_PATH);
  });
});
