/**
 * moto (the AWS emulator) for the lab and the integration tests: one `moto_server` per call, on 127.0.0.1 and a
 * free port, killed on dispose even when a test fails.
 *
 *   await using moto = await startMoto();
 *   const sqs = moto.sqsClient();
 *
 * The server comes from `$LIFEBOAT_CACHE/moto-<MOTO_VERSION>/bin/moto_server` (lab/setup/install-moto.sh installs it;
 * the version is read from lab/versions.env). SDK clients get the endpoint, region and fake credentials explicitly:
 * nothing depends on AWS_* environment variables or ~/.aws.
 */
import { cacheDir, readVersions } from "../controlplane/binaries.ts";
import { freePort } from "../controlplane/ports.ts";
import { reapOnExit } from "../controlplane/reaper.ts";
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { SQSClient } from "@aws-sdk/client-sqs";
import { EC2Client } from "@aws-sdk/client-ec2";

export interface MotoOptions {
  /** Default `us-east-1`. */
  region?: string;
  /** Overrides the cache root (default `$LIFEBOAT_CACHE`, else `~/.cache/lifeboat`). */
  cacheDir?: string;
  /** Overrides lab/versions.env's MOTO_VERSION. */
  version?: string;
  /** How long to wait for the server to answer, ms. Default 30000. */
  startTimeoutMs?: number;
}

export interface MotoCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface Moto extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  region: string;
  credentials: MotoCredentials;
  /** A new SQS client pointed at this moto. */
  sqsClient(): SQSClient;
  /** A new EC2 client pointed at this moto. */
  ec2Client(): EC2Client;
  /** Stops the server (idempotent). */
  stop(): Promise<void>;
}

/** The fake credentials moto accepts (its docs use "testing"). */
export const MOTO_CREDENTIALS: MotoCredentials = Object.freeze({
  accessKeyId: "testing",
  secretAccessKey: "testing",
});

export class MotoNotInstalledError extends Error {
  override readonly name = "MotoNotInstalledError";
  readonly path: string;
  constructor(path: string) {
    super(`moto_server not found at ${path}: run lab/setup/install-moto.sh first`);
    this.path = path;
  }
}

export class MotoStartError extends Error {
  override readonly name = "MotoStartError";
  readonly output: string;
  constructor(message: string, output: string) {
    super(`${message}${output === "" ? "" : `\n--- moto_server output ---\n${output}`}`);
    this.output = output;
  }
}

export function motoServerPath(options: Pick<MotoOptions, "cacheDir" | "version"> = {}): string {
  const cache = options.cacheDir ?? cacheDir();
  const version = options.version ?? readVersions().MOTO_VERSION;
  return join(cache, `moto-${version}`, "bin", "moto_server");
}

export async function startMoto(options: MotoOptions = {}): Promise<Moto> {
  const bin = motoServerPath(options);
  if (!existsSync(bin)) throw new MotoNotInstalledError(bin);
  const region = options.region ?? "us-east-1";
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(bin, ["-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "pipe", "pipe"],
    // moto reads no AWS credentials; keep the child's environment from leaking real ones into it anyway.
    env: {
      PATH: process.env["PATH"] ?? "",
      HOME: process.env["HOME"] ?? "",
      MOTO_ALLOW_NONEXISTENT_REGION: "true",
    },
  });
  reapOnExit(child);
  let output = "";
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const killOnExit = (): void => void child.kill("SIGKILL");
  process.once("exit", killOnExit);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      process.removeListener("exit", killOnExit);
      await terminate(child);
    })());

  try {
    await waitUntilAnswering(endpoint, child, options.startTimeoutMs ?? 30_000, () => output);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    endpoint,
    region,
    credentials: { ...MOTO_CREDENTIALS },
    sqsClient: () =>
      new SQSClient({ endpoint, region, credentials: { ...MOTO_CREDENTIALS }, maxAttempts: 1 }),
    ec2Client: () =>
      new EC2Client({ endpoint, region, credentials: { ...MOTO_CREDENTIALS }, maxAttempts: 1 }),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function waitUntilAnswering(
  endpoint: string,
  child: ChildProcess,
  timeoutMs: number,
  output: () => string,
): Promise<void> {
  const started = Date.now();
  let exited: string | undefined;
  child.once("exit", (code, signal) => (exited = `exited (code ${String(code)}, signal ${String(signal)})`));
  for (;;) {
    if (exited !== undefined)
      throw new MotoStartError(`moto_server ${exited} before answering on ${endpoint}`, output());
    try {
      // moto's own API answers once the server is up.
      const res = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return;
    } catch {
      // not up yet
    }
    if (Date.now() - started > timeoutMs)
      throw new MotoStartError(`moto_server did not answer on ${endpoint} within ${timeoutMs} ms`, output());
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      resolve();
    }),
  );
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}
