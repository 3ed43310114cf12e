/**
 * The CLI as a user runs it: `lifeboat plan` against the lab prints the steps and reasons without changing
 * anything; `--help` documents every command; bad configuration is a clear error with exit code 2.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { startLab, type Lab } from "../../lab/lab.ts";
import { deployment } from "../../lab/workloads.ts";

const run = promisify(execFile);
const CLI = join(import.meta.dirname, "..", "..", "bin", "lifeboat.js");
let lab: Lab;

before(async () => {
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
  for (const command of ["run", "evacuate", "plan", "agent", "lab"])
    assert.match(stdout, new RegExp(`\\b${command}\\b`));
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
