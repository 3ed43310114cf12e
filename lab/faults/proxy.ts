/**
 * The lab's fault proxy: an HTTP(S) reverse proxy between a client (the controller) and an upstream
 * (kube-apiserver or moto) that fails chosen requests (./rules.ts) and can make the upstream unreachable for
 * a while. Everything else passes through unchanged and streaming (watches: long-lived `GET ?watch=1`
 * responses are piped chunk by chunk).
 *
 *   await using proxy = await startFaultProxy({ upstream: moto.endpoint, flavor: "aws" });
 *   const rule = proxy.inject({ match: { action: "DeleteMessage" }, fault: { kind: "status", status: 500 }, times: 1 });
 *   ...; rule.failed  // how many requests it failed
 *   proxy.unreachable(30_000);  // every connection reset for 30 s, open ones (watches) cut at once
 *
 * TLS (the Kubernetes flavor): the proxy serves HTTPS with the certificate and key it is given (the lab
 * reuses the API server's own self-signed serving pair, valid for 127.0.0.1, so the lab's CA and bearer
 * token work unchanged against the proxy: ./kube.ts) and forwards over HTTPS to the upstream. The
 * Authorization header passes through: the controller authenticates to the API server as it would directly.
 */
import { Agent as HttpAgent, createServer as createHttpServer, request as httpRequest } from "node:http";
import type {
  IncomingHttpHeaders,
  IncomingMessage,
  OutgoingHttpHeaders,
  Server,
  ServerResponse,
} from "node:http";
import { Agent as HttpsAgent, createServer as createHttpsServer, request as httpsRequest } from "node:https";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import {
  awsErrorBody,
  awsRequestInfo,
  decide,
  kubeErrorBody,
  kubeRequestInfo,
  type Fault,
  type FaultRule,
  type RequestInfo,
  type RuleState,
} from "./rules.ts";

export interface FaultProxyOptions {
  /** `https://127.0.0.1:6443` or `http://127.0.0.1:5000`. */
  upstream: string;
  /** How requests are read and errors written: Kubernetes API or AWS API (moto). */
  flavor: "kube" | "aws";
  /** Serve HTTPS with this pair (PEM); plain HTTP without. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** CA (PEM) to verify an HTTPS upstream with. */
  upstreamCa?: string | Buffer;
}

/** One request as the proxy handled it (for assertions: "exactly one scale write reached the API server"). */
export interface RequestRecord extends RequestInfo {
  at: number;
  /** `forwarded` (upstream answered `status`), a fault, or `unreachable` (cut while unreachable). */
  outcome: "forwarded" | "fault" | "upstream-error";
  /** The HTTP status the client got (null: reset, hang, or still streaming when cut). */
  status: number | null;
  fault: Fault["kind"] | null;
  /** True when the upstream saw the request (always for `forwarded`; for `when: "response"` faults too). */
  reachedUpstream: boolean;
}

