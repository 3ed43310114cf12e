/**
 * Child processes of the lab must not outlive it. Disposal stops them in order; this is the backstop for
 * when disposal cannot run: the process exits (an uncaught error, `process.exit`) or is told to stop by a
 * signal. Every lab child registers here and is killed synchronously on exit; SIGINT and SIGTERM are turned
 * into an exit (130 and 143, as a shell reports them) so that the exit hook runs.
 */
import type { ChildProcess } from "node:child_process";

const children = new Set<ChildProcess>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  process.once("exit", () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    // Only when nobody else handles the signal (a test runner or the controller has its own handlers).
    if (process.listenerCount(signal) === 0) {
      process.once(signal, () => {
        process.exit(code);
      });
    }
  }
}

/** Kills `child` when this process exits, unless it has exited by then. */
export function reapOnExit(child: ChildProcess): void {
  install();
  children.add(child);
  child.once("exit", () => children.delete(child));
}
