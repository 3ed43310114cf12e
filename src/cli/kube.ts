/**
 * How the CLI finds and reaches the cluster, the way kubectl does: `--kubeconfig FILE`, else $KUBECONFIG
 * (a list of files, merged), else ~/.kube/config, else the in-cluster service account; `--context NAME`
 * picks a context. What is missing is said in one error that names every place looked at, and an API
 * server that does not answer is named by its URL within seconds (`checkReachable`), instead of a client
 * that waits for ever or a message about TLS settings.
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { KubeConfig, Observable, VersionApi, type Cluster } from "@kubernetes/client-node";
import type { Command } from "commander";
import type { Clock } from "../domain/clock.ts";
import { httpStatusOf } from "../../common/kube-status.ts";
import { errorMessage } from "../domain/error-message.ts";

/** The token file every pod gets from its service account (what in-cluster configuration reads). */
export const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/** No usable kubeconfig: nothing configured, a named file or context that does not exist. Exit code 2. */
export class KubeConfigError extends Error {
  override readonly name = "KubeConfigError";
}

/** The API server did not answer (refused, unknown host, TLS failure, or no reply within the timeout). */
export class KubeUnreachableError extends Error {
  override readonly name = "KubeUnreachableError";
  readonly server: string;
  constructor(server: string, detail: string, options?: ErrorOptions) {
    super(`the Kubernetes API server at ${server} is unreachable: ${detail}`, options);
    this.server = server;
  }
}

/** The flags every command that talks to the cluster takes. */
export interface KubeAccessOptions {
  kubeconfig?: string | undefined;
  context?: string | undefined;
}

