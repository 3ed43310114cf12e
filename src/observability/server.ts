/**
 * The HTTP endpoints: /metrics (Prometheus), /healthz (liveness) and /readyz (readiness). node:http only.
 * One server can serve all three, or run two (metrics on one address, probes on another) by leaving
 * `metrics` or `health` out of one of them.
 */
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Metrics } from "./metrics.ts";
import type { Logger } from "./logger.ts";
import type { LoopState } from "./loop-watch.ts";

export interface Check {
  ok: boolean;
  /** Why, in words: shown in the probe's response body. */
  reason: string;
}

export interface HealthReport {
  /**
   * /healthz: the process answers and its reconcile loop is not stuck (no reconcile running, and no
   * reconcile overdue, for longer than the limit). A failing liveness probe restarts the pod.
   */
  live: Check;
  /** /readyz: informers synced and, with leader election, leader or a healthy standby. */
  ready: Check;
}

/** Where this replica stands with the leader Lease. */
export type Leadership =
  | { kind: "disabled" }
  | { kind: "leader" }
  /** `healthy`: the standby can read the Lease and would take over. */
  | { kind: "standby"; healthy: boolean; reason: string };

export interface HealthInputs {
  now: number;
  /** The reconcile loop as it reported itself (loop-watch.ts). */
  loop: LoopState;
  /** A reconcile running, or overdue, for longer than this means the loop is stuck. */
  maxStallMs: number;
  informersSynced: boolean;
  leadership: Leadership;
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

/** Liveness from the loop's own state: stuck when a reconcile hangs or the next one never begins. */
function assessLoop(now: number, loop: LoopState, maxStallMs: number): Check {
  switch (loop.kind) {
    case "idle":
      return { ok: true, reason: `no reconcile loop runs here (${loop.reason})` };
    case "reconciling": {
      const age = now - loop.since;
      return age <= maxStallMs
        ? { ok: true, reason: `reconciling for ${secs(age)}` }
        : {
            ok: false,
            reason: `a reconcile has been running for ${secs(age)}, more than ${secs(maxStallMs)}: the loop is stuck`,
          };
    }
    case "waiting": {
      const late = now - loop.dueAt;
      if (late <= 0) return { ok: true, reason: `next reconcile due in ${secs(-late)}` };
      return late <= maxStallMs
        ? { ok: true, reason: `next reconcile ${secs(late)} overdue` }
        : {
            ok: false,
            reason: `the next reconcile is ${secs(late)} overdue, more than ${secs(maxStallMs)}: the loop is stuck`,
          };
    }
  }
}

/** Pure: turns what the controller knows about itself into the two probe answers, with reasons. */
export function assessHealth(inputs: HealthInputs): HealthReport {
  const live = assessLoop(inputs.now, inputs.loop, inputs.maxStallMs);
  let ready: Check;
  if (!inputs.informersSynced) ready = { ok: false, reason: "informers have not synced yet" };
  else if (inputs.leadership.kind === "disabled")
    ready = { ok: true, reason: "informers synced; leader election disabled" };
  else if (inputs.leadership.kind === "leader") ready = { ok: true, reason: "informers synced; leader" };
  else if (inputs.leadership.healthy)
    ready = { ok: true, reason: `informers synced; healthy standby (${inputs.leadership.reason})` };
  else ready = { ok: false, reason: `informers synced; unhealthy standby: ${inputs.leadership.reason}` };
  return { live, ready };
}

export interface ObservabilityServerOptions {
  host: string;
  /** 0 picks a free port; read it back from `address`. */
  port: number;
  /** Serves /metrics when given. */
  metrics?: Metrics;
  /** Serves /healthz and /readyz when given. Called on every probe; should be cheap and must not block. */
  health?: () => HealthReport;
  logger?: Logger;
}

export interface ObservabilityServer extends AsyncDisposable {
  readonly address: { host: string; port: number };
  /** e.g. http://127.0.0.1:8080 */
  readonly url: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
  res.end(body);
}

function sendCheck(res: ServerResponse, check: Check): void {
  send(res, check.ok ? 200 : 503, "application/json", `${JSON.stringify(check)}\n`);
}

export async function startObservabilityServer(
  options: ObservabilityServerOptions,
): Promise<ObservabilityServer> {
  const { metrics, health, logger } = options;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const route =
      path === "/metrics" && metrics !== undefined
        ? "metrics"
        : (path === "/healthz" || path === "/readyz" || path === "/livez") && health !== undefined
          ? "health"
          : null;
    if (route === null) {
      send(res, 404, "text/plain", `not found: ${path}\n`);
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      send(res, 405, "text/plain", "method not allowed\n");
      return;
    }
    if (route === "metrics" && metrics !== undefined) {
      send(res, 200, metrics.contentType, await metrics.render());
      return;
    }
    if (health !== undefined) {
      const report = health();
      sendCheck(res, path === "/readyz" ? report.ready : report.live);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger?.error({ err: error, path: req.url }, "observability endpoint failed");
      if (!res.headersSent) send(res, 500, "text/plain", `internal error: ${String(error)}\n`);
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const address = { host: bound.address, port: bound.port };
  const hostForUrl = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  logger?.info(
    { address: `${hostForUrl}:${bound.port}`, metrics: metrics !== undefined, health: health !== undefined },
    "observability server listening",
  );

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
      server.closeAllConnections();
    });
    return closing;
  };
  return {
    address,
    url: `http://${hostForUrl}:${bound.port}`,
    close,
    [Symbol.asyncDispose]: close,
  };
}
