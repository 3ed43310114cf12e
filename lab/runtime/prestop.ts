import type { V1Container } from "@kubernetes/client-node";

/**
 * What the runtime does for a container's preStop hook, with the reason it decided so.
 * The lab cannot run commands in a container, so only the time a hook takes matters: `sleep N` commands
 * (alone or inside `sh -c "..."`) and the native `lifecycle.preStop.sleep` action become a wait of N seconds.
 */
export type PreStopPlan =
  { kind: "sleep"; seconds: number; reason: string } | { kind: "none"; reason: string };

const SHELLS = new Set(["sh", "bash", "ash", "dash", "zsh"]);
const SLEEP_IN_SCRIPT = /(?:^|[\s;&|(])(?:\/\w+)*\/?sleep\s+(\d+(?:\.\d+)?)([smhd]?)(?=$|[\s;&|)])/g;

/** The preStop plan for one container. */
export function planPreStop(container: Pick<V1Container, "name" | "lifecycle">): PreStopPlan {
  const handler = container.lifecycle?.preStop;
  if (handler === undefined)
    return { kind: "none", reason: `container ${container.name} has no preStop hook` };
  if (handler.sleep !== undefined) {
    return { kind: "sleep", seconds: handler.sleep.seconds, reason: "lifecycle.preStop.sleep" };
  }
  if (handler.exec?.command !== undefined) {
    const seconds = sleepSecondsOfCommand(handler.exec.command);
    if (seconds === null) {
      return {
        kind: "none",
        reason: `preStop exec ${JSON.stringify(handler.exec.command)} has no sleep the lab can emulate`,
      };
    }
    return { kind: "sleep", seconds, reason: `preStop exec ${JSON.stringify(handler.exec.command)}` };
  }
  if (handler.httpGet !== undefined)
    return { kind: "none", reason: "preStop httpGet is treated as instantaneous" };
  return { kind: "none", reason: "preStop handler of an unsupported kind" };
}

/**
 * Seconds spent sleeping by an exec command: `["sleep", "20"]`, `["/bin/sleep", "20s"]`,
 * `["sh", "-c", "sleep 20 && nginx -s quit"]` (every `sleep N` of the script, summed). Null when there is none.
 */
export function sleepSecondsOfCommand(command: readonly string[]): number | null {
  const [program, ...args] = command;
  if (program === undefined) return null;
  const base = program.split("/").at(-1) ?? program;
  if (base === "sleep") {
    const arg = args[0];
    return arg === undefined ? null : parseDuration(arg);
  }
  if (SHELLS.has(base)) {
    const cIndex = args.findIndex(
      (a) => a === "-c" || (a.startsWith("-") && !a.startsWith("--") && a.includes("c")),
    );
    const script = cIndex === -1 ? undefined : args[cIndex + 1];
    return script === undefined ? null : sleepSecondsOfScript(script);
  }
  return null;
}

/** Sum of every `sleep N` in a shell script; null when the script never sleeps. */
export function sleepSecondsOfScript(script: string): number | null {
  let total: number | null = null;
  for (const match of script.matchAll(SLEEP_IN_SCRIPT)) {
    const seconds = parseDuration(`${match[1] ?? ""}${match[2] ?? ""}`);
    if (seconds !== null) total = (total ?? 0) + seconds;
  }
  return total;
}

/** GNU sleep's argument: a number with an optional s/m/h/d suffix. */
function parseDuration(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim());
  if (match === null) return null;
  const value = Number(match[1]);
  const unit = match[2] ?? "";
  const factor = unit === "m" ? 60 : unit === "h" ? 3600 : unit === "d" ? 86_400 : 1;
  return value * factor;
}
