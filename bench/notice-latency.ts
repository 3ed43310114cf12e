/**
 * Notice latency of the lifeboat controller: how long from sending a spot interruption warning to SQS until
 * the node is cordoned, and until the affected Deployment is surged (spec.replicas raised). Starts the lab,
 * moto and `lifeboat run`, then sends N warnings one after another, each for a node holding one pod of a
 * Deployment, waiting for each evacuation to finish before the next; the evacuated node is then deleted and
 * a fresh node (new instance id) joins in its place, so the pool never runs out of room. Prints p50/p90/p99/max; asserts
 * nothing (goals: p99 1 s to cordon, 2 s to surge).
 *
 *   node bench/notice-latency.ts [--notices 30] [--time-scale 0.2] [--keep-logs]
 *
 * The node and the Deployment are read every 20 ms from the moment before the SendMessage call, so a figure
 * includes the SQS send and is at most 20 ms (plus one GET) late.
 */
import { parseArgs } from "node:util";
import { startController, type ControllerProcess } from "../lab/harness/controller.ts";
import { NS, startLabEnv, type LabEnv } from "../lab/harness/env.ts";
import { fastDeployment } from "../lab/harness/fast-workloads.ts";
import { isTerminating, podsOf, readyPodCount } from "../lab/harness/reads.ts";
import { waitFor, waitUntil } from "../lab/harness/wait.ts";
import type { Lab, LabNode } from "../lab/lab.ts";
import { errorMessage } from "../src/domain/error-message.ts";

const { values } = parseArgs({
  options: {
    notices: { type: "string", default: "30" },
    "time-scale": { type: "string", default: "0.2" },
    "keep-logs": { type: "boolean", default: false },
  },
});
const notices = Number(values.notices);
const timeScale = Number(values["time-scale"]);
if (!Number.isInteger(notices) || notices < 1)
  throw new Error(`--notices must be a positive integer, got ${values.notices}`);
if (values["keep-logs"]) process.env["LIFEBOAT_KEEP_LOGS"] = "1";

/** Nodes in the pool besides one per pod: room for the replacements. */
const SPARES = 2;
/** Pods of the Deployment, one per node. */
const PODS = 4;
const APP = "bench";
/** Poll interval of the cordon and surge checks: the resolution of the figures. */
const POLL_MS = 20;

interface Sample {
  node: string;
  cordonMs: number;
  surgeMs: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? NaN;
}

function row(name: string, xs: number[], goalMs: number): string {
  const s = [...xs].sort((a, b) => a - b);
  const f = (ms: number): string => `${(ms / 1000).toFixed(3)} s`.padStart(10);
  return `${name.padEnd(22)}${f(percentile(s, 50))}${f(percentile(s, 90))}${f(percentile(s, 99))}${f(s.at(-1) ?? NaN)}${f(goalMs)}`;
}

/**
 * Resolves with performance.now() when `predicate` first holds, reading every POLL_MS (a watch would be
 * finer, but a poll keeps the benchmark simple and its resolution is stated in the output).
 */
