/**
 * The ALB's listener: a real HTTP server on loopback that routes by Host header and path prefix to a
 * target group, round-robin over its routable targets, with keep-alive connections to targets, and
 * answers errors as the ALB does (timings.md, "ALB target groups"):
 * - 502: connection refused, reset, or closed while a request is outstanding; deregistration delay
 *   expired with the request in flight;
 * - 503: no registered (routable) target;
 * - 504: connect timeout (10 s), idle timeout (60 s) while waiting for the target.
 * Every response names its target in `x-lab-target` so the load generator can record it.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { TargetGroup } from "./target-group.ts";
import { resolveTarget, type DeadHostPolicy, type Resolver } from "./resolve.ts";

/** Response header carrying the target (`ip:port`) that served or failed the request. */
export const targetHeader = "x-lab-target";
/** Response header carrying the target's human name (pod or instance), when known. */
export const targetNameHeader = "x-lab-target-name";
export const targetGroupHeader = "x-lab-target-group";
/** Set on responses the load balancer generated itself: why (e.g. ECONNREFUSED, ConnectTimeout). */
export const errorHeader = "x-lab-error";

export interface Route {
  /** Matches the Host header without its port, case-insensitively. Omitted: any host. */
  host?: string;
  /** Matches when the path starts with it. Omitted: any path. */
  pathPrefix?: string;
  targetGroup: TargetGroup;
}

export interface ProxyParams {
  /** Seconds to wait for a TCP connection to a target before answering 504. Default 10 (ALB troubleshooting). */
  connectTimeoutSeconds: number;
  /** Seconds without a byte from the target before answering 504; also closes idle client connections. Default 60. */
  idleTimeoutSeconds: number;
  /** Multiplier on both timeouts. Default 1. */
  timeScale: number;
}

export const defaultProxyParams: ProxyParams = {
  connectTimeoutSeconds: 10,
  idleTimeoutSeconds: 60,
  timeScale: 1,
};

/** Why the load balancer answered an error itself. */
export type ProxyErrorCode =
  | "NoRule"
  | "NoTargets"
  | "ConnectTimeout"
  | "IdleTimeout"
  | "DrainExpired"
  | "ECONNREFUSED"
  | "ECONNRESET"
  | "EPIPE"
  | "TargetError"
  | "NonLoopbackTarget";

export interface ProxyErrorEvent {
  at: number;
  status: number;
  code: ProxyErrorCode;
  target: string | undefined;
  detail: string;
}

