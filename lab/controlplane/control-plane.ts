import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "node:https";
import { labBinaries, type LabBinaries } from "./binaries.ts";
import { LabProcess } from "./process.ts";
import { freePort } from "./ports.ts";
import { kwokStagesYaml } from "./kwok-stages.ts";

export interface ControlPlaneOptions {
  /** Multiplies node-lifecycle timings (lease, grace period); 1.0 is real EKS timing. */
  timeScale?: number;
  /** kube-controller-manager --node-monitor-grace-period at timeScale 1 (Kubernetes 1.32+: 50 s). */
  nodeMonitorGraceSeconds?: number;
  /** kube-controller-manager --node-monitor-period at timeScale 1 (5 s). */
  nodeMonitorPeriodSeconds?: number;
  /** Node lease duration at timeScale 1 (kubelet default 40 s; renewed every quarter of it). */
  nodeLeaseDurationSeconds?: number;
  /** Keep the temp dir (logs, etcd data) after stop, for debugging. Also LIFEBOAT_LAB_KEEP=1. */
  keepDir?: boolean;
  /**
   * KWOK plays the kubelet for pods too (its "fast" pod stages: Ready as soon as bound, gone as soon as
   * deleted), for labs that measure the control plane rather than the data plane (bench/scale.ts). Default
   * false: the lab's pod runtime runs pods as real HTTP servers.
   */
  kwokPods?: boolean;
  /**
   * kube-controller-manager's and kube-scheduler's client rate limit (--kube-api-qps, burst twice that).
   * Default: their own (20/30 and 50/100).
   */
  componentQps?: number;
  /** Pod network and each node's share of it. Default 10.244.0.0/16 with /24 per node (256 nodes). */
  clusterCidr?: { cidr: string; nodeMaskSize: number };
}

/** Identities in the static token file. `admin` is system:masters; `limited` has no RBAC bindings at all. */
export interface LabCredentials {
  admin: string;
  limited: string;
}

/**
 * A real control plane on loopback: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and KWOK
 * managing the simulated nodes' heartbeats. Every process binds to 127.0.0.1 on a free port.
 */
export class ControlPlane implements AsyncDisposable {
  readonly dir: string;
  readonly server: string;
  readonly kubeconfigPath: string;
  readonly caPath: string;
  readonly tokens: LabCredentials;
  /** The API server's audit log (JSON lines): every request made by a service account, at Metadata level. */
  readonly auditLogPath: string;
  readonly #processes: LabProcess[];
  readonly #keepDir: boolean;

