/**
 * The logging surface of the cluster side (cache and actuators): pino's `(mergeObject, message)` call shape, so
 * a pino logger or a child of one is passed as is, and tests pass a recorder.
 */
export interface ClusterLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
  debug(obj: Record<string, unknown>, msg: string): void;
}

/** Discards everything. */
export const silentClusterLogger: ClusterLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};

export interface LogRecord {
  level: "info" | "warn" | "error" | "debug";
  obj: Record<string, unknown>;
  msg: string;
}

/** Keeps every record in memory: for tests and for the dry-run decorator's own tests. */
export class RecordingLogger implements ClusterLogger {
  readonly records: LogRecord[] = [];
  info(obj: Record<string, unknown>, msg: string): void {
    this.records.push({ level: "info", obj, msg });
  }
  warn(obj: Record<string, unknown>, msg: string): void {
    this.records.push({ level: "warn", obj, msg });
  }
  error(obj: Record<string, unknown>, msg: string): void {
    this.records.push({ level: "error", obj, msg });
  }
  debug(obj: Record<string, unknown>, msg: string): void {
    this.records.push({ level: "debug", obj, msg });
  }
  messages(level?: LogRecord["level"]): string[] {
    return this.records.filter((r) => level === undefined || r.level === level).map((r) => r.msg);
  }
}
