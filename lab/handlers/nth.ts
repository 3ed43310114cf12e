/**
 * aws-node-termination-handler (NTH), the real binary, as the lab's handlers `nth` and `nth-tuned`: queue-processor
 * mode, configured the way its Helm chart's Deployment configures it, authenticated as its own ServiceAccount
 * bound to the chart's ClusterRole.
 *
 * - **Binary**: built from the Go module proxy at NTH_VERSION (lab/versions.env) by lab/setup/build-nth.sh into
 *   `$LIFEBOAT_CACHE/bin/nth-<version>/node-termination-handler`.
 * - **Configuration**: `chartEnv` is the environment the chart (config/helm/aws-node-termination-handler at the
 *   same tag, chart 0.27.6) renders for the queue-processor Deployment with its values.yaml defaults and the
 *   values a user must set (queueURL, awsRegion; awsEndpoint and fake credentials for moto). The lab changes two
 *   things, neither a behaviour: JSON logs (kept with the run) and no probe server (the chart turns it on, but it
 *   binds every interface with no host option; the lab binds nothing but loopback). `nth-tuned` adds what NTH
 *   offers for nodes behind a load balancer: `taintNode` (its taints keep new pods off at once),
 *   `excludeFromLoadBalancers` (the label instance-mode target groups drop the node on) and
 *   `emitKubernetesEvents` (with the chart's extra RBAC rule for events).
 * - **In-cluster config only**: NTH builds its client with `rest.InClusterConfig()`. The lab runs it under
 *   `unshare -m` with a private tmpfs on /run holding /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt}
 *   (a TokenRequest token of its ServiceAccount and the API server's CA) and KUBERNETES_SERVICE_HOST/PORT set to
 *   the lab's API server. As root that needs nothing else; otherwise `unshare -r` maps the user to root in a
 *   user namespace first.
 */
import type { V1ClusterRole, V1PolicyRule } from "@kubernetes/client-node";
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { cacheDir, readVersions } from "../controlplane/binaries.ts";

export type NthVariant = "nth" | "nth-tuned";

/** The chart's release in the lab: `helm install aws-node-termination-handler ... -n kube-system`. */
export const NTH_NAMESPACE = "kube-system";
export const NTH_NAME = "aws-node-termination-handler";

/** The version the lab builds and runs (lab/versions.env NTH_VERSION). */
export function nthVersion(): string {
  return readVersions().NTH_VERSION;
}

export function nthBinaryPath(version = nthVersion()): string {
  return join(cacheDir(), "bin", `nth-${version}`, "node-termination-handler");
}

export class NthNotBuiltError extends Error {
  override readonly name = "NthNotBuiltError";
  constructor(path: string) {
    super(
      `aws-node-termination-handler not found at ${path}: run lab/setup/build-nth.sh (or scripts/bootstrap.sh)`,
    );
  }
}

export class NthStartError extends Error {
  override readonly name = "NthStartError";
}

/** The chart's ClusterRole (templates/clusterrole.yaml, chart 0.27.6); the events rule only with emitKubernetesEvents. */
export function nthClusterRoleRules(emitKubernetesEvents: boolean): V1PolicyRule[] {
  return [
    { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "patch", "update"] },
    { apiGroups: [""], resources: ["pods"], verbs: ["list", "get"] },
    { apiGroups: [""], resources: ["pods/eviction"], verbs: ["create"] },
    { apiGroups: ["extensions"], resources: ["daemonsets"], verbs: ["get"] },
    { apiGroups: ["apps"], resources: ["daemonsets"], verbs: ["get"] },
    ...(emitKubernetesEvents ? [{ apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] }] : []),
  ];
}