  private constructor(init: {
    dir: string;
    server: string;
    kubeconfigPath: string;
    caPath: string;
    tokens: LabCredentials;
    processes: LabProcess[];
    keepDir: boolean;
  }) {
    this.auditLogPath = join(init.dir, AUDIT_LOG);
    this.dir = init.dir;
    this.server = init.server;
    this.kubeconfigPath = init.kubeconfigPath;
    this.caPath = init.caPath;
    this.tokens = init.tokens;
    this.#processes = init.processes;
    this.#keepDir = init.keepDir;
  }

  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const scale = options.timeScale ?? 1;
    const bins = labBinaries();
    const dir = await mkdtemp(join(tmpdir(), "lifeboat-lab-"));
    const keepDir = options.keepDir ?? process.env["LIFEBOAT_LAB_KEEP"] === "1";
    const processes: LabProcess[] = [];
    try {
      return await ControlPlane.#boot(bins, dir, scale, options, processes, keepDir);
    } catch (err) {
      for (const p of processes.reverse()) await p.stop(2_000);
      if (!keepDir) await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  static async #boot(
    bins: LabBinaries,
    dir: string,
    scale: number,
    options: ControlPlaneOptions,
    processes: LabProcess[],
    keepDir: boolean,
  ): Promise<ControlPlane> {
    const pki = join(dir, "pki");
    await mkdir(pki, { recursive: true });
    const tokens: LabCredentials = {
      admin: randomBytes(16).toString("hex"),
      limited: randomBytes(16).toString("hex"),
    };
    await writeFile(
      join(dir, "tokens.csv"),
      `${tokens.admin},lab-admin,lab-admin,"system:masters"\n${tokens.limited},lab-limited,lab-limited\n`,
    );
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    await writeFile(join(pki, "sa.key"), privateKey.export({ type: "pkcs1", format: "pem" }));
    await writeFile(join(pki, "sa.pub"), publicKey.export({ type: "spki", format: "pem" }));

    // Audit only service accounts: the lab's own components use the admin token, so the log holds exactly
    // what a controller running under a ServiceAccount asked for (tests prove RBAC grants with it).
    await writeFile(join(dir, "audit-policy.yaml"), AUDIT_POLICY);

    const [etcdClient, etcdPeer, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);

    // etcd: one member, no fsync (a lab, not a datastore of record).
    const etcd = new LabProcess(
      "etcd",
      bins.etcd,
      [
        "--name=lab",
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=lab=http://127.0.0.1:${etcdPeer}`,
        "--unsafe-no-fsync",
        "--log-level=warn",
      ],
      join(dir, "etcd.log"),
    );
    processes.push(etcd);
    await etcd.waitUntil(
      "etcd healthy",
      async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok,
    );

    const apiserver = new LabProcess(
      "kube-apiserver",
      bins.kubeApiserver,
      [
        `--etcd-servers=http://127.0.0.1:${etcdClient}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${apiPort}`,
        `--cert-dir=${pki}`,
        `--token-auth-file=${join(dir, "tokens.csv")}`,
        "--authorization-mode=RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${join(pki, "sa.pub")}`,
        `--service-account-signing-key-file=${join(pki, "sa.key")}`,
        "--service-cluster-ip-range=10.96.0.0/16",
        // Simulated pods mount no service-account tokens; without this, pods wait for the default SA.
        "--disable-admission-plugins=ServiceAccount",
        "--allow-privileged=true",
        "--profiling=false",
        "--enable-priority-and-fairness=false",
        "--endpoint-reconciler-type=none",
        `--audit-policy-file=${join(dir, "audit-policy.yaml")}`,
        `--audit-log-path=${join(dir, AUDIT_LOG)}`,
        "--audit-log-format=json",
        "-v=1",
      ],
      join(dir, "kube-apiserver.log"),
    );
    processes.push(apiserver);
    const server = `https://127.0.0.1:${apiPort}`;
    await apiserver.waitUntil(
      "kube-apiserver /readyz",
      () => httpsOk(`${server}/readyz`, tokens.admin),
      90_000,
    );

    const caPath = join(pki, "apiserver.crt");
    const kubeconfigPath = join(dir, "kubeconfig");
    await writeFile(kubeconfigPath, kubeconfigYaml(server, caPath, tokens.admin, "lab-admin"));
    await writeFile(
      join(dir, "kubeconfig-limited"),
      kubeconfigYaml(server, caPath, tokens.limited, "lab-limited"),
    );
    // The self-signed serving cert must verify as its own CA for 127.0.0.1; fail early and clearly if not.
    await readFile(caPath);

    const grace = (options.nodeMonitorGraceSeconds ?? 50) * scale;
    const period = (options.nodeMonitorPeriodSeconds ?? 5) * scale;
    const kcm = new LabProcess(
      "kube-controller-manager",
      bins.kubeControllerManager,
      [
        `--kubeconfig=${kubeconfigPath}`,
        "--secure-port=0",
        "--leader-elect=false",
        "--controllers=*",
        "--allocate-node-cidrs=true",
        `--cluster-cidr=${options.clusterCidr?.cidr ?? "10.244.0.0/16"}`,
        `--node-cidr-mask-size=${options.clusterCidr?.nodeMaskSize ?? 24}`,
        "--service-cluster-ip-range=10.96.0.0/16",
        `--service-account-private-key-file=${join(pki, "sa.key")}`,
        `--root-ca-file=${caPath}`,
        `--node-monitor-grace-period=${seconds(grace)}`,
        `--node-monitor-period=${seconds(period)}`,
        ...qpsFlags(options.componentQps),
        "-v=1",
      ],
      join(dir, "kube-controller-manager.log"),
    );
    processes.push(kcm);
    const scheduler = new LabProcess(
      "kube-scheduler",
      bins.kubeScheduler,
      [
        `--kubeconfig=${kubeconfigPath}`,
        "--secure-port=0",
        "--leader-elect=false",
        ...qpsFlags(options.componentQps),
        "-v=1",
      ],
      join(dir, "kube-scheduler.log"),
    );
    processes.push(scheduler);

    const stagesPath = join(dir, "kwok-stages.yaml");
    await writeFile(stagesPath, kwokStagesYaml({ pods: options.kwokPods ?? false }));
    const kwok = new LabProcess(
      "kwok",
      bins.kwok,
      [
        `--kubeconfig=${kubeconfigPath}`,
        `--config=${stagesPath}`,
        `--manage-nodes-with-label-selector=${HEARTBEAT_LABEL}=on`,
        `--node-lease-duration-seconds=${Math.max(1, Math.round((options.nodeLeaseDurationSeconds ?? 40) * scale))}`,
        "--node-ip=127.0.0.1",
      ],
      join(dir, "kwok.log"),
      { ...process.env, HOME: dir },
    );
    processes.push(kwok);

    return new ControlPlane({ dir, server, kubeconfigPath, caPath, tokens, processes, keepDir });
  }

  /** Fails with the component's log tail if any process of the control plane has exited. */
  assertRunning(): void {
    for (const p of this.#processes) {
      if (!p.running) throw new Error(`${p.name} is not running:\n${p.tail()}`);
    }
  }

  async stop(): Promise<void> {
    // Reverse start order: kwok, scheduler, controller-manager, apiserver, etcd.
    for (const p of [...this.#processes].reverse()) await p.stop();
    if (!this.#keepDir) await rm(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

const AUDIT_LOG = "audit.log";
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: None
`;

/** KWOK manages (renews leases of) only nodes with this label; removing it is how the lab kills a node. */
export const HEARTBEAT_LABEL = "kwok.lifeboat.dev/heartbeat";

function qpsFlags(qps: number | undefined): string[] {
  return qps === undefined ? [] : [`--kube-api-qps=${qps}`, `--kube-api-burst=${qps * 2}`];
}

function seconds(s: number): string {
  return `${Math.max(0.1, s).toFixed(2)}s`;
}

function kubeconfigYaml(server: string, caPath: string, token: string, user: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: lab",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority: ${caPath}`,
    "users:",
    `- name: ${user}`,
    "  user:",
    `    token: ${token}`,
    "contexts:",
    "- name: lab",
    "  context:",
    "    cluster: lab",
    `    user: ${user}`,
    "current-context: lab",
    "",
  ].join("\n");
}

/** GET over TLS without verifying (the serving cert does not exist until the apiserver made it). */
function httpsOk(url: string, token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      url,
      { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on("error", () => {
      resolve(false);
    });
    req.setTimeout(2_000, () => req.destroy());
    req.end();
  });
}
