import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { reapOnExit } from "./reaper.ts";

/** A child process of the lab with its output in a log file; stopped (TERM, then KILL) on dispose. */
export class LabProcess implements AsyncDisposable {
  readonly name: string;
  readonly logPath: string;
  readonly child: ChildProcess;
  #exited: Promise<number | null>;
  #exitCode: number | null | undefined = undefined;

  constructor(
    name: string,
    command: string,
    args: readonly string[],
    logPath: string,
    env?: NodeJS.ProcessEnv,
  ) {
    this.name = name;
    this.logPath = logPath;
    const log = createWriteStream(logPath, { flags: "a" });
    this.child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env });
    reapOnExit(this.child);
    this.child.stdout?.pipe(log);
    this.child.stderr?.pipe(log);
    this.#exited = new Promise((resolve) => {
      this.child.on("exit", (code) => {
        this.#exitCode = code;
        resolve(code);
      });
      this.child.on("error", (err) => {
        log.write(`spawn error: ${err.message}\n`);
        this.#exitCode = -1;
        resolve(-1);
      });
    });
  }

  get running(): boolean {
    return this.#exitCode === undefined;
  }

  /** The last lines of the log, for error messages. */
  tail(lines = 20): string {
    try {
      return readFileSync(this.logPath, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /** Polls `probe` until it resolves true; fails with the log's tail when the process exits or time runs out. */
  async waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    const start = performance.now();
    for (;;) {
      if (!this.running) {
        throw new Error(
          `${this.name} exited (code ${String(this.#exitCode)}) before ${what}:\n${this.tail()}`,
        );
      }
      if (await probe().catch(() => false)) return;
      if (performance.now() - start > timeoutMs) {
        throw new Error(`${this.name}: ${what} not reached within ${timeoutMs} ms:\n${this.tail()}`);
      }
      await sleep(100);
    }
  }

  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGTERM");
    const timedOut = await Promise.race([this.#exited.then(() => false), sleep(graceMs).then(() => true)]);
    if (timedOut && this.running) {
      this.child.kill("SIGKILL");
      await this.#exited;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