export interface NthAws {
  queueUrl: string;
  region: string;
  /** moto's endpoint (the chart's awsEndpoint, "for testing w/ localstack"). */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * The environment of the chart's queue-processor Deployment (templates/deployment.yaml) with values.yaml's
 * defaults, in the template's order. NODE_NAME, POD_NAME and NAMESPACE come from the downward API there.
 */
export function chartEnv(aws: NthAws): Record<string, string> {
  return {
    NODE_NAME: "lab-nth-host",
    POD_NAME: `${NTH_NAME}-lab`,
    NAMESPACE: NTH_NAMESPACE,
    ENABLE_PROBES_SERVER: "true",
    PROBES_SERVER_PORT: "8080",
    PROBES_SERVER_ENDPOINT: "/healthz",
    LOG_LEVEL: "info",
    JSON_LOGGING: "false",
    LOG_FORMAT_VERSION: "1",
    ENABLE_PROMETHEUS_SERVER: "false",
    PROMETHEUS_SERVER_PORT: "9092",
    CHECK_ASG_TAG_BEFORE_DRAINING: "true",
    CHECK_TAG_BEFORE_DRAINING: "true",
    MANAGED_ASG_TAG: "aws-node-termination-handler/managed",
    MANAGED_TAG: "aws-node-termination-handler/managed",
    USE_PROVIDER_ID: "false",
    DRY_RUN: "false",
    CORDON_ONLY: "false",
    TAINT_NODE: "false",
    ENABLE_OUT_OF_SERVICE_TAINT: "false",
    EXCLUDE_FROM_LOAD_BALANCERS: "false",
    DELETE_LOCAL_DATA: "true",
    IGNORE_DAEMON_SETS: "true",
    POD_TERMINATION_GRACE_PERIOD: "-1",
    NODE_TERMINATION_GRACE_PERIOD: "120",
    EMIT_KUBERNETES_EVENTS: "false",
    COMPLETE_LIFECYCLE_ACTION_DELAY_SECONDS: "-1",
    ENABLE_SQS_TERMINATION_DRAINING: "true",
    AWS_REGION: aws.region,
    AWS_ENDPOINT: aws.endpoint,
    AWS_ACCESS_KEY_ID: aws.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.secretAccessKey,
    QUEUE_URL: aws.queueUrl,
    DELETE_SQS_MSG_IF_NODE_NOT_FOUND: "false",
    WORKERS: "10",
    HEARTBEAT_INTERVAL: "-1",
    HEARTBEAT_UNTIL: "-1",
    SQS_MSG_VISIBILITY_TIMEOUT_SEC: "20",
  };
}

/** What the lab changes in the chart's environment, and why (shown in the docs and the run's log). */
export const LAB_OVERRIDES: Readonly<Record<string, { value: string; why: string }>> = {
  ENABLE_PROBES_SERVER: {
    value: "false",
    why: "the probe server binds every interface with no host option; the lab binds loopback only",
  },
  JSON_LOGGING: { value: "true", why: "the run keeps NTH's log as JSON lines beside the report" },
  AWS_EC2_METADATA_DISABLED: {
    value: "true",
    why: "no instance metadata service on the lab's host: the AWS SDK must not wait for one",
  },
};

/** `nth-tuned`: NTH at its best for pods behind a load balancer (its chart README's options). */
export const TUNED_VALUES: Readonly<Record<string, { value: string; why: string }>> = {
  TAINT_NODE: {
    value: "true",
    why: "taintNode: the node is tainted (aws-node-termination-handler/spot-itn, NoSchedule) as well as cordoned",
  },
  EXCLUDE_FROM_LOAD_BALANCERS: {
    value: "true",
    why: "excludeFromLoadBalancers: node.kubernetes.io/exclude-from-external-load-balancers before the cordon, so instance-mode target groups deregister the node",
  },
  EMIT_KUBERNETES_EVENTS: {
    value: "true",
    why: "emitKubernetesEvents: what it did is visible as Kubernetes Events",
  },
};

/** The whole environment of one NTH process (no variable is inherited from the lab's own environment). */
export function nthEnv(variant: NthVariant, aws: NthAws, apiServer: URL): Record<string, string> {
  const env: Record<string, string> = { ...chartEnv(aws) };
  for (const [k, o] of Object.entries(LAB_OVERRIDES)) env[k] = o.value;
  if (variant === "nth-tuned") for (const [k, o] of Object.entries(TUNED_VALUES)) env[k] = o.value;
  env["KUBERNETES_SERVICE_HOST"] = apiServer.hostname;
  env["KUBERNETES_SERVICE_PORT"] = apiServer.port === "" ? "443" : apiServer.port;
  env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin";
  return env;
}

/**
 * What `helm install` creates for NTH's identity: the ServiceAccount, the ClusterRole and its binding.
 * Idempotent (409s are fine), so `nth` and `nth-tuned` can share a cluster.
 */
export async function installNthRbac(kc: KubeConfig, variant: NthVariant): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const labels = { "app.kubernetes.io/name": NTH_NAME, "app.kubernetes.io/instance": NTH_NAME };
  await ignoreConflict(
    core.createNamespacedServiceAccount({
      namespace: NTH_NAMESPACE,
      body: { metadata: { name: NTH_NAME, namespace: NTH_NAMESPACE, labels } },
    }),
  );
  const role: V1ClusterRole = {
    metadata: { name: NTH_NAME, labels },
    rules: nthClusterRoleRules(variant === "nth-tuned"),
  };
  await ignoreConflict(rbac.createClusterRole({ body: role }));
  await ignoreConflict(
    rbac.createClusterRoleBinding({
      body: {
        metadata: { name: NTH_NAME, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: NTH_NAME },
        subjects: [{ kind: "ServiceAccount", name: NTH_NAME, namespace: NTH_NAMESPACE }],
      },
    }),
  );
}

