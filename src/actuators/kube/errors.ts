/**
 * Typed errors for calls to the Kubernetes API, and predicates over whatever a client call threw (a
 * client-node ApiException, a watch error with `statusCode`, or our own KubeApiError), like Karpenter's
 * `IsNotFound`/`IsConflict`. A network failure (no status) is `kind: "unreachable"`.
 */
import { ApiException } from "@kubernetes/client-node";
import { httpStatusOf } from "../../../common/kube-status.ts";

export type KubeErrorKind =
  | "not-found"
  | "conflict"
  | "too-many-requests"
  | "forbidden"
  | "unauthorized"
  | "invalid"
  | "server"
  | "unreachable"
  | "other";

/** A failed API call: what was attempted on what, the HTTP status, and the API server's own message. */
export class KubeApiError extends Error {
  override readonly name = "KubeApiError";
  readonly kind: KubeErrorKind;
  /** HTTP status; null when the API server was not reached. */
  readonly status: number | null;
  /** e.g. `patch node`, `evict pod`. */
  readonly operation: string;
  /** e.g. `node/ip-10-0-1-4...`, `pod/shop/web-abc`. */
  readonly target: string;
  /** The Status message from the API server, when there was one. */
  readonly serverMessage: string | null;
  /** Retry-After header in seconds (429, some 5xx); null when absent. */
  readonly retryAfterSeconds: number | null;

  constructor(init: {
    kind: KubeErrorKind;
    status: number | null;
    operation: string;
    target: string;
    serverMessage: string | null;
    retryAfterSeconds?: number | null;
    cause?: unknown;
  }) {
    super(messageFor(init), init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = init.kind;
    this.status = init.status;
    this.operation = init.operation;
    this.target = init.target;
    this.serverMessage = init.serverMessage;
    this.retryAfterSeconds = init.retryAfterSeconds ?? null;
  }
}

function messageFor(e: {
  kind: KubeErrorKind;
  status: number | null;
  operation: string;
  target: string;
  serverMessage: string | null;
}): string {
  const server = e.serverMessage === null ? "" : `: ${e.serverMessage}`;
  switch (e.kind) {
    case "forbidden":
      return (
        `forbidden: cannot ${e.operation} ${e.target} (HTTP 403)${server}. ` +
        "The controller's service account lacks an RBAC permission: apply the lifeboat ClusterRole and its binding."
      );
    case "unauthorized":
      return `unauthorized: cannot ${e.operation} ${e.target} (HTTP 401): the credentials were rejected${server}`;
    case "unreachable":
      return `cannot ${e.operation} ${e.target}: the API server was not reached${server}`;
    default:
      return `cannot ${e.operation} ${e.target} (HTTP ${e.status ?? "?"}, ${e.kind})${server}`;
  }
}

/** The HTTP status of anything a client-node call may throw; null when there is none (network error). */
export function statusOf(err: unknown): number | null {
  if (err instanceof KubeApiError) return err.status;
  return httpStatusOf(err);
}

export const isNotFound = (err: unknown): boolean => statusOf(err) === 404;
export const isConflict = (err: unknown): boolean => statusOf(err) === 409;
export const isTooManyRequests = (err: unknown): boolean => statusOf(err) === 429;
export const isForbidden = (err: unknown): boolean => statusOf(err) === 403;
export const isUnauthorized = (err: unknown): boolean => statusOf(err) === 401;

/** The Status object the API server sent with an error, parsed out of an ApiException body (a JSON string). */
export interface ApiStatus {
  message: string | null;
  reason: string | null;
  causes: { reason?: string; message?: string; field?: string }[];
}

export function apiStatusOf(err: unknown): ApiStatus | null {
  if (!(err instanceof ApiException)) return null;
  let body: unknown = err.body;
  if (typeof body === "string") {
    const text = body.trim();
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      return { message: text === "" ? null : text, reason: null, causes: [] };
    }
  }
  if (typeof body !== "object" || body === null) return null;
  const s = body as { message?: unknown; reason?: unknown; details?: { causes?: unknown } };
  return {
    message: typeof s.message === "string" ? s.message : null,
    reason: typeof s.reason === "string" ? s.reason : null,
    causes: Array.isArray(s.details?.causes) ? (s.details.causes as ApiStatus["causes"]) : [],
  };
}

function kindOf(status: number | null): KubeErrorKind {
  switch (status) {
    case null:
      return "unreachable";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not-found";
    case 409:
      return "conflict";
    case 422:
    case 400:
      return "invalid";
    case 429:
      return "too-many-requests";
    default:
      return status >= 500 ? "server" : "other";
  }
}

/** Wraps whatever a client call threw into a KubeApiError naming the operation and target. */
export function toKubeApiError(err: unknown, operation: string, target: string): KubeApiError {
  if (err instanceof KubeApiError) return err;
  const status = statusOf(err);
  const apiStatus = apiStatusOf(err);
  const networkMessage =
    status === null && err instanceof Error
      ? err.cause instanceof Error
        ? err.cause.message
        : err.message
      : null;
  const retryAfter = err instanceof ApiException ? Number(err.headers["retry-after"]) : Number.NaN;
  return new KubeApiError({
    kind: kindOf(status),
    status,
    operation,
    target,
    serverMessage: apiStatus?.message ?? networkMessage,
    retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : null,
    cause: err,
  });
}
