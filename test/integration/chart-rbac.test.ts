/**
 * RBAC proven, not assumed: the chart's ServiceAccount, ClusterRole, Role and bindings are applied to the
 * lab's kube-apiserver (which authorizes with RBAC), a token for the ServiceAccount comes from the
 * TokenRequest API, and two `lifeboat run` replicas use it, with leader election on the Lease the chart
 * names, through full evacuations (a Deployment surged and retired, a StatefulSet pod evicted), before and
 * after the standby takes the Lease over. The API server's audit log of the ServiceAccount's requests then
 * shows every refusal (a grant the chart lacks, named in the failure) and every grant the run used.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { CoordinationV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { labBinaries } from "../../lab/controlplane/binaries.ts";
import { startController } from "../helpers/controller-process.ts";
import { only, renderChart, templateChart } from "../helpers/helm.ts";
import {
  EVACUATED_MARKS,
  eventsFor,
  evacuationMarks,
  nodesHolding,
  NS,
  readyPodCount,
  startControllerLab,
  type ControllerLab,
} from "../helpers/lab-env.ts";
import { waitFor, waitUntil } from "../helpers/wait.ts";
import { fastDeployment, fastStatefulSet } from "../helpers/workloads.ts";

const run = promisify(execFile);
const RELEASE_NS = "lifeboat-system";
const SA_USER = `system:serviceaccount:${RELEASE_NS}:lifeboat`;

/** One request of the audit log (Metadata level). */
interface AuditEvent {
  stage: string;
  verb: string;
  user: { username: string };
  objectRef?: {
    resource?: string;
    subresource?: string;
    apiGroup?: string;
    namespace?: string;
    name?: string;
  };
  responseStatus?: { code?: number };
}

/** "group/resource[/subresource] verb", as the ClusterRole grants it (group "core" for ""). */
const grantOf = (e: AuditEvent): string => {
  const r = e.objectRef ?? {};
  const group = r.apiGroup === undefined || r.apiGroup === "" ? "core" : r.apiGroup;
  return `${group}/${r.resource ?? "?"}${r.subresource === undefined ? "" : `/${r.subresource}`} ${e.verb}`;
};

/** The ServiceAccount's requests so far, from the API server's audit log. */
function auditEvents(auditLogPath: string): AuditEvent[] {
  let text: string;
  try {
    text = readFileSync(auditLogPath, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) => e.user.username === SA_USER && e.stage !== "RequestReceived");
}

/** Requests the API server refused (403), one line per grant with where and how often. */
function refusals(events: AuditEvent[]): string[] {
  const refused = new Map<string, number>();
  for (const e of events.filter(
    (x) => x.responseStatus?.code === 403 && x.objectRef?.resource !== "secrets",
  )) {
    const r = e.objectRef ?? {};
    const key = `${grantOf(e)}${r.namespace === undefined ? "" : ` in namespace ${r.namespace}`}${r.name === undefined ? "" : ` (${r.name})`}`;
    refused.set(key, (refused.get(key) ?? 0) + 1);
  }
  return [...refused].map(([grant, n]) => `${grant}: refused ${n}x`);
}

/** The chart's RBAC lacks a grant the controller used. */
class MissingGrantError extends Error {
  constructor(refused: string[], cause?: unknown) {
    super(
      `the chart's RBAC lacks grants the controller used (add them to charts/lifeboat/templates/rbac.yaml):\n  ${refused.join("\n  ")}`,
      cause === undefined ? undefined : { cause },
    );
    this.name = "MissingGrantError";
  }
}

/**
 * Grants the chart gives for code paths this run does not reach, and why. Any other grant must be used in
 * the run: a grant nothing uses is a grant to remove.
 */
const NOT_EXERCISED: Record<string, string> = {
  "core/pods delete":
    "force-delete of the pods of an instance that is already gone (state-change notice); graceful delete of a pod whose PodDisruptionBudget still refuses at its last responsible moment",
  "apps/deployments get":
    "a surge or retire starts from the informer's copy; the Deployment is read fresh after a conflict (409) and to confirm a decision to write nothing",
  "apps/replicasets get": "the surge ledger write of a bare ReplicaSet (this run surges Deployments)",
  "apps/replicasets patch": "the surge ledger write of a bare ReplicaSet (this run surges Deployments)",
  "lifeboat.dev/evacuations delete":
    "the TTL after an evacuation finished (--evacuation-ttl-seconds, default a day)",
  "lifeboat.dev/evacuations get": "re-read of an Evacuation after a conflicting write",
  "core/events patch": "a repeated Event (count bump) within the recorder's window",
  "lifeboat.dev/evacuations update":
    "a later notice that extends a running evacuation (a warning after a rebalance), or a prewarm that expires",
};

