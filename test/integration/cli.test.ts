/**
 * The CLI as a user runs it: `lifeboat plan` against the lab prints the steps and reasons without changing
 * anything; `--help` documents every command; bad configuration is a clear error with exit code 2. The
 * laptop commands (plan, evacuate, get) take --kubeconfig, --context and -o json|yaml|table and run as a
 * kubectl plugin; the first minute without a cluster says what is missing within seconds.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { parse } from "yaml";
import { labBinaries } from "../../lab/controlplane/binaries.ts";
import { startLab, type Lab } from "../../lab/lab.ts";
import { deployment } from "../../lab/workloads.ts";
import { GROUP, PLURAL, VERSION } from "../../src/state/evacuation-resource.ts";
import { waitFor } from "../helpers/wait.ts";

const run = promisify(execFile);
const CLI = join(import.meta.dirname, "..", "..", "bin", "lifeboat.js");
const LAB_CLI = join(import.meta.dirname, "..", "..", "bin", "lifeboat-lab.js");
let lab: Lab;
/** A temporary HOME without ~/.kube/config, and a folder for kubeconfigs. */
let home: string;

before(async () => {
  home = await mkdtemp(join(tmpdir(), "lifeboat-cli-"));
  lab = await startLab({
    nodeGroups: [{ name: "spot-a", zone: "us-east-1a", count: 3 }],
    timeScale: 0.2,
    runtime: { timeScale: 1 },
  });
  await lab.apps.createNamespacedDeployment({
    namespace: "default",
    body: deployment({
      name: "web",
      replicas: 3,
      onePerNode: true,
      preStopSeconds: 5,
      readiness: { initialDelaySeconds: 1, periodSeconds: 1, failureThreshold: 2 },
      timings: { pullSeconds: 0.2 },
    }),
  });
  for (let i = 0; i < 100; i++) {
    const d = await lab.apps.readNamespacedDeployment({ name: "web", namespace: "default" });
    if ((d.status?.readyReplicas ?? 0) === 3) break;
    await new Promise((r) => setTimeout(r, 200));
  }
});

after(async () => {
  await lab[Symbol.asyncDispose]();
  await rm(home, { recursive: true, force: true });
});

test("lifeboat plan NODE prints cordon, surge and the short-preStop warning with reasons, and changes nothing", async () => {
  const pods = (await lab.core.listNamespacedPod({ namespace: "default" })).items;
  const node = pods[0]?.spec?.nodeName ?? "";
  const { stdout } = await run(process.execPath, [
    CLI,
    "plan",
    node,
    "--deadline",
    "2m",
    "--kubeconfig",
    lab.kubeconfigPath,
  ]);
  assert.match(
    stdout,
    new RegExp(`Plan for node ${node.replaceAll(".", "\\.")} with a deadline 120 s from now`),
  );
  assert.match(stdout, /cordon/);
  assert.match(stdout, /surge/i);
  assert.match(stdout, /make before break/);
  assert.match(stdout, /preStop/, "the 5 s preStop is shorter than the 20 s propagation budget: warned");
  const after = await lab.core.readNode({ name: node });
  assert.notEqual(after.spec?.unschedulable, true, "plan does not cordon");
  const d = await lab.apps.readNamespacedDeployment({ name: "web", namespace: "default" });
  assert.equal(d.spec?.replicas, 3, "plan does not scale");
});

test("--help lists the commands, and run --help documents flags with their env vars and defaults", async () => {
  const { stdout } = await run(process.execPath, [CLI, "--help"]);
  for (const command of ["run", "evacuate", "plan", "get", "agent"])
    assert.match(stdout, new RegExp(`\\n  ${command} `));
  assert.doesNotMatch(stdout, /\n {2}lab /, "the lab has its own CLI");
  const labHelp = (await run(process.execPath, [LAB_CLI, "--help"])).stdout;
  for (const command of ["run", "demo"]) assert.match(labHelp, new RegExp(`\\n  ${command} `));
  const runHelp = (await run(process.execPath, [CLI, "run", "--help"])).stdout;
  assert.match(runHelp, /--queue-url/);
  assert.match(runHelp, /LIFEBOAT_LB_PROPAGATION_SECONDS/);
  assert.match(runHelp, /--dry-run/);
  assert.doesNotMatch(runHelp, /--imds/, "IMDS is lifeboat agent's");
  const agentHelp = (await run(process.execPath, [CLI, "agent", "--help"])).stdout;
  assert.match(agentHelp, /--node-name/);
  assert.match(agentHelp, /LIFEBOAT_IMDS_POLL_SECONDS/);
});

