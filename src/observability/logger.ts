/**
 * Structured logs: pino, one JSON object per line on stdout. There is no global logger: `cli/` creates one
 * and passes it (or `logger.child({ evacuation })`) to whatever needs to log.
 */
import { pino } from "pino";
import type { DestinationStream, Level, LevelWithSilent } from "pino";
import type { Clock } from "../domain/clock.ts";

export type Logger = pino.Logger;
export type { LevelWithSilent as LogLevel };

export interface LoggerOptions {
  level: LevelWithSilent;
  /** One readable line per entry instead of JSON (for a terminal; not for log collectors). */
  pretty?: boolean;
  /** Where lines go (default: stdout). Tests pass a collecting stream. */
  destination?: DestinationStream;
  /** Source of the `time` field (default: the wall clock). A FakeClock makes log lines reproducible. */
  clock?: Clock;
  /** Fields on every line, e.g. `{ identity }`. */
  base?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions): Logger {
  const stdout = options.destination ?? pino.destination({ dest: 1, sync: true });
  const destination = options.pretty === true ? prettyStream(stdout) : stdout;
  const clock = options.clock;
  return pino(
    {
      level: options.level,
      base: { name: "lifeboat", ...options.base },
      formatters: { level: (label) => ({ level: label }) },
      timestamp:
        clock === undefined
          ? pino.stdTimeFunctions.isoTime
          : () => `,"time":"${new Date(clock.now()).toISOString()}"`,
    },
    destination,
  );
}

/** A logger that writes nothing: for tests and library callers that do not care. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

const LEVEL_TAGS: Record<Level, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO ",
  warn: "WARN ",
  error: "ERROR",
  fatal: "FATAL",
};

const HIDDEN_KEYS = new Set(["level", "time", "msg", "name", "pid", "hostname"]);

/** Renders pino's JSON lines as `12:00:01.250 INFO  message key=value ...`. */
export function formatPrettyLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof entry["time"] === "string" ? entry["time"].slice(11, 23) : "";
  const level = LEVEL_TAGS[entry["level"] as Level] ?? String(entry["level"]);
  const fields = Object.entries(entry)
    .filter(([key]) => !HIDDEN_KEYS.has(key))
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`);
  return (
    [time, level, typeof entry["msg"] === "string" ? entry["msg"] : "", ...fields]
      .filter((part) => part !== "")
      .join(" ") + "\n"
  );
}

function prettyStream(target: DestinationStream): DestinationStream {
  return {
    write(chunk: string): void {
      for (const line of chunk.split("\n")) if (line !== "") target.write(formatPrettyLine(line));
    },
  };
}