/** A token for NTH's ServiceAccount from the TokenRequest API (what the kubelet mounts into its pod). */
export async function serviceAccountToken(kc: KubeConfig, expirationSeconds = 3600): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const out = await core.createNamespacedServiceAccountToken({
    name: NTH_NAME,
    namespace: NTH_NAMESPACE,
    body: { spec: { audiences: [], expirationSeconds } },
  });
  const token = out.status?.token;
  if (token === undefined || token === "") throw new NthStartError("TokenRequest returned no token");
  return token;
}

/** Sets up the mount namespace and execs NTH: $1 = dir with token and ca.crt, then the command. */
const IN_CLUSTER_SCRIPT = [
  "set -eu",
  'run="$(readlink -f /var/run)"',
  'mount -t tmpfs -o size=1m,mode=0755 lab-nth-secrets "$run"',
  'sa="$run/secrets/kubernetes.io/serviceaccount"',
  'mkdir -p "$sa"',
  'cp "$1/token" "$1/ca.crt" "$sa/"',
  "shift",
  'exec "$@"',
].join("\n");

export interface NthStartOptions {
  variant: NthVariant;
  /** The lab's admin kubeconfig: to install NTH's RBAC and request its token (NTH itself never sees it). */
  kubeconfigPath: string;
  aws: NthAws;
  /** NTH's log (JSON lines on stderr). */
  logPath: string;
  /** A directory for the token and CA staged for the mount. */
  workDir: string;
  /** Default nthBinaryPath(). */
  binary?: string;
}

export interface RunningNth extends AsyncDisposable {
  /** The command line, for the report. */
  command: string[];
  version: string;
  /** NTH's process id (`unshare` and the shell exec it in place), for /proc figures. */
  pid: number | undefined;
}

/** Installs NTH's RBAC, starts it and waits until its SQS monitor has started. */
export async function startNth(opts: NthStartOptions): Promise<RunningNth> {
  const binary = opts.binary ?? nthBinaryPath();
  if (!existsSync(binary)) throw new NthNotBuiltError(binary);
  const kc = new KubeConfig();
  kc.loadFromFile(opts.kubeconfigPath);
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new NthStartError(`${opts.kubeconfigPath}: no current cluster`);
  const ca =
    cluster.caFile !== undefined
      ? await readFile(cluster.caFile)
      : Buffer.from(cluster.caData ?? "", "base64");
  await installNthRbac(kc, opts.variant);
  const token = await serviceAccountToken(kc);
  const secrets = join(opts.workDir, `${opts.variant}-serviceaccount`);
  await mkdir(secrets, { recursive: true, mode: 0o700 });
  await writeFile(join(secrets, "token"), token, { mode: 0o600 });
  await writeFile(join(secrets, "ca.crt"), ca);

  const unshare = process.getuid?.() === 0 ? ["unshare", "-m"] : ["unshare", "-r", "-m"];
  const args = [
    ...unshare.slice(1),
    "--propagation",
    "private",
    "/bin/sh",
    "-c",
    IN_CLUSTER_SCRIPT,
    "lab-nth",
    secrets,
    binary,
  ];
  const env = nthEnv(opts.variant, opts.aws, new URL(cluster.server));
  const log = createWriteStream(opts.logPath, { flags: "a" });
  log.write(
    `${JSON.stringify({ lab: "nth", variant: opts.variant, version: nthVersion(), command: [unshare[0], ...args], env: redact(env) })}\n`,
  );
  const child = spawn(unshare[0] ?? "unshare", args, { stdio: ["ignore", "pipe", "pipe"], env });
  let output = "";
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-16_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const running: RunningNth = {
    command: [unshare[0] ?? "unshare", ...args],
    version: nthVersion(),
    pid: child.pid,
    [Symbol.asyncDispose]: () => stopChild(child),
  };
  try {
    await waitForStart(child, () => output, 30_000);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return running;
}

async function waitForStart(child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const start = performance.now();
  for (;;) {
    if (output().includes("Started monitoring for events")) return;
    if (child.exitCode !== null || child.signalCode !== null)
      throw new NthStartError(
        `aws-node-termination-handler exited at start (code ${String(child.exitCode)}):\n${output()}`,
      );
    if (performance.now() - start > timeoutMs)
      throw new NthStartError(
        `aws-node-termination-handler did not start monitoring SQS within ${timeoutMs} ms:\n${output()}`,
      );
    await sleep(100);
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      resolve();
    });
  });
  child.kill("SIGTERM");
  const timedOut = await Promise.race([exited.then(() => false), sleep(10_000).then(() => true)]);
  if (timedOut) {
    child.kill("SIGKILL");
    await exited;
  }
}

function redact(env: Record<string, string>): Record<string, string> {
  const out = { ...env };
  if (out["AWS_SECRET_ACCESS_KEY"] !== undefined) out["AWS_SECRET_ACCESS_KEY"] = "(moto's fake secret)";
  return out;
}

async function ignoreConflict(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}