test("lifeboat agent without a node name is a clear configuration error with exit code 2", async () => {
  await assert.rejects(
    run(process.execPath, [CLI, "agent", "--kubeconfig", lab.kubeconfigPath]),
    (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /--node-name \(or LIFEBOAT_NODE_NAME, NODE_NAME\) is required/);
      return true;
    },
  );
});

test("a bad flag value is a clear configuration error with exit code 2", async () => {
  await assert.rejects(
    run(process.execPath, [
      CLI,
      "run",
      "--lb-propagation-seconds",
      "abc",
      "--kubeconfig",
      lab.kubeconfigPath,
    ]),
    (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /--lb-propagation-seconds must be a number >= 0, got 'abc'/);
      return true;
    },
  );
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

/** The CLI with only PATH and a HOME without ~/.kube/config: no KUBECONFIG, not in a cluster. */
function bare(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [CLI, ...args], {
    env: { PATH: process.env["PATH"] ?? "", HOME: home },
    timeout: 30_000,
  });
}

interface Failed {
  code: number;
  killed: boolean;
  stderr: string;
}

/** The lab's kubeconfig with a second context, `broken` (an API server that is not there), made current. */
async function twoContextKubeconfig(port: number): Promise<string> {
  const kc = parse(await readFile(lab.kubeconfigPath, "utf8")) as {
    clusters: { name: string; cluster: Record<string, unknown> }[];
    contexts: { name: string; context: { cluster: string; user: string } }[];
    "current-context": string;
  };
  const labContext = kc.contexts.find((c) => c.name === kc["current-context"]);
  assert.ok(labContext !== undefined);
  kc.clusters.push({ name: "broken", cluster: { server: `https://127.0.0.1:${port}` } });
  kc.contexts.push({ name: "broken", context: { cluster: "broken", user: labContext.context.user } });
  const labName = labContext.name;
  kc["current-context"] = "broken";
  const path = join(home, "two-contexts.yaml");
  await writeFile(path, JSON.stringify(kc));
  return `${path}\n${labName}`;
}

test("no kubeconfig anywhere: plan, evacuate, get and run say what is missing at once and exit 2", async () => {
  const commands = [
    ["plan", "ip-10-0-1-1.ec2.internal"],
    ["evacuate", "ip-10-0-1-1.ec2.internal"],
    ["get"],
    ["run", "--queue-url", "https://sqs.us-east-1.amazonaws.com/123456789012/q", "--aws-region", "us-east-1"],
  ];
  for (const args of commands) {
    await assert.rejects(bare(args), (err: Failed) => {
      assert.equal(err.killed, false, `${args.join(" ")}: answered within the 30 s bound`);
      assert.equal(err.code, 2, args.join(" "));
      assert.match(
        err.stderr,
        /no Kubernetes configuration found: --kubeconfig not given, KUBECONFIG not set, .*\/\.kube\/config does not exist, and not running in a cluster \(KUBERNETES_SERVICE_HOST not set\)/,
      );
      assert.doesNotMatch(err.stderr, /HTTP protocol is not allowed/);
      return true;
    });
  }
});

