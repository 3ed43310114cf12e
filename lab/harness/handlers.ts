/**
 * The handlers under test, each a real process started as a user would run it: `none` (nothing runs), `nth`
 * and `nth-tuned` (the real aws-node-termination-handler in queue-processor mode: its Helm chart's defaults, and
 * tuned for pods behind a load balancer; lab/handlers/nth.ts) and `lifeboat` (the project's CLI,
 * `lifeboat run`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { MOTO_CREDENTIALS } from "../aws/moto.ts";
import { startNth } from "../handlers/nth.ts";

export const HANDLERS = ["none", "nth", "nth-tuned", "lifeboat"] as const;
export type HandlerName = (typeof HANDLERS)[number];

const ROOT = join(import.meta.dirname, "..", "..");

export interface HandlerContext {
  kubeconfigPath: string;
  queueUrl: string;
  awsEndpoint: string;
  awsRegion: string;
  timeScale: number;
  logPath: string;
  /** Where a handler may stage files (NTH's service-account token). */
  workDir: string;
  /** Extra flags for `lifeboat run`, after the lab's own (a later flag wins). */
  lifeboatArgs?: readonly string[];
}

export interface RunningHandler extends AsyncDisposable {
  name: HandlerName;
  /** The command line, for the report and for reproducing the run by hand. */
  command: string[];
  /** What ran: `aws-node-termination-handler v1.25.6`, `lifeboat 0.1.0`; null for `none`. */
  version: string | null;
  /** The handler's process id, for /proc figures (bench/scale.ts); undefined for `none`. */
  pid?: number | undefined;
}

function lifeboatVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version?: string };
  return `lifeboat ${pkg.version ?? "unknown"}`;
}

/** lifeboat's flags for a lab run: the defaults, with every time budget scaled like the lab's clock. */
export function lifeboatArgs(
  ctx: Pick<HandlerContext, "kubeconfigPath" | "queueUrl" | "awsEndpoint" | "awsRegion" | "timeScale">,
): string[] {
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
    `--headroom-interval-seconds=${s(15)}`,
    "--log-level=info",
  ];
}

export async function startHandler(name: HandlerName, ctx: HandlerContext): Promise<RunningHandler> {
  switch (name) {
    case "none":
      return { name, command: [], version: null, [Symbol.asyncDispose]: () => Promise.resolve() };
    case "nth":
    case "nth-tuned": {
      const nth = await startNth({
        variant: name,
        kubeconfigPath: ctx.kubeconfigPath,
        aws: {
          queueUrl: ctx.queueUrl,
          region: ctx.awsRegion,
          endpoint: ctx.awsEndpoint,
          accessKeyId: MOTO_CREDENTIALS.accessKeyId,
          secretAccessKey: MOTO_CREDENTIALS.secretAccessKey,
        },
        logPath: ctx.logPath,
        workDir: ctx.workDir,
      });
      return {
        name,
        command: nth.command,
        version: `aws-node-termination-handler ${nth.version}`,
        pid: nth.pid,
        [Symbol.asyncDispose]: () => nth[Symbol.asyncDispose](),
      };
    }
    case "lifeboat":
      return startLifeboat(ctx);
  }
}

async function startLifeboat(ctx: HandlerContext): Promise<RunningHandler> {
  const name = "lifeboat";
  const args = [join(ROOT, "bin", "lifeboat.js"), ...lifeboatArgs(ctx), ...(ctx.lifeboatArgs ?? [])];
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
  return {
    name,
    command: [process.execPath, ...args],
    version: lifeboatVersion(),
    pid: child.pid,
    [Symbol.asyncDispose]: () => stopChild(child),
  };
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
