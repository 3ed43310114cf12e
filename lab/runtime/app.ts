import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { once } from "node:events";

/** Who the app is, as it reports itself in every response body. */
export interface PodIdentity {
  namespace: string;
  name: string;
  node: string;
  podIP: string;
}

export interface PodAppOptions {
  identity: PodIdentity;
  /** Latency of an ordinary request when the client does not ask for one with `?delay=ms`. */
  requestDelayMs: number;
  /** Paths answered at once with 200 while serving and 503 after SIGTERM (the probes' paths). */
  healthPaths: Iterable<string>;
  /** How long an idle keep-alive connection is kept open. */
  keepAliveTimeoutMs: number;
  /** When true, SIGTERM changes nothing: the app serves on until it is killed. */
  ignoreSigterm: boolean;
}

/** How a shutdown ended: every in-flight request finished, or the grace period ran out and sockets were reset. */
export type ShutdownOutcome =
  { kind: "drained"; inFlightAtSigterm: number } | { kind: "killed"; inFlightAtKill: number };

const MAX_DELAY_MS = 15 * 60_000;

/**
 * The workload of one pod: an HTTP server on 127.0.0.1 at a free port. Every request gets 200 and a small JSON
 * body naming the pod, after `?delay=ms` (taken literally: the client already chose it) or the pod's request
 * latency. Health paths answer at once. SIGTERM behaves like a well-written server (Go's Shutdown): health paths
 * turn 503, the listener stops accepting, idle keep-alive connections are closed, in-flight requests finish
 * and their connections close after the response.
 */
export class PodApp {
  readonly #options: PodAppOptions;
  readonly #server: Server;
  readonly #healthPaths: Set<string>;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #inFlight = 0;
  #idleWaiters: (() => void)[] = [];
  #terminating = false;
  #dead = false;
  readonly #killed = new AbortController();
  #port = 0;

  private constructor(options: PodAppOptions) {
    this.#options = options;
    this.#healthPaths = new Set(options.healthPaths);
    this.#server = createServer({ keepAliveTimeout: options.keepAliveTimeoutMs }, (req, res) => {
      this.#handle(req, res);
    });
    this.#server.on("connection", (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    this.#server.on("clientError", (_err, socket) => {
      socket.destroy();
    });
  }

  static async start(options: PodAppOptions): Promise<PodApp> {
    const app = new PodApp(options);
    app.#server.listen(0, "127.0.0.1");
    await once(app.#server, "listening");
    const address = app.#server.address();
    if (address === null || typeof address === "string")
      throw new Error("the pod app could not read its port");
    app.#port = address.port;
    return app;
  }

  /** The loopback port the app listens on. */
  get port(): number {
    return this.#port;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get terminating(): boolean {
    return this.#terminating;
  }

  /**
   * SIGTERM, then SIGKILL after `graceMs` if requests are still in flight. With `ignoreSigterm` the app just
   * keeps serving until the grace period ends.
   */
  async shutdown(graceMs: number): Promise<ShutdownOutcome> {
    if (this.#options.ignoreSigterm) {
      await delay(graceMs, this.#killed.signal);
      const inFlightAtKill = this.#inFlight;
      this.kill();
      return { kind: "killed", inFlightAtKill };
    }
    this.#terminating = true;
    const inFlightAtSigterm = this.#inFlight;
    this.#server.close();
    this.#server.closeIdleConnections();
    const graceOver = new AbortController();
    const drained = await Promise.race([
      this.#whenIdle().then(() => true),
      delay(graceMs, AbortSignal.any([graceOver.signal, this.#killed.signal])).then(() => false),
    ]);
    graceOver.abort();
    if (this.#dead) return { kind: "killed", inFlightAtKill: 0 };
    if (drained) {
      // Connections of finished requests close on their own (Connection: close); these are the idle leftovers.
      this.#server.closeIdleConnections();
      for (const socket of this.#sockets) socket.end();
      return { kind: "drained", inFlightAtSigterm };
    }
    const inFlightAtKill = this.#inFlight;
    this.kill();
    return { kind: "killed", inFlightAtKill };
  }

  /** SIGKILL or a dead host: the listener goes away and every open connection is reset. */
  kill(): void {
    if (this.#dead) return;
    this.#killed.abort();
    this.#terminating = true;
    this.#dead = true;
    this.#server.close();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const socket of this.#sockets) {
      if (!socket.destroyed) socket.resetAndDestroy();
    }
    this.#sockets.clear();
    this.#inFlight = 0;
    this.#notifyIdle();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.#dead) {
      req.socket.destroy();
      return;
    }
    this.#inFlight++;
    let counted = true;
    const done = (): void => {
      if (!counted) return;
      counted = false;
      this.#inFlight = Math.max(0, this.#inFlight - 1);
      if (this.#inFlight === 0) this.#notifyIdle();
    };
    res.on("close", done);
    req.resume();
    const url = new URL(req.url ?? "/", "http://pod");
    if (this.#healthPaths.has(url.pathname)) {
      this.#respond(res, this.#terminating ? 503 : 200, { status: this.#terminating ? "terminating" : "ok" });
      return;
    }
    const asked = Number(url.searchParams.get("delay"));
    const delayMs =
      url.searchParams.has("delay") && Number.isFinite(asked) && asked >= 0
        ? Math.min(asked, MAX_DELAY_MS)
        : this.#options.requestDelayMs;
    if (delayMs <= 0) {
      this.#respond(res, 200, { path: url.pathname });
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#respond(res, 200, { path: url.pathname, delayMs });
    }, delayMs);
    this.#timers.add(timer);
    res.on("close", () => {
      clearTimeout(timer);
      this.#timers.delete(timer);
    });
  }

  #respond(res: ServerResponse, status: number, extra: Record<string, unknown>): void {
    if (res.destroyed || res.writableEnded) return;
    const { identity } = this.#options;
    const body = JSON.stringify({
      pod: identity.name,
      namespace: identity.namespace,
      node: identity.node,
      podIP: identity.podIP,
      ...extra,
    });
    const headers: Record<string, string | number> = {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      "x-lab-pod": `${identity.namespace}/${identity.name}`,
    };
    if (this.#terminating) headers.connection = "close";
    res.writeHead(status, headers);
    res.end(body);
  }

  #whenIdle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #notifyIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** Resolves after `ms`, or early (never rejecting) when `signal` aborts. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(finish, Math.max(0, ms));
    function finish(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      resolve();
    }
    signal.addEventListener("abort", finish, { once: true });
  });
}