export interface AlbProxyOptions extends Partial<ProxyParams> {
  resolve: Resolver;
  /** What a target with no loopback listener does. Default "refuse" (GUESS, see resolve.ts). */
  deadHost?: DeadHostPolicy;
  routes?: Route[];
  /** Listen address; must be loopback. Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  onError?: (event: ProxyErrorEvent) => void;
}

export interface AlbProxy extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  readonly params: ProxyParams;
  addRoute(route: Route): void;
  close(): Promise<void>;
}

const hopByHop = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
]);

export async function startAlbProxy(options: AlbProxyOptions): Promise<AlbProxy> {
  const params: ProxyParams = {
    connectTimeoutSeconds: options.connectTimeoutSeconds ?? defaultProxyParams.connectTimeoutSeconds,
    idleTimeoutSeconds: options.idleTimeoutSeconds ?? defaultProxyParams.idleTimeoutSeconds,
    timeScale: options.timeScale ?? defaultProxyParams.timeScale,
  };
  const connectMs = params.connectTimeoutSeconds * 1000 * params.timeScale;
  const idleMs = params.idleTimeoutSeconds * 1000 * params.timeScale;
  const routes: Route[] = [...(options.routes ?? [])];
  const deadHost = options.deadHost ?? "refuse";
  // Like the ALB, close a connection to a target once it has been idle for the idle timeout: before the
  // target's own keep-alive timeout (the lab app's is 75 s, as AWS advises), so the ALB never reuses a
  // connection the target is closing. Left to the target's hint instead, the margin was one real second, and
  // a busy machine turned the race into 502s.
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: Infinity,
    maxFreeSockets: 256,
    timeout: idleMs,
  });

  const server = http.createServer((req, res) => {
    const route = matchRoute(routes, req);
    const sendError = (status: number, code: ProxyErrorCode, detail: string, target?: string): void => {
      options.onError?.({ at: Date.now(), status, code, target, detail });
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const headers: http.OutgoingHttpHeaders = {
        "content-type": "text/plain",
        server: "awselb/2.0",
        [errorHeader]: code,
      };
      if (target !== undefined) headers[targetHeader] = target;
      if (route !== undefined) headers[targetGroupHeader] = route.targetGroup.name;
      res.writeHead(status, headers);
      res.end(`${status} ${http.STATUS_CODES[status] ?? ""}\n`);
    };

    if (route === undefined) {
      req.resume();
      sendError(404, "NoRule", "no listener rule matched");
      return;
    }
    const pick = route.targetGroup.pick();
    if (pick.kind === "none") {
      req.resume();
      sendError(503, "NoTargets", pick.reason);
      return;
    }
    const lease = pick.lease;
    const target = lease.key;
    let settled = false;
    let connectTimer: NodeJS.Timeout | undefined;
    const upstream: { req?: http.ClientRequest } = {};
    const settle = (): void => {
      if (settled) return;
      settled = true;
      if (connectTimer !== undefined) clearTimeout(connectTimer);
      lease.release();
    };
    const fail = (status: number, code: ProxyErrorCode, detail: string): void => {
      if (settled) return;
      settle();
      upstream.req?.destroy();
      sendError(status, code, detail, target);
    };
    lease.signal.addEventListener(
      "abort",
      () => {
        fail(502, "DrainExpired", "deregistration delay expired");
      },
      { once: true },
    );
    res.on("close", () => {
      if (!res.writableFinished && !settled) {
        settle();
        upstream.req?.destroy();
      }
    });

    let where: ReturnType<typeof resolveTarget>;
    try {
      where = resolveTarget(options.resolve, deadHost, lease.target.ip, lease.target.port);
    } catch (error) {
      req.resume();
      fail(500, "NonLoopbackTarget", String(error));
      return;
    }
    if (where.kind === "dead") {
      req.resume();
      if (where.behaviour === "refuse") fail(502, "ECONNREFUSED", "connection refused (no listener)");
      else
        connectTimer = setTimeout(() => {
          fail(504, "ConnectTimeout", "host gone: no answer to connect");
        }, connectMs);
      return;
    }

    const up = http.request({
      host: where.host,
      port: where.port,
      method: req.method,
      path: req.url,
      headers: forwardHeaders(req),
      agent,
    });
    upstream.req = up;
    up.on("socket", (socket) => {
      if (!socket.connecting) return;
      connectTimer = setTimeout(() => {
        fail(504, "ConnectTimeout", `no connection within ${connectMs} ms`);
      }, connectMs);
      socket.once("connect", () => {
        clearTimeout(connectTimer);
      });
    });
    up.setTimeout(idleMs, () => {
      fail(504, "IdleTimeout", `no data from the target within ${idleMs} ms`);
    });
    up.on("error", (error: NodeJS.ErrnoException) => {
      fail(502, errorCode(error), error.message);
    });
    up.on("response", (upRes) => {
      if (settled) {
        upRes.resume();
        return;
      }
      const headers: http.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(upRes.headers)) {
        if (!hopByHop.has(name) && value !== undefined) headers[name] = value;
      }
      headers[targetHeader] = target;
      headers[targetGroupHeader] = route.targetGroup.name;
      if (lease.target.name !== undefined) headers[targetNameHeader] = lease.target.name;
      res.writeHead(upRes.statusCode ?? 502, headers);
      upRes.on("error", () => {
        fail(502, "ECONNRESET", "target reset during the response body");
      });
      upRes.on("aborted", () => {
        fail(502, "ECONNRESET", "target closed during the response body");
      });
      upRes.on("end", () => {
        if (!settled) res.end(settle);
      });
      upRes.on("data", (chunk: Buffer) => res.write(chunk));
    });
    req.pipe(up);
  });
  server.keepAliveTimeout = idleMs;
  server.requestTimeout = 0;

  const listenHost = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, listenHost, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    agent.destroy();
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
  };
  return {
    url: `http://${listenHost}:${port}`,
    port,
    params,
    addRoute: (route) => routes.push(route),
    close,
    [Symbol.asyncDispose]: close,
  };
}

function matchRoute(routes: readonly Route[], req: http.IncomingMessage): Route | undefined {
  const host = (req.headers.host ?? "").replace(/:\d+$/, "").toLowerCase();
  const path = req.url ?? "/";
  return routes.find(
    (r) =>
      (r.host === undefined || r.host.toLowerCase() === host) &&
      (r.pathPrefix === undefined || path.startsWith(r.pathPrefix)),
  );
}

function forwardHeaders(req: http.IncomingMessage): http.OutgoingHttpHeaders {
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!hopByHop.has(name) && value !== undefined) headers[name] = value;
  }
  const client = req.socket.remoteAddress ?? "";
  const prior = req.headers["x-forwarded-for"];
  headers["x-forwarded-for"] = typeof prior === "string" && prior !== "" ? `${prior}, ${client}` : client;
  headers["x-forwarded-proto"] = "http";
  return headers;
}

function errorCode(error: NodeJS.ErrnoException): ProxyErrorCode {
  switch (error.code) {
    case "ECONNREFUSED":
    case "ECONNRESET":
    case "EPIPE":
      return error.code;
    default:
      return "TargetError";
  }
}