export interface FaultHandle {
  readonly rule: FaultRule;
  /** Matching requests seen since injected. */
  readonly matched: number;
  /** Requests this rule failed. */
  readonly failed: number;
  remove(): void;
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

function forwardable(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

export class FaultProxy implements AsyncDisposable {
  readonly url: string;
  /** Every request handled, oldest first. */
  readonly requests: RequestRecord[] = [];
  readonly #opts: FaultProxyOptions;
  readonly #upstream: URL;
  readonly #listener: NetServer;
  readonly #http: Server;
  readonly #agent: HttpAgent;
  readonly #rules: { rule: FaultRule; state: RuleState }[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #listeners: ((info: RequestInfo) => void)[] = [];
  #unreachableUntil = 0;
  #unreachableMode: "reset" | "hang" = "reset";

  private constructor(opts: FaultProxyOptions, listener: NetServer, http: Server, url: string) {
    this.#opts = opts;
    this.#upstream = new URL(opts.upstream);
    this.#listener = listener;
    this.#http = http;
    this.url = url;
    this.#agent =
      this.#upstream.protocol === "https:"
        ? new HttpsAgent({
            keepAlive: true,
            ...(opts.upstreamCa === undefined ? {} : { ca: opts.upstreamCa }),
          })
        : new HttpAgent({ keepAlive: true });
  }

  static async start(opts: FaultProxyOptions): Promise<FaultProxy> {
    const ref: { proxy?: FaultProxy } = {};
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      ref.proxy?.handle(req, res);
    };
    const http = opts.tls === undefined ? createHttpServer(handler) : createHttpsServer(opts.tls, handler);
    // Long watches must not be cut by the server's own timeouts.
    http.requestTimeout = 0;
    http.headersTimeout = 0;
    http.timeout = 0;
    http.keepAliveTimeout = 60_000;
    // One TCP listener that hands each connection to the HTTP(S) server unless the upstream is "unreachable".
    const listener = createNetServer((socket) => {
      ref.proxy?.accept(socket);
    });
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(0, "127.0.0.1", () => {
        resolve();
      });
    });
    const address = listener.address();
    if (address === null || typeof address === "string") throw new Error("fault proxy: no port");
    const scheme = opts.tls === undefined ? "http" : "https";
    const proxy = new FaultProxy(opts, listener, http, `${scheme}://127.0.0.1:${address.port}`);
    ref.proxy = proxy;
    return proxy;
  }

  /** Adds a rule (rules are tried in the order added; the first that fires fails the request). */
  inject(rule: FaultRule): FaultHandle {
    const entry = { rule, state: { matched: 0, failed: 0, firstFailureAt: null } };
    this.#rules.push(entry);
    const rules = this.#rules;
    return {
      rule,
      get matched() {
        return entry.state.matched;
      },
      get failed() {
        return entry.state.failed;
      },
      remove: () => {
        const i = rules.indexOf(entry);
        if (i >= 0) rules.splice(i, 1);
      },
    };
  }

  /**
   * Calls `fn` with every request before the rules are tried, so a test can arm a rule at an exact moment
   * ("when the retire's write arrives, fail the status writes that follow it").
   */
  onRequest(fn: (info: RequestInfo) => void): void {
    this.#listeners.push(fn);
  }

  /** Removes every rule and ends an unreachable window. */
  clear(): void {
    this.#rules.length = 0;
    this.#unreachableUntil = 0;
  }

  /**
   * The upstream is unreachable for `ms`: open connections (watches, keep-alive) are cut now and every new
   * connection is reset ("reset") or accepted and never answered ("hang", cut when the window ends).
   */
  unreachable(ms: number, mode: "reset" | "hang" = "reset"): void {
    this.#unreachableUntil = Date.now() + ms;
    this.#unreachableMode = mode;
    for (const s of this.#sockets) s.destroy();
  }

  get isUnreachable(): boolean {
    return Date.now() < this.#unreachableUntil;
  }

  /** `url` with its origin replaced by the proxy's (e.g. an SQS queue URL). */
  rewrite(url: string): string {
    const u = new URL(url);
    const mine = new URL(this.url);
    u.protocol = mine.protocol;
    u.host = mine.host;
    return u.toString();
  }

  /** Requests recorded that match `pred` (shorthand for tests). */
  seen(pred: (r: RequestRecord) => boolean): RequestRecord[] {
    return this.requests.filter(pred);
  }

  accept(socket: Socket): void {
    if (this.isUnreachable) {
      if (this.#unreachableMode === "reset") {
        socket.resetAndDestroy();
        return;
      }
      this.#track(socket);
      this.#later(Math.max(0, this.#unreachableUntil - Date.now()), () => socket.destroy());
      return;
    }
    this.#track(socket);
    this.#http.emit("connection", socket);
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.#opts.flavor === "aws") {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        const info = awsRequestInfo(req.method ?? "GET", req.url ?? "/", req.headers, body.toString("utf8"));
        this.#route(req, res, info, body);
      });
      return;
    }
    this.#route(req, res, kubeRequestInfo(req.method ?? "GET", req.url ?? "/"), null);
  }

  #route(req: IncomingMessage, res: ServerResponse, info: RequestInfo, body: Buffer | null): void {
    const record: RequestRecord = {
      ...info,
      at: Date.now(),
      outcome: "forwarded",
      status: null,
      fault: null,
      reachedUpstream: false,
    };
    this.requests.push(record);
    for (const fn of this.#listeners) fn(info);
    const now = Date.now();
    const fired = this.#rules.find((r) => decide(r.rule, r.state, info, now));
    if (fired !== undefined && (fired.rule.when ?? "request") === "request") {
      this.#fail(req, res, fired.rule.fault, record);
      return;
    }
    const upstreamReq = (this.#upstream.protocol === "https:" ? httpsRequest : httpRequest)(
      {
        protocol: this.#upstream.protocol,
        hostname: this.#upstream.hostname,
        port: this.#upstream.port,
        method: req.method,
        path: req.url,
        headers: forwardable(req.headers),
        agent: this.#agent,
      },
      (upstreamRes) => {
        record.reachedUpstream = true;
        if (fired !== undefined) {
          // when: "response": the upstream acted; the client gets the fault instead of its answer.
          upstreamRes.resume();
          upstreamRes.on("end", () => {
            this.#fail(req, res, fired.rule.fault, record);
          });
          return;
        }
        record.status = upstreamRes.statusCode ?? 502;
        res.writeHead(record.status, forwardable(upstreamRes.headers));
        res.flushHeaders();
        upstreamRes.pipe(res);
        upstreamRes.on("error", () => res.destroy());
      },
    );
    upstreamReq.on("error", (err) => {
      record.outcome = "upstream-error";
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      record.status = 502;
      this.#writeError(req, res, 502, `fault proxy: upstream ${this.#opts.upstream}: ${err.message}`);
    });
    // The client went away (or was cut): stop the upstream request too (ends a watch upstream).
    res.on("close", () => {
      if (!res.writableFinished) upstreamReq.destroy();
    });
    if (body !== null) upstreamReq.end(body);
    else req.pipe(upstreamReq);
  }

  #fail(req: IncomingMessage, res: ServerResponse, fault: Fault, record: RequestRecord): void {
    record.outcome = "fault";
    record.fault = fault.kind;
    switch (fault.kind) {
      case "status":
        record.status = fault.status;
        this.#writeError(
          req,
          res,
          fault.status,
          fault.message ??
            `fault proxy: injected ${fault.status} for ${record.verb} ${record.resource || record.action || record.path}`,
        );
        return;
      case "reset":
        req.socket.destroy();
        return;
      case "hang":
        req.resume();
        if (fault.ms !== undefined) this.#later(fault.ms, () => req.socket.destroy());
        return;
    }
  }

  #writeError(req: IncomingMessage, res: ServerResponse, status: number, message: string): void {
    const retryAfter = status === 429 || status === 503 ? { "retry-after": "1" } : {};
    if (this.#opts.flavor === "kube") {
      res.writeHead(status, { "content-type": "application/json", ...retryAfter });
      res.end(kubeErrorBody(status, message));
      return;
    }
    const json = req.headers["x-amz-target"] !== undefined;
    const err = awsErrorBody(status, message, json);
    res.writeHead(status, {
      "content-type": err.contentType,
      "x-amzn-errortype": err.code,
      ...(json ? { "x-amzn-query-error": `${err.code};${status < 500 ? "Sender" : "Receiver"}` } : {}),
      ...retryAfter,
    });
    res.end(err.body);
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => undefined);
  }

  #later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.#timers.add(t);
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    const closed = new Promise<void>((resolve) =>
      this.#listener.close(() => {
        resolve();
      }),
    );
    for (const s of this.#sockets) s.destroy();
    this.#http.closeAllConnections();
    this.#agent.destroy();
    await closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

export function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  return FaultProxy.start(opts);
}
