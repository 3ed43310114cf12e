/**
 * The AWS side, measured: how long the shipped stack takes to deploy into moto, how long an event takes from
 * EventBridge PutEvents through the template's rules into the queue, and how long a spot notice takes to cordon
 * its node (a) published with PutEvents and consumed from the queue by `lifeboat run`, (b) served by
 * amazon-ec2-metadata-mock and handed over by `lifeboat agent` through the node annotation. Prints p50/p90/max;
 * asserts nothing.
 *
 *   node bench/aws-path.ts [--samples 10] [--events 50] [--imds-poll-seconds 5]
 *
 * Resolution: the queue is read with 1 s long polls (a message is returned as soon as it lands); nodes and
 * annotations are read every 20 ms.
 */
import { parseArgs } from "node:util";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { ReceiveMessageCommand, DeleteMessageCommand } from "@aws-sdk/client-sqs";
import { eventBridgeClient, putEvent } from "../lab/aws/eventbridge.ts";
import { startMoto } from "../lab/aws/moto.ts";
import { deployInterruptionStack } from "../lab/aws/stack.ts";
import { freePort } from "../lab/controlplane/ports.ts";
import { startMetadataMock } from "../lab/imds/metadata-mock.ts";
import { asgTerminateLifecycleAction, healthScheduledChange } from "../lab/cloud/aws-events.ts";
import { rebalanceRecommendation, spotInterruptionWarning, stateChange } from "../lab/cloud/messages.ts";
import type { LabNode } from "../lab/lab.ts";
import { LIFEBOAT_BIN, startController } from "../lab/harness/controller.ts";
import { REGION, startLabEnv } from "../lab/harness/env.ts";

const { values } = parseArgs({
  options: {
    samples: { type: "string", default: "10" },
    events: { type: "string", default: "50" },
    "imds-poll-seconds": { type: "string", default: "5" },
  },
});
const samples = Number(values.samples);
const eventCount = Number(values.events);
const imdsPollSeconds = Number(values["imds-poll-seconds"]);
const POLL_MS = 20;

function percentile(sorted: number[], p: number): number {
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? NaN;
}

function row(name: string, xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const f = (ms: number): string => `${(ms / 1000).toFixed(3)} s`.padStart(11);
  return `${name.padEnd(44)}${String(xs.length).padStart(4)}${f(percentile(s, 50))}${f(percentile(s, 90))}${f(s.at(-1) ?? NaN)}`;
}

async function pollUntil(read: () => Promise<boolean>, timeoutMs = 60_000): Promise<number> {
  const limit = performance.now() + timeoutMs;
  while (performance.now() < limit) {
    if (await read().catch(() => false)) return performance.now();
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`no result within ${timeoutMs} ms`);
}

async function motoFigures(lines: string[]): Promise<void> {
  await using moto = await startMoto({ region: REGION });
  const deploys: number[] = [];
  let queueUrl = "";
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    queueUrl = (await deployInterruptionStack(moto, { clusterName: `bench${i}` })).queueUrl;
    deploys.push(performance.now() - t0);
  }
  lines.push(row("CreateStack, first in a fresh moto (cold)", deploys.slice(0, 1)));
  lines.push(row("CreateStack -> CREATE_COMPLETE (moto, warm)", deploys.slice(1)));
  const events = eventBridgeClient(moto);
  const sqs = moto.sqsClient();
  const kinds = [
    (at: Date) => spotInterruptionWarning({ instanceId: "i-0aaaaaaaaaaaaaaa1", region: REGION }, at),
    (at: Date) => rebalanceRecommendation({ instanceId: "i-0aaaaaaaaaaaaaaa1", region: REGION }, at),
    (at: Date) => stateChange({ instanceId: "i-0aaaaaaaaaaaaaaa1", region: REGION }, at, "shutting-down"),
    (at: Date) =>
      healthScheduledChange(
        { instanceId: "i-0aaaaaaaaaaaaaaa1", region: REGION },
        at,
        new Date(at.getTime() + 6e5),
      ),
    (at: Date) =>
      asgTerminateLifecycleAction({ instanceId: "i-0aaaaaaaaaaaaaaa1", region: REGION }, at, {
        autoScalingGroupName: "g",
        lifecycleHookName: "h",
      }),
  ];
  const latencies: number[] = [];
  for (let i = 0; i < eventCount; i++) {
    const make = kinds[i % kinds.length];
    if (make === undefined) continue;
    const receiving = sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 5, MaxNumberOfMessages: 1 }),
    );
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    await putEvent(events, make(new Date()));
    const got = await receiving;
    const t1 = performance.now();
    const message = got.Messages?.[0];
    if (message === undefined) throw new Error(`event ${i} did not reach the queue within 5 s`);
    latencies.push(t1 - t0);
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
  }
  lines.push(row("PutEvents -> message received (rules, moto)", latencies));
}

