/**
 * `lifeboat run` as a child process, started the way the lab starts it (./handlers.ts `lifeboatArgs`: the
 * defaults with every time budget scaled), with its JSON log lines captured to a file. Tests and the chaos
 * bench kill it with SIGKILL to simulate a crash and start another one on the same cluster.
 *
 *   await using controller = await startController({ kubeconfigPath, queueUrl, awsEndpoint, awsRegion, timeScale, logPath });
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { MOTO_CREDENTIALS } from "../aws/moto.ts";
import { lifeboatArgs, type HandlerContext } from "./handlers.ts";
import { waitFor } from "./wait.ts";

const ROOT = join(import.meta.dirname, "..", "..");
export const LIFEBOAT_BIN = join(ROOT, "bin", "lifeboat.js");

export interface ControllerOptions extends HandlerContext {
  /** Extra `lifeboat run` flags, appended after the lab's (a later flag wins). */
  extraArgs?: string[];
  /**
   * NODE_OPTIONS of the controller's Node, e.g. the chart's heap flags (chartNodeOptions() of
   * ./chart-heap.ts) so that its heap and RSS are those it has in a cluster. Default: unset.
   */
  nodeOptions?: string;
  /** How long to wait for "informers synced" and the SQS consumer to start. Default 30000. */
  startTimeoutMs?: number;
  /**
   * Runs `lifeboat` some other way than `node bin/lifeboat.js` (e.g. inside the container image): the
   * program, its arguments before `run ...`, and its whole environment (the AWS credentials are added).
   */
  executable?: { file: string; args: string[]; env: Record<string, string> };
}

/** One JSON log line of the controller (pino). */
export interface LogLine {
  level: number | string;
  msg: string;
  [field: string]: unknown;
}

/** The controller process died while a test expected it to run. */
export class ControllerExitedError extends Error {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly logPath: string;
  constructor(code: number | null, signal: NodeJS.Signals | null, logPath: string) {
    super(`lifeboat run exited (code ${String(code)}, signal ${String(signal)}); log: ${logPath}`);
    this.name = "ControllerExitedError";
    this.code = code;
    this.signal = signal;
    this.logPath = logPath;
  }
}

export class ControllerProcess implements AsyncDisposable {
  readonly child: ChildProcess;
  readonly logPath: string;
  readonly command: string[];
  readonly #exited: Promise<void>;
  readonly #logDone: Promise<void>;

  constructor(child: ChildProcess, logPath: string, command: string[], logDone: Promise<void>) {
    this.child = child;
    this.logPath = logPath;
    this.command = command;
    this.#logDone = logDone;
    this.#exited =
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve()
        : once(child, "exit").then(() => undefined);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Throws ControllerExitedError when the process is no longer running (pass it as a wait's `alive`). */
  assertRunning = (): void => {
    if (!this.running)
      throw new ControllerExitedError(this.child.exitCode, this.child.signalCode, this.logPath);
  };

  /** Every JSON line logged so far (non-JSON lines, e.g. a crash trace, come back as `{ level: "raw" }`). */
  async logLines(): Promise<LogLine[]> {
    const text = await readFile(this.logPath, "utf8").catch(() => "");
    return text
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => {
        try {
          return JSON.parse(l) as LogLine;
        } catch {
          return { level: "raw", msg: l };
        }
      });
  }

  /** A crash: SIGKILL, no cleanup in the controller. Resolves once the process is gone. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGKILL");
    await this.#exited;
    await this.#logDone;
  }

  /** A graceful stop: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.running) {
      this.child.kill("SIGTERM");
      const timedOut = await Promise.race([this.#exited.then(() => false), sleep(graceMs).then(() => true)]);
      if (timedOut) this.child.kill("SIGKILL");
      await this.#exited;
    }
    await this.#logDone;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * Spawns `lifeboat run` against the lab and moto with its output appended to `logPath`, and returns at once:
 * a leader-elected standby, for one, never logs that it consumes the queue. The process is SIGKILLed if
 * this one exits first.
 */
export function spawnController(options: ControllerOptions): ControllerProcess {
  const args = [
    ...(options.executable?.args ?? [LIFEBOAT_BIN]),
    ...lifeboatArgs(options),
    ...(options.extraArgs ?? []),
  ];
  const log = createWriteStream(options.logPath, { flags: "a" });
  const file = options.executable?.file ?? process.execPath;
  const child = spawn(file, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...(options.executable?.env ?? { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "" }),
      AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
      AWS_REGION: options.awsRegion,
      ...(options.nodeOptions === undefined ? {} : { NODE_OPTIONS: options.nodeOptions }),
    },
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const logDone = once(child, "close").then(() => new Promise<void>((resolve) => log.end(resolve)));
  const killOnExit = (): void => void child.kill("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", () => process.removeListener("exit", killOnExit));
  return new ControllerProcess(child, options.logPath, [file, ...args], logDone);
}

/**
 * Starts `lifeboat run` against the lab and moto and resolves once it has synced its informers and started
 * consuming the queue (both seen in its log), so a message sent afterwards is handled by this process.
 */
export async function startController(options: ControllerOptions): Promise<ControllerProcess> {
  // LIFEBOAT_TEST_LOG_LEVEL=debug shows the planner's waits in the captured log (with LIFEBOAT_KEEP_LOGS=1).
  const level = process.env["LIFEBOAT_TEST_LOG_LEVEL"];
  const controller = spawnController({
    ...options,
    extraArgs: [...(level === undefined ? [] : [`--log-level=${level}`]), ...(options.extraArgs ?? [])],
  });
  try {
    await waitFor(
      "the controller to sync its informers and consume the queue",
      async () => {
        const lines = await controller.logLines();
        const synced = lines.some((l) => l.msg === "informers synced");
        const consuming = lines.some((l) => l.msg === "sqs consumer started");
        return synced && consuming ? true : undefined;
      },
      { timeoutMs: options.startTimeoutMs ?? 30_000, intervalMs: 100, alive: controller.assertRunning },
    );
  } catch (err) {
    await controller.kill();
    throw err;
  }
  return controller;
}
