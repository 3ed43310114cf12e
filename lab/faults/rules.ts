/**
 * What the lab's fault proxy (./proxy.ts) decides per request, as pure functions: what the request is
 * (Kubernetes verb and resource, or the AWS API action), and whether a rule fails it.
 *
 * A rule fails matching requests with one fault:
 *   - `status`: an HTTP error in the API's own error shape (500, 409, 429, 503 ...);
 *   - `reset`: the client's connection is destroyed (ECONNRESET);
 *   - `hang`: no answer at all (silence), until `ms` has passed (then a reset) or the proxy closes.
 * `after` lets the first N matching requests through, `times` caps the failures, `forMs` closes the window
 * that many milliseconds after the first failure. `when: "response"` forwards the request first and fails
 * only the answer: the write happened upstream but the client never learns it did.
 */

/** Kubernetes API verbs, as in RBAC and the API server's RequestInfo. */
export type KubeVerb =
  "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection";

/** What a request is: a Kubernetes API call (verb + resource) or an AWS API action. */
export interface RequestInfo {
  method: string;
  path: string;
  /** Kubernetes verb; for a non-Kubernetes request the lowercased HTTP method. */
  verb: string;
  /** `deployments`, `deployments/scale`, `evacuations/status`, `leases`; "" for non-resource paths. */
  resource: string;
  namespace: string | null;
  name: string | null;
  /** AWS action (`ReceiveMessage`, `CompleteLifecycleAction`); null for Kubernetes requests. */
  action: string | null;
}

export type Fault =
  | { kind: "status"; status: number; message?: string }
  | { kind: "reset" }
  /** No answer; after `ms` (when given) the connection is reset. */
  | { kind: "hang"; ms?: number };

export interface RequestMatch {
  verb?: string | string[];
  /** Resource with subresource, e.g. `deployments` or `deployments/scale`; `*` matches any. */
  resource?: string | string[];
  namespace?: string;
  name?: string;
  action?: string | string[];
}

export interface FaultRule {
  match: RequestMatch;
  fault: Fault;
  /** Let this many matching requests through before failing any. Default 0. */
  after?: number;
  /** Fail at most this many requests. Default: unlimited. */
  times?: number;
  /** Fail only for this long after the first failure (ms). Default: unlimited. */
  forMs?: number;
  /** "request" (default): the upstream never sees it. "response": forwarded, then the answer is replaced. */
  when?: "request" | "response";
}

/** A rule's counters, kept by the proxy. */
export interface RuleState {
  matched: number;
  failed: number;
  firstFailureAt: number | null;
}

export function matches(match: RequestMatch, info: RequestInfo): boolean {
  const oneOf = (want: string | string[] | undefined, got: string | null): boolean =>
    want === undefined || (Array.isArray(want) ? want : [want]).some((w) => w === "*" || w === got);
  return (
    oneOf(match.verb, info.verb) &&
    oneOf(match.resource, info.resource) &&
    oneOf(match.action, info.action) &&
    (match.namespace === undefined || match.namespace === info.namespace) &&
    (match.name === undefined || match.name === info.name)
  );
}

/**
 * Counts a request against a rule and says whether to fail it. Mutates `state` (the proxy keeps one per
 * rule); `now` in ms.
 */
export function decide(rule: FaultRule, state: RuleState, info: RequestInfo, now: number): boolean {
  if (!matches(rule.match, info)) return false;
  state.matched++;
  if (state.matched <= (rule.after ?? 0)) return false;
  if (rule.times !== undefined && state.failed >= rule.times) return false;
  if (rule.forMs !== undefined && state.firstFailureAt !== null && now - state.firstFailureAt >= rule.forMs)
    return false;
  state.failed++;
  state.firstFailureAt ??= now;
  return true;
}

/**
 * A Kubernetes API path and method -> verb, resource, namespace, name (the API server's RequestInfo rules:
 * `/api/v1/...` and `/apis/GROUP/VERSION/...`, `namespaces/NS/` prefix, then resource, name, subresource).
 */
export function kubeRequestInfo(method: string, url: string): RequestInfo {
  const parsed = new URL(url, "http://proxy.invalid");
  const parts = parsed.pathname.split("/").filter((p) => p !== "");
  const base: RequestInfo = {
    method,
    path: parsed.pathname,
    verb: method.toLowerCase(),
    resource: "",
    namespace: null,
    name: null,
    action: null,
  };
  let rest: string[];
  if (parts[0] === "api" && parts.length >= 2) rest = parts.slice(2);
  else if (parts[0] === "apis" && parts.length >= 3) rest = parts.slice(3);
  else return base;
  if (rest.length === 0) return base;
  let namespace: string | null = null;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1] ?? null;
    rest = rest.slice(2);
  }
  const [resource = "", name = null, subresource] = rest;
  const watch = ["1", "true"].includes(parsed.searchParams.get("watch") ?? "");
  const verb = kubeVerb(method, name !== null, watch);
  return {
    ...base,
    verb,
    resource: subresource === undefined ? resource : `${resource}/${subresource}`,
    namespace,
    name,
  };
}

function kubeVerb(method: string, named: boolean, watch: boolean): string {
  switch (method.toUpperCase()) {
    case "GET":
      return watch ? "watch" : named ? "get" : "list";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return named ? "delete" : "deletecollection";
    default:
      return method.toLowerCase();
  }
}

/**
 * An AWS API request -> its action: `X-Amz-Target: AmazonSQS.ReceiveMessage` (JSON protocol) or
 * `Action=...` in the query string or the form body (query protocol: Auto Scaling).
 */
export function awsRequestInfo(
  method: string,
  url: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
): RequestInfo {
  const parsed = new URL(url, "http://proxy.invalid");
  const target = headers["x-amz-target"];
  const targetValue = Array.isArray(target) ? target[0] : target;
  const action =
    targetValue !== undefined && targetValue !== ""
      ? targetValue.slice(targetValue.indexOf(".") + 1)
      : (parsed.searchParams.get("Action") ?? new URLSearchParams(body).get("Action"));
  return {
    method,
    path: parsed.pathname,
    verb: method.toLowerCase(),
    resource: "",
    namespace: null,
    name: null,
    action,
  };
}

const REASONS: Record<number, string> = {
  409: "Conflict",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** A Kubernetes `Status` body for an injected error, as the API server writes its own. */
export function kubeErrorBody(status: number, message: string): string {
  return JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason: REASONS[status] ?? "InternalError",
    code: status,
  });
}

const AWS_CODES: Record<number, string> = {
  409: "ConflictException",
  429: "ThrottlingException",
  500: "InternalFailure",
  503: "ServiceUnavailable",
};

/** An AWS error in the protocol the request used: JSON (`__type`) or query (XML ErrorResponse). */
export function awsErrorBody(
  status: number,
  message: string,
  jsonProtocol: boolean,
): { contentType: string; body: string; code: string } {
  const code = AWS_CODES[status] ?? "InternalFailure";
  if (jsonProtocol)
    return {
      contentType: "application/x-amz-json-1.0",
      body: JSON.stringify({ __type: code, message }),
      code,
    };
  const type = status < 500 ? "Sender" : "Receiver";
  return {
    contentType: "text/xml",
    body: `<ErrorResponse><Error><Type>${type}</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>`,
    code,
  };
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
