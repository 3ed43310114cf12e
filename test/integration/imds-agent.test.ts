/**
 * IMDS mode against amazon-ec2-metadata-mock (AEMM, the IMDS mock from AWS, IMDSv2 only): the agent's poller reads
 * AEMM's spot interruption, rebalance recommendation, scheduled event and ASG target lifecycle state, with the times
 * AEMM's flags set; and `lifeboat agent` as a process, next to `lifeboat run`, evacuates its node in the lab, with
 * no other permission than the chart's agent ClusterRole (get and patch on nodes).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, readFileSync } from "node:fs";
import { join } from "node:path";
import { RbacAuthorizationV1Api, type V1PolicyRule } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { startMetadataMock } from "../../lab/imds/metadata-mock.ts";
import { FakeClock } from "../../src/domain/clock.ts";
import { ImdsAgent } from "../../src/signals/imds/agent.ts";
import { decodeHandoff } from "../../src/signals/imds/handoff.ts";
import { silentLogger } from "../../src/signals/logger.ts";
import { LIFEBOAT_BIN, startController, type ControllerProcess } from "../helpers/controller-process.ts";
import {
  EVACUATED_MARKS,
  evacuationMarks,
  startControllerLab,
  type ControllerLab,
} from "../helpers/lab-env.ts";
import { counter, waitForCount } from "../helpers/reconciles.ts";
import { waitFor } from "../helpers/wait.ts";
import { isDeepStrictEqual } from "node:util";

const AEMM_INSTANCE = "i-1234567890abcdef0";
const WAIT = { timeoutMs: 30_000, intervalMs: 200 };

/** RFC 3339 at whole seconds, `s` seconds from now. */
const at = (s: number): string =>
  new Date(Math.floor(Date.now() / 1000 + s) * 1000).toISOString().replace(".000Z", "Z");

function poller(endpoint: string, options: { asgTerminateDeadlineSeconds?: number } = {}): ImdsAgent {
  return new ImdsAgent({ endpoint, ...options }, new FakeClock(Date.now()), silentLogger);
}

describe("the IMDS poller against amazon-ec2-metadata-mock", () => {
  it("spot interruption: nothing until AEMM's delay has passed, then a notice due at AEMM's --time", async () => {
    const time = at(120);
    await using imds = await startMetadataMock([
      "spot",
      "--mock-delay-sec",
      "2",
      "--time",
      time,
      "--rebalance-delay-sec",
      "3600",
    ]);
    const agent = poller(imds.endpoint);
    assert.deepEqual(await agent.pollOnce(), [], "404 before the delay");
    const notices = await waitFor(
      "the spot notice",
      async () => {
        const list = await agent.pollOnce();
        return list.length > 0 ? list : undefined;
      },
      WAIT,
    );
    assert.deepEqual(
      notices.map((n) => [n.kind, n.deadline, n.source, n.target]),
      [["spot-interruption", Date.parse(time), "imds", { kind: "instance", instanceId: AEMM_INSTANCE }]],
    );
  });

  it("rebalance recommendation: a notice without deadline, issued at AEMM's --rebalance-rec-time", async () => {
    const noticeTime = at(-30);
    await using imds = await startMetadataMock([
      "spot",
      "--rebalance-delay-sec",
      "0",
      "--rebalance-rec-time",
      noticeTime,
      "--mock-delay-sec",
      "3600",
    ]);
    const notices = await poller(imds.endpoint).pollOnce();
    assert.deepEqual(
      notices.map((n) => [n.kind, n.deadline, n.issuedAt]),
      [["rebalance-recommendation", null, Date.parse(noticeTime)]],
    );
  });

  it("scheduled events: an active one is due at AEMM's --not-before; a completed one is no notice", async () => {
    const notBefore = at(3600);
    const flags = [
      "--code",
      "instance-retirement",
      "--not-before",
      notBefore,
      "--not-after",
      at(7200),
      "--not-before-deadline",
      at(9000),
    ];
    {
      await using imds = await startMetadataMock(["events", ...flags, "--state", "active"]);
      const notices = await poller(imds.endpoint).pollOnce();
      assert.deepEqual(
        notices.map((n) => [n.kind, n.deadline]),
        [["scheduled-change", Date.parse(notBefore)]],
      );
      assert.match(notices[0]?.summary ?? "", /instance-retirement/);
    }
    await using completed = await startMetadataMock(["events", ...flags, "--state", "completed"]);
    assert.deepEqual(await poller(completed.endpoint).pollOnce(), []);
  });

  it("ASG lifecycle: InService is no notice; Terminated (after AEMM's delay) is an ASG terminate notice", async () => {
    await using imds = await startMetadataMock(["asglifecycle", "--asg-termination-delay-sec", "2"]);
    const agent = poller(imds.endpoint, { asgTerminateDeadlineSeconds: 600 });
    assert.deepEqual(await agent.pollOnce(), [], "InService");
    const notices = await waitFor(
      "the terminate notice",
      async () => {
        const list = await agent.pollOnce();
        return list.length > 0 ? list : undefined;
      },
      WAIT,
    );
    assert.deepEqual(
      notices.map((n) => [n.kind, n.id, (n.deadline ?? 0) - n.issuedAt]),
      [["asg-lifecycle-terminate", `imds-asg-terminate/${AEMM_INSTANCE}`, 600_000]],
    );
  });
});