async function pollUntil(read: () => Promise<boolean>, signal: AbortSignal): Promise<number> {
  while (!signal.aborted) {
    if (await read().catch(() => false)) return performance.now();
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return NaN;
}

/** The reclaimed instance goes away and the node group launches a fresh one (a new instance id). */
async function replaceNode(lab: Lab, node: LabNode): Promise<void> {
  await lab.core.deleteNode({ name: node.name });
  await lab.addNode({ nodeGroup: node.nodeGroup, zone: node.zone });
}

async function main(): Promise<void> {
  process.stderr.write(`starting the lab: ${PODS + SPARES} nodes, time scale ${timeScale}\n`);
  await using env = await startLabEnv({
    timeScale,
    nodeGroups: [{ name: "bench", zone: "us-east-1a", count: PODS + SPARES }],
  });
  await using controller = await startController(env.handlerContext("controller.log"));
  // One pod on each of PODS nodes (one per node); the spares take the replacements.
  await env.lab.apps.createNamespacedDeployment({
    namespace: NS,
    body: fastDeployment({ name: APP, replicas: PODS, nodeGroup: "bench" }),
  });
  await waitUntil(`${PODS} Ready pods`, async () => (await readyPodCount(env.lab, APP)) === PODS, {
    timeoutMs: 120_000,
  });

  const samples: Sample[] = [];
  /** Evacuations that did not leave spec.replicas as they found it (printed, not asserted). */
  const anomalies: string[] = [];
  for (let i = 0; i < notices; i++) {
    const node = await nodeHoldingAPod(env.lab);
    const replicas = await appReplicas(env.lab);
    samples.push(await measureNotice(env, node, replicas));
    const notice = `notice ${i + 1} (${node.name})`;
    if (!(await settleEvacuation(env, controller, node, replicas, notice, anomalies))) break;
    const last = samples.at(-1);
    process.stderr.write(
      `notice ${i + 1}/${notices}: cordon ${last?.cordonMs.toFixed(0)} ms, surge ${last?.surgeMs.toFixed(0)} ms\n`,
    );
  }
  printLatencies(samples, anomalies);
}

async function nodeHoldingAPod(lab: Lab): Promise<LabNode> {
  const pods = (await podsOf(lab, APP)).filter((p) => !isTerminating(p));
  const node = lab.nodes.find((n) => pods.some((p) => p.spec?.nodeName === n.name));
  if (node === undefined) throw new Error("no node holds a pod of the Deployment");
  return node;
}

async function appReplicas(lab: Lab): Promise<number> {
  return (await lab.apps.readNamespacedDeployment({ name: APP, namespace: NS })).spec?.replicas ?? 0;
}

/** Sends the node's spot warning and times the cordon and the surge from just before the send. */
async function measureNotice(env: LabEnv, node: LabNode, replicas: number): Promise<Sample> {
  const limit = AbortSignal.timeout(30_000);
  const sent = performance.now();
  const cordon = pollUntil(
    async () => (await env.lab.core.readNode({ name: node.name })).spec?.unschedulable === true,
    limit,
  );
  const surge = pollUntil(async () => (await appReplicas(env.lab)) > replicas, limit);
  await env.sendSpotWarning(node);
  const [c, s] = await Promise.all([cordon, surge]);
  if (Number.isNaN(c) || Number.isNaN(s))
    throw new Error(`notice for ${node.name}: no cordon or no surge within 30 s; see the controller log`);
  return { node: node.name, cordonMs: c - sent, surgeMs: s - sent };
}

/**
 * Waits for the node's evacuation to be Done and its replacements Ready, then replaces the node; false (and
 * an anomaly) when the evacuation did not finish.
 */
async function settleEvacuation(
  env: LabEnv,
  controller: ControllerProcess,
  node: LabNode,
  replicas: number,
  notice: string,
  anomalies: string[],
): Promise<boolean> {
  const finished = await waitFor(
    `evacuation of ${node.name} Done`,
    async () =>
      (await env.evacuationsOf(node.name)).every((e) => e.status?.phase === "Done") ? true : undefined,
    { timeoutMs: 150_000, alive: controller.assertRunning },
  ).then(
    () => true,
    (err: unknown) => {
      anomalies.push(`${notice}: ${errorMessage(err)}; stopped here`);
      return false;
    },
  );
  if (!finished) return false;
  const after = await appReplicas(env.lab);
  if (after !== replicas)
    anomalies.push(`${notice}: spec.replicas ${replicas} before, ${after} after the evacuation`);
  await waitUntil(`${after} Ready pods again`, async () => (await readyPodCount(env.lab, APP)) >= after, {
    timeoutMs: 120_000,
  });
  await replaceNode(env.lab, node);
  return true;
}

function printLatencies(samples: readonly Sample[], anomalies: readonly string[]): void {
  console.log(
    `\nlifeboat notice latency: ${samples.length} spot warnings via moto SQS (sqs-wait-seconds 1), time scale ${timeScale}, polled every ${POLL_MS} ms`,
  );
  console.log(
    `${"".padEnd(22)}${"p50".padStart(10)}${"p90".padStart(10)}${"p99".padStart(10)}${"max".padStart(10)}${"goal p99".padStart(10)}`,
  );
  console.log(
    row(
      "send -> cordoned",
      samples.map((s) => s.cordonMs),
      1000,
    ),
  );
  console.log(
    row(
      "send -> surge",
      samples.map((s) => s.surgeMs),
      2000,
    ),
  );
  if (anomalies.length > 0)
    console.log(`\nanomalies (see the controller log; --keep-logs keeps it):\n  ${anomalies.join("\n  ")}`);
}

await main();
