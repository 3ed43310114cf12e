/**
 * amazon-ec2-metadata-mock (AEMM), the IMDS mock from AWS, built from its pinned Go module by
 * lab/setup/build-metadata-mock.sh: one server per call on 127.0.0.1 and a free port, IMDSv2 only (a session token is
 * required, as on EKS nodes), killed on dispose.
 *
 *   await using imds = await startMetadataMock(["spot", "--time", "2026-11-24T12:02:00Z"]);
 *   // imds.endpoint is what `lifeboat agent --imds-endpoint` takes
 *
 * AEMM serves one kind of notice per command: `spot` (instance-action and the rebalance recommendation),
 * `events` (scheduled maintenance events), `asglifecycle` (target-lifecycle-state); see its README for flags.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cacheDir, readVersions } from "../controlplane/binaries.ts";
import { freePort } from "../controlplane/ports.ts";
import { reapOnExit } from "../controlplane/reaper.ts";

export interface MetadataMock extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** What AEMM printed so far (its request log), for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export class MetadataMockNotBuiltError extends Error {
  override readonly name = "MetadataMockNotBuiltError";
  constructor(path: string) {
    super(`ec2-metadata-mock not found at ${path}: run lab/setup/build-metadata-mock.sh first`);
  }
}

export function metadataMockPath(): string {
  const version = readVersions().AEMM_VERSION;
  return join(cacheDir(), "bin", `ec2-metadata-mock-${version}`, "ec2-metadata-mock");
}

export interface MetadataMockOptions {
  /** Default: a free port. */
  port?: number;
  /** How long to wait for the first token, ms. Default 15000. */
  timeoutMs?: number;
}

/** Starts AEMM with `args` (a command and its flags) and resolves once it hands out IMDSv2 tokens. */
export async function startMetadataMock(
  args: readonly string[],
  options: MetadataMockOptions = {},
): Promise<MetadataMock> {
  const bin = metadataMockPath();
  if (!existsSync(bin)) throw new MetadataMockNotBuiltError(bin);
  const timeoutMs = options.timeoutMs ?? 15_000;
  const port = options.port ?? (await freePort());
  const endpoint = `http://127.0.0.1:${port}`;
  // AEMM reads (and may write) config under $HOME: give it an empty one of its own.
  const home = mkdtempSync(join(tmpdir(), "lifeboat-aemm-"));
  const child = spawn(bin, [...args, "--hostname", "127.0.0.1", "--port", String(port), "--imdsv2"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env["PATH"] ?? "", HOME: home },
    cwd: home,
  });
  reapOnExit(child);
  let output = "";
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await terminate(child);
      rmSync(home, { recursive: true, force: true });
    })());
  try {
    const started = Date.now();
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`ec2-metadata-mock exited (${child.exitCode}):\n${output}`);
      try {
        const res = await fetch(`${endpoint}/latest/api/token`, {
          method: "PUT",
          headers: { "X-aws-ec2-metadata-token-ttl-seconds": "60" },
          signal: AbortSignal.timeout(1000),
        });
        await res.arrayBuffer();
        if (res.ok) break;
      } catch {
        // not up yet
      }
      if (Date.now() - started > timeoutMs)
        throw new Error(`ec2-metadata-mock did not answer on ${endpoint} within ${timeoutMs} ms:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, output: () => output, stop, [Symbol.asyncDispose]: stop };
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      resolve();
    });
  });
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}
