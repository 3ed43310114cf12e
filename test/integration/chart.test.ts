/**
 * The Helm charts (charts/lifeboat, charts/lifeboat-crd) with the pinned Helm: `helm lint`, `helm template`
 * with the defaults and with non-default values, the values the chart refuses at render time, and the
 * rendered manifests applied to the lab's kube-apiserver (server-side validation, then a real apply).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { ControlPlane } from "../../lab/controlplane/control-plane.ts";
import { labBinaries, prometheusOperatorCrdDir } from "../../lab/controlplane/binaries.ts";
import { EVACUATION_CRD_PATH } from "../../src/config/crd-path.ts";
import {
  chartDir,
  helm,
  HelmError,
  only,
  parseManifests,
  renderChart,
  templateChart,
  type Manifest,
} from "../helpers/helm.ts";
import { chartNodeOptions, resolveHeapPercentage } from "../helpers/chart-heap.ts";

const run = promisify(execFile);

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** Every grant of the ClusterRole, one "group/resource verb" string each (group "core" for ""). */
function grants(rules: Rule[]): string[] {
  return rules
    .flatMap((r) =>
      r.apiGroups.flatMap((g) =>
        r.resources.flatMap((res) =>
          r.verbs.map(
            (v) =>
              `${g === "" ? "core" : g}/${res} ${v}${r.resourceNames ? ` [${r.resourceNames.join(",")}]` : ""}`,
          ),
        ),
      ),
    )
    .sort();
}

/** What the controller's code calls (src/cluster, src/actuators/kube, src/observability/events.ts, src/state). */
const CLUSTER_GRANTS = [
  "apps/deployments get",
  "apps/deployments list",
  "apps/deployments patch",
  "apps/deployments watch",
  "apps/replicasets get",
  "apps/replicasets list",
  "apps/replicasets patch",
  "apps/replicasets watch",
  "apps/statefulsets list",
  "apps/statefulsets watch",
  "autoscaling/horizontalpodautoscalers list",
  "autoscaling/horizontalpodautoscalers watch",
  "core/events create",
  "core/events patch",
  "core/nodes get",
  "core/nodes list",
  "core/nodes patch",
  "core/nodes watch",
  "core/pods delete",
  "core/pods list",
  "core/pods patch",
  "core/pods watch",
  "core/pods/eviction create",
  "lifeboat.dev/evacuations create",
  "lifeboat.dev/evacuations delete",
  "lifeboat.dev/evacuations get",
  "lifeboat.dev/evacuations list",
  "lifeboat.dev/evacuations update",
  "lifeboat.dev/evacuations watch",
  "lifeboat.dev/evacuations/status update",
  "policy/poddisruptionbudgets list",
  "policy/poddisruptionbudgets watch",
  "scheduling.k8s.io/priorityclasses create",
  "scheduling.k8s.io/priorityclasses get",
].sort();

type Spec = Record<string, unknown>;
const podSpec = (d: Manifest): Spec => ((d["spec"] as Spec)["template"] as Spec)["spec"] as Spec;
const container = (d: Manifest): Spec => (podSpec(d)["containers"] as Spec[])[0]!;
const args = (d: Manifest): string[] => container(d)["args"] as string[];

/** Values that differ from every default a user is likely to change. */
const CUSTOM = {
  replicaCount: 3,
  image: { repository: "registry.example.com/lifeboat", tag: "1.2.3", pullPolicy: "Always" },
  imagePullSecrets: [{ name: "regcred" }],
  serviceAccount: { name: "evacuator", roleArn: "arn:aws:iam::123456789012:role/lifeboat" },
  config: {
    queueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/spot-events",
    awsRegion: "eu-west-1",
    leaseName: "lifeboat-prod",
    leaderElectionNamespace: "kube-system",
    dryRun: true,
    logLevel: "debug",
  },
  nodeAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: {
      nodeSelectorTerms: [{ matchExpressions: [{ key: "lifecycle", operator: "In", values: ["normal"] }] }],
    },
  },
  hostAntiAffinity: "preferred",
  topologySpreadConstraints: [
    { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway" },
  ],
  tolerations: [{ key: "CriticalAddonsOnly", operator: "Exists" }],
  priorityClassName: "",
  extraArgs: ["--sqs-concurrency=2"],
  serviceMonitor: { enabled: true, labels: { release: "prom" } },
  prometheusRule: { enabled: true, labels: { release: "prom" }, additionalAlertLabels: { team: "platform" } },
  grafanaDashboard: { enabled: true, namespace: "monitoring" },
  podDisruptionBudget: { enabled: true, minAvailable: 2 },
};