/** The rules of the chart's agent ClusterRole (charts/lifeboat/templates/agent-rbac.yaml, template lines dropped). */
function chartAgentRules(): V1PolicyRule[] {
  const text = readFileSync(
    join(import.meta.dirname, "../../charts/lifeboat/templates/agent-rbac.yaml"),
    "utf8",
  )
    .split("\n")
    .filter((line) => !/^\s*\{\{-?.*\}\}\s*$/.test(line) && !line.includes("{{ include"))
    .map((line) => line.replace(/\{\{[^}]*\}\}/g, "x"))
    .join("\n");
  const role = parseAllDocuments(text)
    .map((d) => d.toJSON() as { kind?: string; rules?: V1PolicyRule[] } | null)
    .find((d) => d?.kind === "ClusterRole");
  assert.ok(role?.rules, "the chart has an agent ClusterRole");
  return role.rules;
}

async function grantChartAgentRole(env: ControllerLab, user: string): Promise<void> {
  const rbac = env.lab.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
  const rules = chartAgentRules();
  assert.deepEqual(rules, [{ apiGroups: [""], resources: ["nodes"], verbs: ["get", "patch"] }]);
  await rbac.createClusterRole({ body: { metadata: { name: "lifeboat-agent" }, rules } });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: "lifeboat-agent" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "lifeboat-agent" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
    },
  });
}

/** `lifeboat agent` as its own process, logging to a file. */
function startAgent(
  env: ControllerLab,
  nodeName: string,
  imdsEndpoint: string,
  log: string,
  kubeconfigPath = env.lab.kubeconfigPath,
) {
  const out = createWriteStream(join(env.dir, log), { flags: "a" });
  const child: ChildProcess = spawn(
    process.execPath,
    [
      LIFEBOAT_BIN,
      "agent",
      `--node-name=${nodeName}`,
      `--kubeconfig=${kubeconfigPath}`,
      `--imds-endpoint=${imdsEndpoint}`,
      "--imds-poll-seconds=0.5",
      "--health-addr=127.0.0.1:0",
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "" },
    },
  );
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return {
    child,
    [Symbol.asyncDispose]: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
    },
  };
}