test(
  "the controller runs a full evacuation, with leader election, under the chart's own RBAC",
  { timeout: 600_000 },
  async () => {
    await using env = await startControllerLab({
      timeScale: 0.2,
      nodeGroups: [
        { name: "web", zone: "us-east-1a", count: 5 },
        { name: "db", zone: "us-east-1b", count: 2 },
      ],
    });
    const lab = env.lab;
    const kubectl = (argv: string[], input?: string): Promise<{ stdout: string }> => {
      const p = run(labBinaries().kubectl, ["--kubeconfig", lab.kubeconfigPath, ...argv]);
      if (input !== undefined) p.child.stdin?.end(input);
      return p;
    };

    // The chart's identity and permissions, exactly as rendered (the CRD comes from the lifeboat-crd chart).
    await kubectl(["create", "namespace", RELEASE_NS]);
    await kubectl(["apply", "-f", "-"], await templateChart("lifeboat-crd"));
    const objects = await renderChart("lifeboat", { namespace: RELEASE_NS, includeCrds: false });
    const rbacKinds = new Set(["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]);
    const rbac = objects.filter((o) => rbacKinds.has(o.kind));
    assert.equal(rbac.length, 7);
    await kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: rbac }));

    // The leader-election flags the chart passes, taken from the rendered Deployment.
    const deployment = only(objects, "Deployment");
    const chartArgs = (deployment["spec"] as { template: { spec: { containers: { args: string[] }[] } } })
      .template.spec.containers[0]!.args;
    const election = chartArgs.filter((a) =>
      /^--(leader-elect|leader-election-namespace|lease-name)=/.test(a),
    );
    assert.deepEqual(election.sort(), [
      "--leader-elect=true",
      `--leader-election-namespace=${RELEASE_NS}`,
      "--lease-name=lifeboat",
    ]);

    // A token for the ServiceAccount from the TokenRequest API, and a kubeconfig that uses only it.
    const token = await lab.core.createNamespacedServiceAccountToken({
      name: "lifeboat",
      namespace: RELEASE_NS,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const saKubeconfig = join(env.dir, "kubeconfig-lifeboat-sa");
    await writeFile(
      saKubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "  - name: lab",
        "    cluster:",
        `      server: ${lab.controlPlane.server}`,
        `      certificate-authority: ${lab.controlPlane.caPath}`,
        "users:",
        "  - name: lifeboat",
        "    user:",
        `      token: ${token.status?.token ?? ""}`,
        "contexts:",
        "  - name: lifeboat",
        "    context: { cluster: lab, user: lifeboat }",
        "current-context: lifeboat",
        "",
      ].join("\n"),
    );
    // RBAC is enforced for this identity: what the chart does not grant is refused.
    const sa = new KubeConfig();
    sa.loadFromFile(saKubeconfig);
    await assert.rejects(sa.makeApiClient(CoreV1Api).listSecretForAllNamespaces(), (err: unknown) => {
      return (err as { code?: number }).code === 403;
    });

    // Workloads: a Deployment that surges and retires (3 pods, one per node, on 5 nodes: room for the surge
    // after two evacuations), a StatefulSet whose pod is evicted.
    await lab.apps.createNamespacedDeployment({
      namespace: NS,
      body: fastDeployment({ name: "web", replicas: 3, nodeGroup: "web" }),
    });
    await lab.apps.createNamespacedStatefulSet({
      namespace: NS,
      body: fastStatefulSet({ name: "db", replicas: 1, nodeGroup: "db" }),
    });
    await waitUntil("3 Ready web pods and 1 Ready db pod", async () => {
      return (await readyPodCount(lab, "web")) === 3 && (await readyPodCount(lab, "db")) === 1;
    });

    const ctx = (name: string): ReturnType<ControllerLab["handlerContext"]> => ({
      ...env.handlerContext(`${name}.log`),
      kubeconfigPath: saKubeconfig,
    });
    const timing = ["--lease-duration-seconds=3", "--renew-deadline-seconds=2", "--retry-period-seconds=0.5"];
    const leases = lab.kubeConfig.makeApiClient(CoordinationV1Api);
    const holder = async (): Promise<string | undefined> =>
      (await leases.readNamespacedLease({ name: "lifeboat", namespace: RELEASE_NS })).spec?.holderIdentity;

    const auditLog = lab.controlPlane.auditLogPath;
    /** Fails a wait at once, naming the grant, when the API server refused the controller anything. */
    const allowed = (controllerAlive: () => void) => (): void => {
      controllerAlive();
      const refused = refusals(auditEvents(auditLog));
      if (refused.length > 0) throw new MissingGrantError(refused);
    };
    const evacuated = async (node: string, alive: () => void): Promise<void> => {
      await waitFor(
        `Evacuation of ${node} in phase Done`,
        async () => {
          const evs = await env.evacuationsOf(node);
          return evs.length > 0 && evs.every((e) => e.status?.phase === "Done") ? true : undefined;
        },
        { timeoutMs: 90_000, alive: allowed(alive) },
      );
      assert.deepEqual(evacuationMarks(await lab.getNode(node)), EVACUATED_MARKS);
    };

    const scenario = async (): Promise<void> => {
      const a = await startController({
        ...ctx("lifeboat-a"),
        extraArgs: [...election, ...timing, "--identity=lifeboat-a"],
      });
      assert.equal(await holder(), "lifeboat-a");
      const bLeads = startController({
        ...ctx("lifeboat-b"),
        extraArgs: [...election, ...timing, "--identity=lifeboat-b"],
        startTimeoutMs: 120_000,
      });
      bLeads.catch(() => undefined);

      try {
        // Under the first leader: one node holding a web pod, one holding the db pod.
        const [webNode] = await nodesHolding(lab, "web", "web");
        const [dbNode] = await nodesHolding(lab, "db", "db");
        assert.ok(webNode !== undefined && dbNode !== undefined);
        await env.sendSpotWarning(webNode);
        await env.sendSpotWarning(dbNode);
        await evacuated(webNode.name, a.assertRunning);
        await evacuated(dbNode.name, a.assertRunning);
        await waitUntil("3 Ready web pods and 1 Ready db pod again", async () => {
          return (await readyPodCount(lab, "web")) === 3 && (await readyPodCount(lab, "db")) === 1;
        });
        assert.ok(
          (await eventsFor(lab, "Node", webNode.name)).length > 0,
          "the controller wrote Events on the node",
        );

        // The leader dies without releasing the Lease; the standby takes it over and evacuates the next node.
        await a.kill();
        const b = await bLeads;
        try {
          assert.equal(await holder(), "lifeboat-b");
          const next = (await nodesHolding(lab, "web", "web")).find((n) => n.name !== webNode.name);
          assert.ok(next !== undefined);
          await env.sendSpotWarning(next);
          await evacuated(next.name, b.assertRunning);
        } finally {
          await b.stop();
        }
      } finally {
        await a.stop();
        await bLeads.then((b) => b.stop()).catch(() => undefined);
      }
    };
    // Whatever failed (a start that never synced, an evacuation that never finished), a refusal by the API
    // server is the cause to report: name the missing grant.
    await scenario().catch((err: unknown) => {
      const refused = refusals(auditEvents(auditLog));
      throw refused.length > 0 && !(err instanceof MissingGrantError)
        ? new MissingGrantError(refused, err)
        : err;
    });

    // What the API server saw from the ServiceAccount.
    const audit = auditEvents(auditLog);
    const refused = refusals(audit);
    if (refused.length > 0) throw new MissingGrantError(refused);

    // Every grant of the ClusterRole was used, or is listed above with the code path that needs it.
    const used = new Set(audit.filter((e) => (e.responseStatus?.code ?? 0) < 400).map(grantOf));
    const role = only(objects, "ClusterRole");
    const granted = (
      role["rules"] as { apiGroups: string[]; resources: string[]; verbs: string[] }[]
    ).flatMap((r) =>
      r.apiGroups.flatMap((g) =>
        r.resources.flatMap((res) => r.verbs.map((v) => `${g === "" ? "core" : g}/${res} ${v}`)),
      ),
    );
    assert.deepEqual(
      Object.keys(NOT_EXERCISED).filter((g) => !granted.includes(g)),
      [],
      "NOT_EXERCISED lists only grants the chart gives",
    );
    const unused = granted.filter((g) => !used.has(g) && NOT_EXERCISED[g] === undefined);
    assert.deepEqual(unused, [], "grants the run never used and no known code path needs");
    for (const lease of [
      "coordination.k8s.io/leases get",
      "coordination.k8s.io/leases update",
      "coordination.k8s.io/leases create",
    ])
      assert.ok(used.has(lease), `${lease} used`);
  },
);