/** Adds `--kubeconfig` and `--context` to a command. */
export function addKubeAccessOptions(command: Command): Command {
  return command
    .option("--kubeconfig <path>", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
    .option("--context <name>", "the kubeconfig context to use (default: its current-context)");
}

/** Where to look; a seam for tests (a temporary HOME, no in-cluster token). */
export interface KubeConfigEnvironment {
  env: NodeJS.ProcessEnv;
  home: string;
  serviceAccountToken: string;
}

const processEnvironment = (): KubeConfigEnvironment => ({
  env: process.env,
  home: homedir(),
  serviceAccountToken: SERVICE_ACCOUNT_TOKEN,
});

/** A loaded KubeConfig and a phrase saying where it came from (for messages). */
export interface LoadedKubeConfig {
  kubeConfig: KubeConfig;
  source: string;
  /** The API server's URL. */
  server: string;
}

/** Loads the kubeconfig like kubectl does, or throws a KubeConfigError saying what is missing. */
export function loadKubeConfig(
  options: KubeAccessOptions,
  where: KubeConfigEnvironment = processEnvironment(),
): LoadedKubeConfig {
  const kc = new KubeConfig();
  let source: string;
  const listed = (where.env.KUBECONFIG ?? "").split(delimiter).filter((f) => f !== "");
  const homeConfig = join(where.home, ".kube", "config");
  if (options.kubeconfig !== undefined) {
    if (!existsSync(options.kubeconfig))
      throw new KubeConfigError(`--kubeconfig ${options.kubeconfig}: no such file`);
    kc.loadFromFile(options.kubeconfig);
    source = options.kubeconfig;
  } else if (listed.length > 0) {
    const present = listed.filter((f) => existsSync(f));
    if (present.length === 0)
      throw new KubeConfigError(
        `KUBECONFIG=${where.env.KUBECONFIG ?? ""} names no file that exists: pass --kubeconfig FILE or fix KUBECONFIG`,
      );
    loadMerged(kc, present);
    source = `KUBECONFIG=${where.env.KUBECONFIG ?? ""}`;
  } else if (existsSync(homeConfig)) {
    kc.loadFromFile(homeConfig);
    source = homeConfig;
  } else if ((where.env.KUBERNETES_SERVICE_HOST ?? "") !== "" && existsSync(where.serviceAccountToken)) {
    kc.loadFromCluster();
    source = "the in-cluster service account";
  } else {
    throw new KubeConfigError(
      "no Kubernetes configuration found: --kubeconfig not given, KUBECONFIG not set, " +
        `${homeConfig} does not exist, and not running in a cluster (KUBERNETES_SERVICE_HOST not set). ` +
        "Pass --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config (e.g. aws eks update-kubeconfig --name CLUSTER).",
    );
  }
  selectContext(kc, options.context, source);
  const cluster = kc.getCurrentCluster();
  if (cluster === null)
    throw new KubeConfigError(
      `${source}: context ${kc.getCurrentContext()} names no cluster (contexts: ${contextNames(kc)})`,
    );
  allowPlainHttp(kc, cluster);
  return { kubeConfig: kc, source, server: cluster.server };
}

function loadMerged(kc: KubeConfig, files: string[]): void {
  const [first, ...rest] = files;
  if (first === undefined) return;
  kc.loadFromFile(first);
  for (const file of rest) {
    const more = new KubeConfig();
    more.loadFromFile(file);
    kc.mergeConfig(more, true);
  }
}

function contextNames(kc: KubeConfig): string {
  const names = kc.getContexts().map((c) => c.name);
  return names.length === 0 ? "none" : names.join(", ");
}

function selectContext(kc: KubeConfig, context: string | undefined, source: string): void {
  if (context !== undefined) {
    if (kc.getContextObject(context) === null)
      throw new KubeConfigError(`${source} has no context ${context} (contexts: ${contextNames(kc)})`);
    kc.setCurrentContext(context);
  } else if (kc.getCurrentContext() === "" || kc.getContextObject(kc.getCurrentContext()) === null) {
    throw new KubeConfigError(
      `${source} has no current-context: pass --context NAME (contexts: ${contextNames(kc)})`,
    );
  }
}

/**
 * client-node refuses an http:// server unless TLS verification is skipped ("HTTP protocol is not
 * allowed when skipTLSVerify is not set or false"); kubectl talks to it (e.g. `kubectl proxy`). There is no
 * TLS on plain HTTP to verify, so the cluster is marked skipTLSVerify, which changes nothing else.
 */
function allowPlainHttp(kc: KubeConfig, cluster: Cluster): void {
  if (!cluster.server.startsWith("http://") || cluster.skipTLSVerify) return;
  kc.clusters = kc.clusters.map((c) => (c.name === cluster.name ? { ...c, skipTLSVerify: true } : c));
}

/**
 * Asks the API server for its version (GET /version, open to every authenticated or anonymous client)
 * and throws a KubeUnreachableError naming the URL when it does not answer within `timeoutMs`. Any HTTP
 * answer, even 401 or 403, means the server is there; permissions are checked by the calls that need them.
 */
export async function checkReachable(
  loaded: LoadedKubeConfig,
  clock: Clock,
  timeoutMs = 5000,
): Promise<void> {
  const abort = new AbortController();
  const timeout = clock.sleep(timeoutMs, abort.signal).then(
    () => "timeout" as const,
    () => "aborted" as const,
  );
  // The request is aborted when the check ends, so a server that never answers leaves no socket behind.
  const request = new AbortController();
  const answer = loaded.kubeConfig
    .makeApiClient(VersionApi)
    .getCode(
      {},
      {
        middleware: [
          {
            pre: (ctx) => {
              ctx.setSignal(request.signal);
              return new Observable(Promise.resolve(ctx));
            },
            post: (res) => new Observable(Promise.resolve(res)),
          },
        ],
        middlewareMergeStrategy: "append",
      },
    )
    .then(
      () => ({ ok: true as const }),
      (err: unknown) => ({ ok: false as const, err }),
    );
  try {
    const first = await Promise.race([answer, timeout]);
    if (first === "timeout")
      throw new KubeUnreachableError(
        loaded.server,
        `no answer within ${timeoutMs / 1000} s (from ${loaded.source})`,
      );
    if (first === "aborted" || first.ok) return;
    if (httpStatusOf(first.err) !== null) return;
    throw new KubeUnreachableError(loaded.server, `${networkDetail(first.err)} (from ${loaded.source})`, {
      cause: first.err,
    });
  } finally {
    abort.abort();
    request.abort();
  }
}

/** The innermost message of a network error (fetch wraps the socket's error in `cause`). */
function networkDetail(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  const code = (e as { code?: unknown }).code;
  const message = errorMessage(e);
  return typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message;
}