describe(
  "lifeboat agent + lifeboat run in the lab, IMDS from amazon-ec2-metadata-mock",
  { timeout: 300_000 },
  () => {
    let env: ControllerLab;
    let controller: ControllerProcess;

    before(async () => {
      env = await startControllerLab({ nodeGroups: [{ name: "imds", zone: "us-east-1a", count: 2 }] });
      controller = await startController(env.handlerContext("controller.log"));
    });
    after(async () => {
      await controller.stop();
      await env[Symbol.asyncDispose]();
    });

    it("the agent hands AEMM's spot notice over; the controller evacuates the node; a restarted agent adds nothing", async () => {
      const node = env.lab.nodes.find((n) => n.nodeGroup === "imds");
      assert.ok(node);
      const time = at(120);
      await using imds = await startMetadataMock([
        "spot",
        "--mock-delay-sec",
        "1",
        "--time",
        time,
        "--rebalance-delay-sec",
        "3600",
      ]);
      {
        // The agent runs as a user that holds only the chart's agent ClusterRole.
        await grantChartAgentRole(env, "lab-limited");
        await using agent = startAgent(
          env,
          node.name,
          imds.endpoint,
          "agent-1.log",
          env.lab.limitedKubeconfigPath,
        );
        // Read at once: the controller removes the handoff as soon as the evacuation it asked for is done.
        const handedOverValue = await waitFor(
          "the agent's handoff on the node",
          async () =>
            (await env.lab.core.readNode({ name: node.name })).metadata?.annotations?.[
              "lifeboat.dev/evacuate"
            ],
          { ...WAIT, intervalMs: 50, alive: controller.assertRunning },
        );
        const evacuation = await waitFor(
          "the Evacuation of the agent's node",
          async () => (await env.evacuationsOf(node.name))[0],
          { ...WAIT, alive: controller.assertRunning },
        );
        assert.equal(evacuation.spec.noticeKind, "spot-interruption");
        assert.equal(Date.parse(evacuation.spec.deadline ?? ""), Date.parse(time));
        await waitFor(
          "the node cordoned, tainted and out of the load balancers",
          async () => {
            const n = await env.lab.core.readNode({ name: node.name });
            return isDeepStrictEqual(evacuationMarks(n), EVACUATED_MARKS) ? n : undefined;
          },
          { ...WAIT, alive: controller.assertRunning },
        );
        const handoff = decodeHandoff(handedOverValue);
        assert.deepEqual(
          [handoff.kind, handoff.deadline, handoff.instanceId],
          ["spot-interruption", new Date(time).toISOString(), AEMM_INSTANCE],
        );
        assert.deepEqual(evacuation.spec.noticeIds, [handoff.id]);
        assert.ok(agent.child.exitCode === null, "the agent keeps running");
      }
      const annotation = async (): Promise<string | undefined> =>
        (await env.lab.core.readNode({ name: node.name })).metadata?.annotations?.["lifeboat.dev/evacuate"];
      // Served: once the evacuation is Done the controller removes the handoff (a one-shot request).
      await waitFor(
        "the evacuation Done and the served handoff removed",
        async () =>
          (await env.evacuationsOf(node.name))[0]?.status?.phase === "Done" &&
          (await annotation()) === undefined
            ? true
            : undefined,
        { ...WAIT, alive: controller.assertRunning },
      );
      {
        // A restarted agent still reads the notice from IMDS and hands it over again: the controller knows it
        // (same notice id, its record kept for the TTL), starts nothing, and removes it again.
        const duplicates = await counter(controller, "lifeboat_notices_total", { outcome: "duplicate" });
        await using again = startAgent(env, node.name, imds.endpoint, "agent-2.log");
        // The restarted agent's handoff is counted as a duplicate: the notice the controller already handled.
        await waitForCount(controller, "lifeboat_notices_total", { outcome: "duplicate" }, duplicates + 1, {
          ...WAIT,
          alive: controller.assertRunning,
        });
        assert.ok(again.child.exitCode === null, "the restarted agent keeps running");
        await waitFor(
          "the handoff removed again",
          async () => ((await annotation()) === undefined ? true : undefined),
          {
            ...WAIT,
            alive: controller.assertRunning,
          },
        );
      }
      const group = new Set(env.lab.nodes.filter((n) => n.nodeGroup === "imds").map((n) => n.name));
      assert.deepEqual(
        (await env.evacuations())
          .filter((e) => group.has(e.spec.nodeName))
          .map((e) => [e.spec.nodeName, e.spec.noticeIds.length]),
        [[node.name, 1]],
        "one Evacuation, one notice: nothing doubled, no other node touched",
      );
    });
  },
);
