/**
 * The `drain` handler as its own process, as a user would run aws-node-termination-handler in queue mode:
 *
 *   node lab/handlers/drain-main.ts --kubeconfig K --queue-url U --aws-endpoint http://127.0.0.1:PORT [--time-scale 0.25]
 *
 * Logs JSON lines to stdout. SIGTERM or SIGINT stops polling, lets drains in flight finish, and exits 0.
 * The AWS endpoint must be a loopback address (the lab talks to moto only) and gets moto's fake credentials.
 */
import { Command, InvalidArgumentError } from "commander";
import { KubeConfig } from "@kubernetes/client-node";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DrainHandler, jsonLinesLog, NTH_DEFAULTS } from "./drain-handler.ts";
import { kubeForDrain, sqsQueue } from "./drain-kube.ts";

function positive(v: string): number {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError("must be a number > 0");
  return n;
}

function loopbackUrl(v: string): string {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new InvalidArgumentError("must be a URL");
  }
  if (!/^127\.\d+\.\d+\.\d+$/.test(url.hostname) && url.hostname !== "localhost") {
    throw new InvalidArgumentError("must be a loopback address (the lab only talks to moto on 127.0.0.0/8)");
  }
  return v;
}

interface Options {
  kubeconfig: string;
  queueUrl: string;
  awsEndpoint: string;
  region: string;
  timeScale: number;
  nodeTerminationGraceSeconds: number;
}

const program = new Command("drain-handler")
  .description(
    "cordon and drain a node on a spot interruption warning, like aws-node-termination-handler's queue mode defaults",
  )
  .requiredOption("--kubeconfig <path>", "kubeconfig of the cluster")
  .requiredOption("--queue-url <url>", "SQS queue URL the EventBridge rules deliver to")
  .requiredOption("--aws-endpoint <url>", "AWS endpoint (moto), loopback only", loopbackUrl)
  .option("--region <region>", "AWS region", "us-east-1")
  .option("--time-scale <n>", "real seconds per lab second (every timing is multiplied by it)", positive, 1)
  .option(
    "--node-termination-grace-seconds <n>",
    "drain timeout",
    positive,
    NTH_DEFAULTS.nodeTerminationGraceSeconds,
  )
  .action(async (opts: Options) => {
    const kc = new KubeConfig();
    kc.loadFromFile(opts.kubeconfig);
    const sqs = new SQSClient({
      endpoint: opts.awsEndpoint,
      region: opts.region,
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    });
    const log = jsonLinesLog(process.stdout, { handler: "drain" });
    const handler = new DrainHandler({
      kube: kubeForDrain(kc),
      queue: sqsQueue(sqs, opts.queueUrl),
      log,
      settings: { timeScale: opts.timeScale, nodeTerminationGraceSeconds: opts.nodeTerminationGraceSeconds },
    });
    const stop = new AbortController();
    const onSignal = (signal: string): void => {
      log("info", "signal received: stopping", { signal });
      stop.abort();
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
    await handler.run(stop.signal);
    sqs.destroy();
  });

await program.parseAsync(process.argv);
