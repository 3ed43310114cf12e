/**
 * The logging surface the signal sources need: pino's `(mergeObject, message)` call shape, so a pino logger (or a
 * child of one) is passed as is, and tests pass a recorder.
 */
export interface SignalLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
  debug(obj: Record<string, unknown>, msg: string): void;
}

/** Discards everything. */
export const silentLogger: SignalLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};
