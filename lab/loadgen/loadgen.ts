/**
 * Open-loop load: requests leave at a steady rate scheduled by the clock, never by completions, through
 * a pool of keep-alive connections like a browser's. Every response is recorded.
 *
 * Like a browser (and undici, and RFC 9110 section 9.2.2 for idempotent requests), a GET sent on a reused
 * keep-alive connection that the load balancer closed before any response (its idle timeout racing the
 * reuse) is sent once more, on a new connection: that reset says nothing about the targets. A busy machine
 * widens the race (the pool's idle sockets are reused late), and it used to show up as resets with no target.
 */
import http from "node:http";
import { performance } from "node:perf_hooks";

/** Header the ALB simulator sets to name the target (lab/alb/proxy.ts `targetHeader`). */
export const defaultTargetHeader = "x-lab-target";

export interface ResponseRecord {
  /** Epoch ms at which the request was sent. */
  at: number;
  /** HTTP status; 0 for a client-side failure (see `error`). */
  status: number;
  /** Real milliseconds from send to the end of the body (or the failure). */
  latencyMs: number;
  /** The target that served or failed it (`ip:port`), when the load balancer named one. */
  target: string | undefined;
  /** Client-side error code (ECONNREFUSED, ECONNRESET, ClientTimeout, ...). */
  error?: string;
  /** Sent again on a new connection after a reused one was closed before any response. */
  resent?: true;
}

export interface LoadOptions {
  /** The load balancer URL, e.g. `http://127.0.0.1:PORT/`. Must be loopback. */
  url: string;
  /** Requests per simulated second. */
  rps: number;
  /** Stop after this many requests. At least one of maxRequests and durationSeconds is required. */
  maxRequests?: number;
  /** Stop sending after this many simulated seconds. */
  durationSeconds?: number;
  /** Multiplier on simulated durations (0.25: four times faster, so four times the real rate). Default 1. */
  timeScale?: number;
  /** Size of the keep-alive connection pool. Default 64 (GUESS: many browsers, each with a few connections). */
  connections?: number;
  /** Simulated seconds after which the client gives up (status 0, ClientTimeout). Default 120 (above the ALB's 60 s idle timeout). */
  requestTimeoutSeconds?: number;
  /** Extra request headers, e.g. `host` for host-based routing. */
  headers?: Record<string, string>;
  /** Header naming the target. Default `x-lab-target`. */
  targetHeader?: string;
  /** Stops sending early; requests in flight still complete. */
  signal?: AbortSignal;
  onRecord?: (record: ResponseRecord) => void;
}

export interface LoadResult {
  /** Epoch ms of the first scheduled request. */
  startedAt: number;
  records: ResponseRecord[];
}

export class UnboundedLoadError extends Error {
  constructor() {
    super("a load run needs maxRequests or durationSeconds, or it would never stop");
    this.name = "UnboundedLoadError";
  }
}

export class NonLoopbackUrlError extends Error {
  readonly url: string;
  constructor(url: string) {
    super(`the load generator only sends to loopback (127.0.0.0/8), not ${url}`);
    this.name = "NonLoopbackUrlError";
    this.url = url;
  }
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  if (options.maxRequests === undefined && options.durationSeconds === undefined)
    throw new UnboundedLoadError();
  const url = new URL(options.url);
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(url.hostname) && url.hostname !== "localhost")
    throw new NonLoopbackUrlError(options.url);
  const timeScale = options.timeScale ?? 1;
  const intervalMs = (1000 * timeScale) / options.rps;
  const maxRequests = options.maxRequests ?? Infinity;
  const endMs = options.durationSeconds === undefined ? Infinity : options.durationSeconds * 1000 * timeScale;
  const timeoutMs = (options.requestTimeoutSeconds ?? 120) * 1000 * timeScale;
  const targetHeader = options.targetHeader ?? defaultTargetHeader;
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections ?? 64 });
  const records: ResponseRecord[] = [];
  const inFlight = new Set<Promise<void>>();
  const startedAt = Date.now();
  const startPerf = performance.now();

  const send = (): void => {
    const at = Date.now();
    const t0 = performance.now();
    const done = new Promise<void>((resolve) => {
      let recorded = false;
      let resent = false;
      const record = (status: number, target: string | undefined, error?: string): void => {
        if (recorded) return;
        recorded = true;
        const entry: ResponseRecord = {
          at,
          status,
          latencyMs: performance.now() - t0,
          target,
          ...(error === undefined ? {} : { error }),
          ...(resent ? { resent: true as const } : {}),
        };
        records.push(entry);
        options.onRecord?.(entry);
        resolve();
      };
      const attempt = (): void => {
        // The resend goes on a connection of its own, not on another idle socket of the pool.
        const req = http.request(
          url,
          { agent: resent ? false : agent, headers: options.headers ?? {} },
          (res) => {
            const value = res.headers[targetHeader];
            const target = Array.isArray(value) ? value[0] : value;
            res.on("data", () => undefined);
            res.on("end", () => {
              record(res.statusCode ?? 0, target);
            });
            res.on("aborted", () => {
              record(0, target, "ECONNRESET");
            });
            res.on("error", (error: NodeJS.ErrnoException) => {
              record(0, target, error.code ?? "ResponseError");
            });
          },
        );
        req.setTimeout(timeoutMs, () => {
          record(0, undefined, "ClientTimeout");
          req.destroy();
        });
        req.on("error", (error: NodeJS.ErrnoException) => {
          if (!resent && !recorded && req.reusedSocket && error.code === "ECONNRESET") {
            resent = true;
            attempt();
            return;
          }
          record(0, undefined, error.code ?? error.message);
        });
        req.end();
      };
      attempt();
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };

  await new Promise<void>((resolve) => {
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      options.signal?.removeEventListener("abort", stop);
      resolve();
    };
    if (options.signal?.aborted === true) {
      stop();
      return;
    }
    options.signal?.addEventListener("abort", stop, { once: true });
    const tick = (): void => {
      const elapsed = performance.now() - startPerf;
      while (sent < maxRequests && sent * intervalMs < endMs && sent * intervalMs <= elapsed) {
        send();
        sent += 1;
      }
      if (sent >= maxRequests || sent * intervalMs >= endMs) {
        stop();
        return;
      }
      timer = setTimeout(tick, Math.max(0, sent * intervalMs - (performance.now() - startPerf)));
    };
    tick();
  });
  while (inFlight.size > 0) await Promise.all(inFlight);
  agent.destroy();
  records.sort((a, b) => a.at - b.at);
  return { startedAt, records };
}
