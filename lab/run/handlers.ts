/**
 * The handlers under test, each a real process started as a user would run it: `none` (nothing runs),
 * `drain` (lab/handlers/drain-main.ts: aws-node-termination-handler's queue-mode defaults) and `lifeboat`
 * (the project's CLI, `lifeboat run`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { MOTO_CREDENTIALS } from "../aws/moto.ts";

export const HANDLERS = ["none", "drain", "lifeboat"] as const;
export type HandlerName = (typeof HANDLERS)[number];

const ROOT = join(import.meta.dirname, "..", "..");

export interface HandlerContext {
  kubeconfigPath: string;
  queueUrl: string;
  awsEndpoint: string;
  awsRegion: string;
  timeScale: number;
  logPath: string;
}

export interface RunningHandler extends AsyncDisposable {
  name: HandlerName;
  /** The command line, for the report and for reproducing the run by hand. */
  command: string[];
}

/** lifeboat's flags for a lab run: the defaults, with every time budget scaled like the lab's clock. */
export function lifeboatArgs(ctx: HandlerContext): string[] {
  const s = (seconds: number): string => String(Math.round(seconds * ctx.timeScale * 1000) / 1000);
  return [
    "run",
    `--kubeconfig=${ctx.kubeconfigPath}`,
    `--queue-url=${ctx.queueUrl}`,
    `--aws-endpoint=${ctx.awsEndpoint}`,
    `--aws-region=${ctx.awsRegion}`,
    "--leader-elect=false",
    "--metrics-addr=127.0.0.1:0",
    "--health-addr=127.0.0.1:0",
    "--sqs-wait-seconds=1",
    `--lb-propagation-seconds=${s(20)}`,
    `--safety-margin-seconds=${s(10)}`,
    `--in-flight-seconds=${s(5)}`,
    `--default-ready-seconds=${s(90)}`,
    `--reconcile-interval-seconds=${s(2)}`,
    "--log-level=info",
  ];
}

export async function startHandler(name: HandlerName, ctx: HandlerContext): Promise<RunningHandler> {
  if (name === "none") return { name, command: [], [Symbol.asyncDispose]: () => Promise.resolve() };
  const args =
    name === "lifeboat"
      ? [join(ROOT, "bin", "lifeboat.js"), ...lifeboatArgs(ctx)]
      : [
          join(ROOT, "lab", "handlers", "drain-main.ts"),
          "--kubeconfig",
          ctx.kubeconfigPath,
          "--queue-url",
          ctx.queueUrl,
          "--aws-endpoint",
          ctx.awsEndpoint,
          "--region",
          ctx.awsRegion,
          "--time-scale",
          String(ctx.timeScale),
        ];
  const log = createWriteStream(ctx.logPath, { flags: "a" });
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
      AWS_REGION: ctx.awsRegion,
    },
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  await sleep(300);
  if (child.exitCode !== null)
    throw new Error(`handler ${name} exited at once (code ${child.exitCode}); see ${ctx.logPath}`);
  return { name, command: [process.execPath, ...args], [Symbol.asyncDispose]: () => stopChild(child) };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      resolve();
    }),
  );
  child.kill("SIGTERM");
  const timedOut = await Promise.race([exited.then(() => false), sleep(10_000).then(() => true)]);
  if (timedOut) {
    child.kill("SIGKILL");
    await exited;
  }
}