test("an API server that is not there: plan, evacuate and get name its URL and exit 1; run logs it and retries", async () => {
  const port = await closedPort();
  for (const scheme of ["https", "http"]) {
    const kubeconfig = join(home, `refused-${scheme}.yaml`);
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: `${scheme}://127.0.0.1:${port}` } }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      }),
    );
    for (const args of [["plan", "n1"], ["evacuate", "n1"], ["get"]]) {
      await assert.rejects(bare([...args, "--kubeconfig", kubeconfig]), (err: Failed) => {
        assert.equal(err.killed, false, `${args.join(" ")}: answered within the 30 s bound`);
        assert.equal(err.code, 1, args.join(" "));
        assert.match(
          err.stderr,
          new RegExp(
            `the Kubernetes API server at ${scheme}://127\\.0\\.0\\.1:${port} is unreachable: .*ECONNREFUSED`,
          ),
        );
        assert.doesNotMatch(err.stderr, /HTTP protocol is not allowed/);
        return true;
      });
    }
  }
  // The controller keeps trying (an API server may come back) and says why it is waiting.
  const child = spawn(
    process.execPath,
    [
      CLI,
      "run",
      "--kubeconfig",
      join(home, "refused-https.yaml"),
      "--queue-url",
      "https://sqs.us-east-1.amazonaws.com/123456789012/q",
      "--aws-region",
      "us-east-1",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env["PATH"] ?? "", HOME: home } },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const exited = once(child, "exit");
  // The log line that names the server it waits for (its fields, not its words).
  const waiting = (): Record<string, unknown> | undefined =>
    out
      .split("\n")
      .filter((l) => l.startsWith("{") && l.endsWith("}"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => typeof l["server"] === "string" && typeof l["retryInSeconds"] === "number");
  try {
    const line = await waitFor("run to log the server it waits for", waiting, {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    assert.equal(line["server"], `https://127.0.0.1:${port}`);
    assert.match(String(line["err"]), /ECONNREFUSED/);
    assert.equal(child.exitCode, null, "run is still waiting for the API server");
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
  assert.equal(child.exitCode, 0, "SIGTERM while waiting stops it cleanly");
});

test("get lists Evacuations like kubectl get evacuations; -o json and -o yaml print them as the API has them", async () => {
  await lab.installEvacuationCrd();
  const noticedAt = new Date().toISOString();
  await lab.custom.createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    body: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: "Evacuation",
      metadata: { name: "cli-test-node-1" },
      spec: {
        nodeName: "cli-test-node",
        mode: "evacuate",
        noticeKind: "manual",
        noticeIds: ["cli-test"],
        noticedAt,
        deadline: "2030-01-01T00:00:00.000Z",
      },
    },
  });
  const args = ["get", "--kubeconfig", lab.kubeconfigPath];
  const table = (await run(process.execPath, [CLI, ...args])).stdout.split("\n");
  assert.match(table[0] ?? "", /^NAME\s+NODE\s+PHASE\s+DEADLINE\s+SLACK\s+AGE$/);
  assert.ok(
    table.some((l) =>
      /^cli-test-node-1\s+cli-test-node\s+.*2030-01-01T00:00:00\.000Z\s+<none>\s+\d+s$/.test(l),
    ),
    table.join("\n"),
  );
  const json = JSON.parse((await run(process.execPath, [CLI, ...args, "-o", "json"])).stdout) as {
    kind: string;
    items: { metadata: { name: string }; spec: { nodeName: string } }[];
  };
  assert.equal(json.kind, "List");
  assert.deepEqual(
    json.items.filter((i) => i.spec.nodeName === "cli-test-node").map((i) => i.metadata.name),
    ["cli-test-node-1"],
  );
  const yaml = parse((await run(process.execPath, [CLI, ...args, "-o", "yaml", "cli-test-node"])).stdout) as {
    items: { metadata: { name: string } }[];
  };
  assert.deepEqual(
    yaml.items.map((i) => i.metadata.name),
    ["cli-test-node-1"],
    "a node name selects its Evacuations",
  );
  const none = (await run(process.execPath, [CLI, ...args, "no-such-node"])).stdout;
  assert.equal(none.trim(), "No Evacuations found.");
  await assert.rejects(run(process.execPath, [CLI, ...args, "-o", "xml"]), /argument 'xml' is invalid/);
});

test("--context picks the lab in a kubeconfig whose current context is broken; plan -o json, evacuate -o yaml", async () => {
  const [kubeconfig = "", labContext = ""] = (await twoContextKubeconfig(await closedPort())).split("\n");
  const node = (await lab.core.listNode()).items[0]?.metadata?.name ?? "";
  await assert.rejects(
    run(process.execPath, [CLI, "plan", node, "--kubeconfig", kubeconfig]),
    (err: Failed) => err.code === 1 && /is unreachable/.test(err.stderr),
  );
  await assert.rejects(
    run(process.execPath, [CLI, "plan", node, "--kubeconfig", kubeconfig, "--context", "nope"]),
    (err: Failed) =>
      err.code === 2 &&
      new RegExp(`has no context nope \\(contexts: .*${labContext}.*broken\\)`).test(err.stderr),
  );
  const ctx = ["--kubeconfig", kubeconfig, "--context", labContext];
  const plan = JSON.parse(
    (await run(process.execPath, [CLI, "plan", node, "--deadline", "2m", ...ctx, "-o", "json"])).stdout,
  ) as { node: string; deadline: string; plan: { steps: { kind: string }[] } };
  assert.equal(plan.node, node);
  assert.ok(Date.parse(plan.deadline) > Date.now(), "the deadline is absolute and in the future");
  assert.ok(
    plan.plan.steps.some((s) => s.kind === "cordon"),
    JSON.stringify(plan.plan.steps),
  );
  const evacuated = parse(
    (await run(process.execPath, [CLI, "evacuate", node, "--deadline", "30m", ...ctx, "-o", "yaml"])).stdout,
  ) as { node: string; annotation: string; deadline: string };
  assert.equal(evacuated.node, node);
  const annotations = (await lab.core.readNode({ name: node })).metadata?.annotations ?? {};
  assert.equal(
    annotations[evacuated.annotation],
    evacuated.deadline,
    "the node carries the deadline printed",
  );
});