async function labFigures(lines: string[]): Promise<void> {
  await using env = await startLabEnv({
    nodeGroups: [{ name: "bench", zone: "us-east-1a", count: 2 * samples }],
    queue: "stack",
  });
  await using _controller = await startController(env.handlerContext("controller.log"));
  const nodes = env.lab.nodes.filter((n) => n.nodeGroup === "bench");
  const cordoned = (node: LabNode) => async () =>
    (await env.lab.core.readNode({ name: node.name })).spec?.unschedulable === true;

  const viaQueue: number[] = [];
  const events = eventBridgeClient(env.moto);
  for (const node of nodes.slice(0, samples)) {
    const t0 = performance.now();
    await putEvent(
      events,
      spotInterruptionWarning({ instanceId: node.instanceId, region: REGION }, new Date()),
    );
    viaQueue.push((await pollUntil(cordoned(node))) - t0);
  }
  lines.push(row("PutEvents -> node cordoned (lifeboat run)", viaQueue));

  const toAnnotation: number[] = [];
  const toCordon: number[] = [];
  for (const node of nodes.slice(samples)) {
    // The agent starts first and polls a port where AEMM is not yet listening (failed polls are retried); once it
    // polls, AEMM starts there with the notice appearing 3 s or more ahead (AEMM takes whole seconds).
    const port = await freePort();
    const agent = spawn(
      process.execPath,
      [
        LIFEBOAT_BIN,
        "agent",
        `--node-name=${node.name}`,
        `--kubeconfig=${env.lab.kubeconfigPath}`,
        `--imds-endpoint=http://127.0.0.1:${port}`,
        `--imds-poll-seconds=${imdsPollSeconds}`,
        "--health-addr=127.0.0.1:0",
      ],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    let out = "";
    agent.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    await pollUntil(() => Promise.resolve(out.includes("polling the instance metadata service")));
    // A random phase against the agent's poll, so the figures spread over the poll interval as in a cluster.
    const triggerMs = Math.ceil((Date.now() + 3000 + Math.random() * imdsPollSeconds * 1000) / 1000) * 1000;
    const trigger = new Date(triggerMs).toISOString().replace(".000Z", "Z");
    await using _imds = await startMetadataMock(
      ["spot", "--mock-trigger-time", trigger, "--rebalance-delay-sec", "3600"],
      { port },
    );
    if (Date.now() >= triggerMs) throw new Error("AEMM took longer to start than the notice's lead");
    try {
      const annotated = await pollUntil(
        async () =>
          (await env.lab.core.readNode({ name: node.name })).metadata?.annotations?.[
            "lifeboat.dev/evacuate"
          ] !== undefined,
      );
      const cordonAt = await pollUntil(cordoned(node));
      // performance.now() and the wall clock: the trigger is a wall-clock time.
      const triggerPerf = performance.now() - (Date.now() - triggerMs);
      toAnnotation.push(annotated - triggerPerf);
      toCordon.push(cordonAt - triggerPerf);
    } finally {
      agent.kill("SIGTERM");
      await once(agent, "exit");
    }
  }
  lines.push(row(`IMDS notice -> annotation (agent, poll ${imdsPollSeconds} s)`, toAnnotation));
  lines.push(row(`IMDS notice -> node cordoned (agent + run)`, toCordon));
}

const lines = [
  `${"".padEnd(44)}${"n".padStart(4)}${"p50".padStart(11)}${"p90".padStart(11)}${"max".padStart(11)}`,
];
await motoFigures(lines);
await labFigures(lines);
console.log(lines.join("\n"));
