/**
 * The controller's Kubernetes client settings, like client-go's: a client-side rate limit (a token bucket of
 * `qps` tokens per second holding at most `burst`, taken by every request including each watch opened), a
 * count of requests by verb and resource (`lifeboat_kube_requests_total`), and one connection pool shared by
 * every request (@kubernetes/client-node 2.0 gives each request a fresh undici Agent, i.e. a fresh TLS
 * connection: at a few hundred requests a second that is a handshake per request on both sides).
 *
 * Every API client, informer and watch the controller makes goes through `KubeConfig.applySecurityAuthentication`
 * (generated API clients call it for each request, `Watch` for each watch), so that is where the limit and the
 * count sit: `limitedKubeConfig` returns a KubeConfig that does both.
 */
import { KubeConfig, type RequestContext } from "@kubernetes/client-node";
import type { Clock } from "../domain/clock.ts";

/** A token bucket on the injected clock: `qps` tokens a second, at most `burst` saved up. */
export class TokenBucket {
  readonly #clock: Clock;
  readonly #qps: number;
  readonly #burst: number;
  #tokens: number;
  #at: number;
  /** Takers wait in order: each reserves its token (the count may go negative) and sleeps until it is due. */
  constructor(opts: { qps: number; burst: number; clock: Clock }) {
    if (!(opts.qps > 0) || !(opts.burst >= 1)) throw new RangeError("qps must be > 0 and burst >= 1");
    this.#clock = opts.clock;
    this.#qps = opts.qps;
    this.#burst = opts.burst;
    this.#tokens = opts.burst;
    this.#at = opts.clock.now();
  }

  /** How long the next `take()` would wait, ms (0 when a token is there). */
  get waitMs(): number {
    this.#refill();
    return this.#tokens >= 1 ? 0 : ((1 - this.#tokens) / this.#qps) * 1000;
  }

  /** Takes one token, waiting until one is there; waiters are served in the order they asked. */
  async take(signal?: AbortSignal): Promise<void> {
    this.#refill();
    this.#tokens -= 1;
    if (this.#tokens >= 0) return;
    await this.#clock.sleep((-this.#tokens / this.#qps) * 1000, signal);
  }

  #refill(): void {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.#qps);
    this.#at = now;
  }
}

/** A request as `kubectl get --raw` would name it: the RBAC verb and the resource (with its subresource). */
export interface RequestKind {
  verb: "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection" | "other";
  resource: string;
}

/**
 * The verb and resource of a request from its method and URL, the way the API server's request info does:
 * `/api/v1/nodes` GET is list, with `watch=true` watch, `/api/v1/nodes/x` GET get, `.../pods/x/eviction`
 * POST create of pods/eviction. Paths outside /api and /apis (/version, /healthz) are resource "".
 */
export function requestKind(method: string, url: string): RequestKind {
  const parsed = new URL(url, "https://api.invalid");
  const parts = parsed.pathname.split("/").filter((p) => p !== "");
  let rest: string[];
  if (parts[0] === "api") rest = parts.slice(2);
  else if (parts[0] === "apis") rest = parts.slice(3);
  else return { verb: method.toUpperCase() === "GET" ? "get" : "other", resource: "" };
  // namespaces/NS/resource...: namespaced (but /namespaces and /namespaces/NAME are the namespaces themselves)
  if (rest[0] === "namespaces" && rest.length >= 3) rest = rest.slice(2);
  const [resource = "", name, ...sub] = rest;
  const full = sub.length > 0 ? `${resource}/${sub.join("/")}` : resource;
  const collection = name === undefined;
  const watch = parsed.searchParams.get("watch");
  switch (method.toUpperCase()) {
    case "GET":
      if (watch === "true" || watch === "1") return { verb: "watch", resource: full };
      return { verb: collection ? "list" : "get", resource: full };
    case "POST":
      return { verb: "create", resource: full };
    case "PUT":
      return { verb: "update", resource: full };
    case "PATCH":
      return { verb: "patch", resource: full };
    case "DELETE":
      return { verb: collection ? "deletecollection" : "delete", resource: full };
    default:
      return { verb: "other", resource: full };
  }
}

export interface ClientLimits {
  /** Requests per second on average (client-go's QPS). */
  qps: number;
  /** Requests allowed at once above the average (client-go's Burst). */
  burst: number;
  clock: Clock;
  /** Called for each request as it is sent (after waiting for the rate limit). */
  onRequest?: (kind: RequestKind) => void;
}

/**
 * A KubeConfig with the same clusters, users and contexts as `base`, whose every request waits for the rate
 * limit, is counted, and reuses one connection pool.
 */
export function limitedKubeConfig(base: KubeConfig, limits: ClientLimits): KubeConfig {
  const kc = new LimitedKubeConfig(limits);
  kc.loadFromOptions({
    clusters: base.getClusters(),
    users: base.getUsers(),
    contexts: base.getContexts(),
    currentContext: base.getCurrentContext(),
  });
  return kc;
}

class LimitedKubeConfig extends KubeConfig {
  readonly #bucket: TokenBucket;
  readonly #onRequest: ((kind: RequestKind) => void) | undefined;
  /** The connection pool every request shares, per cluster and user (their TLS settings live in it). */
  readonly #dispatchers = new Map<string, ReturnType<RequestContext["getDispatcher"]>>();

  constructor(limits: ClientLimits) {
    super();
    this.#bucket = new TokenBucket(limits);
    this.#onRequest = limits.onRequest;
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await this.#bucket.take();
    this.#onRequest?.(requestKind(context.getHttpMethod(), context.getUrl()));
    await super.applySecurityAuthentication(context);
    const key = `${this.getCurrentCluster()?.name ?? ""}\u0000${this.getCurrentUser()?.name ?? ""}`;
    const shared = this.#dispatchers.get(key);
    if (shared === undefined) this.#dispatchers.set(key, context.getDispatcher());
    else if (shared !== undefined) context.setDispatcher(shared);
  }
}