describe("the lifeboat charts", () => {
  it("helm lint passes with the defaults and with non-default values (both charts)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lifeboat-lint-"));
    try {
      const custom = join(dir, "custom.json");
      await writeFile(custom, JSON.stringify(CUSTOM));
      const out = await helm(["lint", "--strict", chartDir("lifeboat"), chartDir("lifeboat-crd")]);
      assert.match(out, /2 chart\(s\) linted, 0 chart\(s\) failed/);
      const outCustom = await helm(["lint", "--strict", chartDir("lifeboat"), "-f", custom]);
      assert.match(outCustom, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("defaults: two replicas with leader election, on on-demand capacity, one per host, spread over zones, system-cluster-critical", async () => {
    const objects = await renderChart("lifeboat");
    const deployment = only(objects, "Deployment");
    const spec = deployment["spec"] as Spec;
    assert.equal(spec["replicas"], 2);
    assert.deepEqual(spec["strategy"], {
      type: "RollingUpdate",
      rollingUpdate: { maxSurge: 0, maxUnavailable: 1 },
    });
    const pod = podSpec(deployment);
    assert.equal(pod["priorityClassName"], "system-cluster-critical");
    const selector = {
      matchLabels: { "app.kubernetes.io/name": "lifeboat", "app.kubernetes.io/instance": "lifeboat" },
    };
    assert.deepEqual(pod["affinity"], {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            {
              matchExpressions: [
                { key: "eks.amazonaws.com/capacityType", operator: "In", values: ["ON_DEMAND"] },
              ],
            },
            {
              matchExpressions: [
                { key: "karpenter.sh/capacity-type", operator: "In", values: ["on-demand"] },
              ],
            },
          ],
        },
      },
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { topologyKey: "kubernetes.io/hostname", labelSelector: selector },
        ],
      },
    });
    assert.deepEqual(pod["topologySpreadConstraints"], [
      {
        maxSkew: 1,
        topologyKey: "topology.kubernetes.io/zone",
        whenUnsatisfiable: "DoNotSchedule",
        labelSelector: selector,
      },
    ]);
    const a = args(deployment);
    assert.equal(a[0], "run");
    assert.ok(a.includes("--leader-elect=true"), a.join(" "));
    assert.ok(a.includes("--leader-election-namespace=lifeboat-system"), a.join(" "));
    assert.ok(a.includes("--lease-name=lifeboat"), a.join(" "));
    assert.deepEqual(
      a.filter((x) => /^--(imds|node-name)/.test(x)),
      [],
      "no IMDS flags in a Deployment",
    );
    assert.equal(only(objects, "PodDisruptionBudget").metadata.name, "lifeboat");
    assert.equal(only(objects, "CustomResourceDefinition").metadata.name, "evacuations.lifeboat.dev");
    for (const kind of ["ServiceMonitor", "PrometheusRule", "ConfigMap"])
      assert.equal(objects.filter((o) => o.kind === kind).length, 0, `${kind} is off by default`);
  });

  it("RBAC: exactly the calls the code makes; the Lease rule names the one Lease", async () => {
    const objects = await renderChart("lifeboat");
    const role = only(objects, "ClusterRole");
    assert.deepEqual(grants(role["rules"] as Rule[]), CLUSTER_GRANTS);
    const headroomRole = only(objects, "Role", "lifeboat-headroom");
    assert.equal(headroomRole.metadata.namespace, "lifeboat-system");
    assert.deepEqual(grants(headroomRole["rules"] as Rule[]), [
      "apps/deployments create",
      "apps/deployments delete",
      "apps/deployments update",
    ]);
    assert.equal(only(objects, "RoleBinding", "lifeboat-headroom").metadata.namespace, "lifeboat-system");
    const leaseRole = only(objects, "Role", "lifeboat-leader-election");
    assert.equal(leaseRole.metadata.namespace, "lifeboat-system");
    assert.deepEqual(grants(leaseRole["rules"] as Rule[]), [
      "coordination.k8s.io/leases create",
      "coordination.k8s.io/leases get [lifeboat]",
      "coordination.k8s.io/leases update [lifeboat]",
    ]);
    const binding = only(objects, "ClusterRoleBinding");
    assert.deepEqual(binding["subjects"], [
      { kind: "ServiceAccount", name: "lifeboat", namespace: "lifeboat-system" },
    ]);
  });

  it("non-default values reach the manifests", async () => {
    const objects = await renderChart("lifeboat", { values: CUSTOM });
    const deployment = only(objects, "Deployment");
    assert.equal((deployment["spec"] as Spec)["replicas"], 3);
    const c = container(deployment);
    assert.equal(c["image"], "registry.example.com/lifeboat:1.2.3");
    assert.equal(c["imagePullPolicy"], "Always");
    const pod = podSpec(deployment);
    assert.deepEqual(pod["imagePullSecrets"], [{ name: "regcred" }]);
    assert.equal(pod["serviceAccountName"], "evacuator");
    assert.equal(pod["priorityClassName"], undefined);
    assert.deepEqual(pod["tolerations"], CUSTOM.tolerations);
    const affinity = pod["affinity"] as Spec;
    assert.deepEqual(affinity["nodeAffinity"], CUSTOM.nodeAffinity);
    assert.deepEqual(Object.keys(affinity["podAntiAffinity"] as Spec), [
      "preferredDuringSchedulingIgnoredDuringExecution",
    ]);
    assert.equal((pod["topologySpreadConstraints"] as Spec[])[0]!["whenUnsatisfiable"], "ScheduleAnyway");
    const a = args(deployment);
    for (const flag of [
      "--queue-url=https://sqs.eu-west-1.amazonaws.com/123456789012/spot-events",
      "--aws-region=eu-west-1",
      "--lease-name=lifeboat-prod",
      "--leader-election-namespace=kube-system",
      "--dry-run=true",
      "--log-level=debug",
    ])
      assert.ok(a.includes(flag), `${flag} in ${a.join(" ")}`);
    assert.equal(a.at(-1), "--sqs-concurrency=2", "extraArgs come last");
    const sa = only(objects, "ServiceAccount");
    assert.equal(sa.metadata.name, "evacuator");
    assert.equal(sa.metadata.annotations?.["eks.amazonaws.com/role-arn"], CUSTOM.serviceAccount.roleArn);
    const leaseRole = only(objects, "Role", "lifeboat-leader-election");
    assert.equal(leaseRole.metadata.namespace, "kube-system");
    assert.deepEqual(grants(leaseRole["rules"] as Rule[]), [
      "coordination.k8s.io/leases create",
      "coordination.k8s.io/leases get [lifeboat-prod]",
      "coordination.k8s.io/leases update [lifeboat-prod]",
    ]);
    assert.equal(only(objects, "ServiceMonitor").metadata.labels?.["release"], "prom");
    const rule = only(objects, "PrometheusRule");
    assert.equal(rule.metadata.labels?.["release"], "prom");
    const alerts = (
      (rule["spec"] as Spec)["groups"] as { rules: { alert: string; labels: Spec }[] }[]
    ).flatMap((g) => g.rules);
    assert.ok(alerts.length >= 4);
    for (const alert of alerts)
      assert.equal(alert.labels["team"], "platform", `${alert.alert} has the extra label`);
    const dashboard = only(objects, "ConfigMap", "lifeboat-dashboard");
    assert.equal(dashboard.metadata.namespace, "monitoring");
    assert.equal(dashboard.metadata.labels?.["grafana_dashboard"], "1");
    const json = JSON.parse((dashboard["data"] as Record<string, string>)["lifeboat.json"]!) as {
      uid: string;
    };
    assert.equal(json.uid, "lifeboat");
    assert.equal((only(objects, "PodDisruptionBudget")["spec"] as Spec)["minAvailable"], 2);
  });

  it("the controller's heap is sized from its memory limit (NODE_OPTIONS); nodeOptions='' leaves Node's own", async () => {
    const env = (objects: Manifest[]): { name: string; value?: string }[] =>
      container(only(objects, "Deployment"))["env"] as { name: string; value?: string }[];
    const defaults = env(await renderChart("lifeboat")).find((e) => e.name === "NODE_OPTIONS");
    assert.deepEqual(defaults?.value?.split(" "), [
      "--max-old-space-size-percentage=55",
      "--max-semi-space-size=8",
    ]);
    const none = env(await renderChart("lifeboat", { values: { nodeOptions: "" } }));
    assert.deepEqual(
      none.map((e) => e.name),
      ["LIFEBOAT_IDENTITY"],
    );
    // What the lab and the benches give a controller started outside a cluster (test/helpers/chart-heap.ts).
    assert.equal(chartNodeOptions(), "--max-old-space-size=281 --max-semi-space-size=8");
    assert.equal(
      resolveHeapPercentage("--max-old-space-size-percentage=60 --max-semi-space-size=16", "1Gi"),
      "--max-old-space-size=614 --max-semi-space-size=16",
    );
    assert.equal(
      resolveHeapPercentage("--max-old-space-size-percentage=50", "600M"),
      "--max-old-space-size=286",
    );
  });

  it("headroomNodes=0 drops the headroom Role and the PriorityClass grants", async () => {
    const objects = await renderChart("lifeboat", { values: { config: { headroomNodes: 0 } } });
    assert.equal(objects.filter((o) => o.metadata.name === "lifeboat-headroom").length, 0);
    const clusterGrants = grants(only(objects, "ClusterRole")["rules"] as Rule[]);
    assert.deepEqual(
      clusterGrants.filter((g) => g.startsWith("scheduling.k8s.io/")),
      [],
      "no PriorityClass grant without headroom",
    );
    assert.ok(args(only(objects, "Deployment")).includes("--headroom-nodes=0"));
  });

  it("rbac.create=false and serviceAccount.create=false render neither RBAC nor a ServiceAccount", async () => {
    const objects = await renderChart("lifeboat", {
      values: { rbac: { create: false }, serviceAccount: { create: false, name: "mine" } },
    });
    for (const kind of ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount"])
      assert.equal(objects.filter((o) => o.kind === kind).length, 0, kind);
    assert.equal(podSpec(only(objects, "Deployment"))["serviceAccountName"], "mine");
  });

  it("leaderElect=false is refused with more than one replica, and drops the Lease Role with one", async () => {
    await assert.rejects(
      templateChart("lifeboat", { values: { config: { leaderElect: false } } }),
      (err: unknown) =>
        err instanceof HelmError &&
        /config\.leaderElect=false with replicaCount=2: every replica would act on every notice/.test(
          err.stderr,
        ),
    );
    const single = await renderChart("lifeboat", {
      values: { replicaCount: 1, config: { leaderElect: false } },
    });
    assert.ok(args(only(single, "Deployment")).includes("--leader-elect=false"));
    assert.equal(
      single.filter((o) => o.kind === "Role" && o.metadata.name === "lifeboat-leader-election").length,
      0,
      "no Lease Role without leader election",
    );
    assert.equal(single.filter((o) => o.kind === "PodDisruptionBudget").length, 0, "no PDB for one replica");
  });

  it("IMDS settings and an unknown hostAntiAffinity are refused at render time", async () => {
    for (const [key, value] of [
      ["imdsEnabled", true],
      ["nodeName", "ip-10-0-1-2.ec2.internal"],
    ] as const) {
      await assert.rejects(
        templateChart("lifeboat", { values: { config: { [key]: value } } }),
        (err: unknown) =>
          err instanceof HelmError &&
          err.stderr.includes(`config.${key} is not a setting of the chart's Deployment`),
      );
    }
    await assert.rejects(
      templateChart("lifeboat", { values: { hostAntiAffinity: "sometimes" } }),
      (err: unknown) =>
        err instanceof HelmError && /hostAntiAffinity must be required, preferred or none/.test(err.stderr),
    );
  });

  it("the lifeboat-crd chart renders deploy/crds' CRD as a template, kept on uninstall", async () => {
    const [crd, ...rest] = await renderChart("lifeboat-crd", {
      values: { additionalAnnotations: { owner: "platform" } },
    });
    assert.equal(rest.length, 0);
    assert.deepEqual(crd!.metadata.annotations, { "helm.sh/resource-policy": "keep", owner: "platform" });
    const { annotations: _, ...metadata } = crd!.metadata;
    assert.deepEqual({ ...crd, metadata }, parse(readFileSync(EVACUATION_CRD_PATH, "utf8")));
    const noCrds = await renderChart("lifeboat", { includeCrds: false });
    assert.equal(noCrds.filter((o) => o.kind === "CustomResourceDefinition").length, 0, "--skip-crds path");
  });

  describe("applied to the lab's kube-apiserver", () => {
    let cp: ControlPlane;
    const kubectl = (argv: string[], input?: string): Promise<{ stdout: string; stderr: string }> => {
      const child = run(labBinaries().kubectl, ["--kubeconfig", cp.kubeconfigPath, ...argv]);
      if (input !== undefined) {
        child.child.stdin?.end(input);
      }
      return child;
    };

    before(async () => {
      cp = await ControlPlane.start();
      await kubectl(["create", "namespace", "lifeboat-system"]);
      await kubectl(["create", "namespace", "monitoring"]);
      // The Prometheus Operator's own CRDs (lab/setup/fetch-prometheus-operator-crds.sh), so that the
      // ServiceMonitor and the PrometheusRule are validated against their real schemas too.
      const dir = prometheusOperatorCrdDir();
      for (const crd of [
        "monitoring.coreos.com_servicemonitors.yaml",
        "monitoring.coreos.com_prometheusrules.yaml",
      ])
        await kubectl(["apply", "--server-side", "-f", join(dir, crd)]);
      await kubectl([
        "wait",
        "--for=condition=Established",
        "--timeout=30s",
        "crd/servicemonitors.monitoring.coreos.com",
        "crd/prometheusrules.monitoring.coreos.com",
      ]);
    });
    after(async () => {
      await cp?.stop();
    });

    /** Server-side dry run (admission, schema and strict field validation) of every rendered object. */
    async function dryRunServer(text: string): Promise<string[]> {
      const objects = parseManifests(text);
      const { stdout } = await kubectl(
        ["apply", "--dry-run=server", "--validate=strict", "-o", "name", "-f", "-"],
        JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }),
      );
      return stdout.trim().split("\n").sort();
    }

    it("the default rendering passes server-side validation", async () => {
      const names = await dryRunServer(await templateChart("lifeboat"));
      assert.deepEqual(names, [
        "clusterrole.rbac.authorization.k8s.io/lifeboat",
        "clusterrolebinding.rbac.authorization.k8s.io/lifeboat",
        "customresourcedefinition.apiextensions.k8s.io/evacuations.lifeboat.dev",
        "deployment.apps/lifeboat",
        "poddisruptionbudget.policy/lifeboat",
        "role.rbac.authorization.k8s.io/lifeboat-headroom",
        "role.rbac.authorization.k8s.io/lifeboat-leader-election",
        "rolebinding.rbac.authorization.k8s.io/lifeboat-headroom",
        "rolebinding.rbac.authorization.k8s.io/lifeboat-leader-election",
        "service/lifeboat-metrics",
        "serviceaccount/lifeboat",
      ]);
    });

    it("the non-default rendering passes server-side validation", async () => {
      const names = await dryRunServer(await templateChart("lifeboat", { values: CUSTOM }));
      for (const name of [
        "configmap/lifeboat-dashboard",
        "deployment.apps/lifeboat",
        "prometheusrule.monitoring.coreos.com/lifeboat",
        "servicemonitor.monitoring.coreos.com/lifeboat",
      ])
        assert.ok(names.includes(name), `${name} in ${names.join(" ")}`);
    });

    it("the CRD chart, then the main chart with --skip-crds, apply for real and upgrade in place", async () => {
      await kubectl(["apply", "-f", "-"], await templateChart("lifeboat-crd"));
      await kubectl(["wait", "--for=condition=Established", "--timeout=30s", "crd/evacuations.lifeboat.dev"]);
      await kubectl(["apply", "-f", "-"], await templateChart("lifeboat", { includeCrds: false }));
      const { stdout } = await kubectl([
        "get",
        "deployment",
        "-n",
        "lifeboat-system",
        "lifeboat",
        "-o",
        "json",
      ]);
      assert.equal((JSON.parse(stdout) as { spec: { replicas: number } }).spec.replicas, 2);
      // A second apply of the CRD chart (an upgrade) changes the CRD in place: the keep policy never blocks it.
      await kubectl(
        ["apply", "-f", "-"],
        await templateChart("lifeboat-crd", { values: { additionalAnnotations: { upgraded: "yes" } } }),
      );
      const crd = await kubectl(["get", "crd", "evacuations.lifeboat.dev", "-o", "json"]);
      const annotations = (JSON.parse(crd.stdout) as { metadata: { annotations: Record<string, string> } })
        .metadata.annotations;
      assert.equal(annotations["upgraded"], "yes");
      assert.equal(annotations["helm.sh/resource-policy"], "keep");
    });
  });
});