test("plan takes run's budget and action flags: a node marked with a custom taint key needs no cordon", async () => {
  const node = (await lab.core.listNode()).items[2]?.metadata?.name ?? "";
  const key = "example.com/leaving";
  const marked = {
    spec: { unschedulable: true, taints: [{ key, value: "true", effect: "NoSchedule" }] },
    metadata: { labels: { "node.kubernetes.io/exclude-from-external-load-balancers": "true" } },
  };
  await lab.core.patchNode(
    { name: node, body: marked },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
  try {
    type Planned = {
      policy: { taintKey: string };
      budgets: { lbPropagationSeconds: number };
      plan: { steps: { kind: string }[] };
    };
    const planWith = async (...flags: string[]): Promise<Planned> =>
      JSON.parse(
        (
          await run(process.execPath, [
            CLI,
            "plan",
            node,
            "--kubeconfig",
            lab.kubeconfigPath,
            "-o",
            "json",
            ...flags,
          ])
        ).stdout,
      ) as Planned;
    const byDefault = await planWith();
    assert.equal(byDefault.policy.taintKey, "lifeboat.dev/evacuating");
    assert.ok(
      byDefault.plan.steps.some((s) => s.kind === "cordon"),
      "the default key is missing: cordon",
    );
    const custom = await planWith("--evacuation-taint-key", key, "--lb-propagation-seconds", "30");
    assert.equal(custom.policy.taintKey, key);
    assert.equal(custom.budgets.lbPropagationSeconds, 30);
    assert.ok(
      !custom.plan.steps.some((s) => s.kind === "cordon"),
      `marked with ${key} already: ${JSON.stringify(custom.plan.steps)}`,
    );
    await assert.rejects(
      run(process.execPath, [
        CLI,
        "plan",
        node,
        "--kubeconfig",
        lab.kubeconfigPath,
        "--evacuation-taint-key",
        "bad key",
      ]),
      (err: Failed) => err.code === 2 && /--evacuation-taint-key must be a valid taint key/.test(err.stderr),
    );
  } finally {
    await lab.core.patchNode(
      {
        name: node,
        body: {
          spec: { unschedulable: null, taints: null },
          metadata: { labels: { "node.kubernetes.io/exclude-from-external-load-balancers": null } },
        },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  }
});

test("run --context: a context the kubeconfig does not have exits 2 and lists the ones it has", async () => {
  const [kubeconfig = "", labContext = ""] = (await twoContextKubeconfig(await closedPort())).split("\n");
  await assert.rejects(
    bare(["run", "--kubeconfig", kubeconfig, "--context", "nope"]),
    (err: Failed) =>
      err.code === 2 && new RegExp(`has no context nope \\(contexts: .*${labContext}`).test(err.stderr),
  );
});

test("kubectl lifeboat: the lab's kubectl runs kubectl-lifeboat from PATH as a plugin", async () => {
  const bin = await mkdtemp(join(home, "bin-"));
  await symlink(join(dirname(CLI), "kubectl-lifeboat.js"), join(bin, "kubectl-lifeboat"));
  const env = {
    PATH: [bin, dirname(process.execPath), process.env["PATH"] ?? ""].join(delimiter),
    HOME: home,
  };
  const kubectl = labBinaries().kubectl;
  const help = await run(kubectl, ["lifeboat", "--help"], { env });
  assert.match(help.stdout, /^Usage: kubectl lifeboat /);
  const got = await run(kubectl, ["lifeboat", "get", "--kubeconfig", lab.kubeconfigPath], { env });
  assert.match(got.stdout, /^NAME\s+NODE\s+PHASE/);
  await assert.rejects(run(kubectl, ["lifeboat", "get"], { env, timeout: 30_000 }), (err: Failed) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr, /^kubectl lifeboat: no Kubernetes configuration found/);
    return true;
  });
});
