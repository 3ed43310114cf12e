/**
 * lifeboat's Kubernetes actuators against the lab's real control plane. Waits poll real time with a bound;
 * nothing asserts on durations.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  KubeConfig,
  PatchStrategy,
  SchedulingV1Api,
  setHeaderOptions,
  type V1Node,
  type V1Pod,
} from "@kubernetes/client-node";
import { startLab, type Lab } from "../../lab/lab.ts";
import { deployment, pdb } from "../../lab/workloads.ts";
import {
  EVACUATING_TAINT_KEY,
  EXCLUDE_FROM_LB_LABEL,
  POD_DELETION_COST_ANNOTATION,
} from "../../src/domain/plan.ts";
import type { WorkloadRef } from "../../src/domain/snapshot.ts";
import { withDryRun } from "../../src/actuators/dry-run.ts";
import { ApiKubeActuator } from "../../src/actuators/kube/api-actuator.ts";
import { isForbidden, KubeApiError } from "../../src/actuators/kube/errors.ts";
import { changeSurgeLedger, type LedgerClient } from "../../src/actuators/kube/scale.ts";
import { SURGE_LEDGER_ANNOTATION, type LedgerChange } from "../../src/domain/surge-ledger.ts";
import { HeadroomActuator } from "../../src/actuators/kube/headroom.ts";
import { removePreferNoScheduleTaint, setPreferNoScheduleTaint } from "../../src/actuators/kube/node.ts";
import { POOL_TAINT_KEY } from "../../src/domain/steering.ts";
import { RecordingLogger } from "../../src/cluster/logger.ts";
import { waitFor } from "../helpers/wait.ts";

const NS = "default";
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const CORDON = { taintKey: EVACUATING_TAINT_KEY, excludeFromLb: true };

function fastDeployment(name: string, replicas: number): ReturnType<typeof deployment> {
  return deployment({
    name,
    replicas,
    preStopSeconds: null,
    terminationGracePeriodSeconds: 30,
    readiness: { initialDelaySeconds: 1, periodSeconds: 1, failureThreshold: 2 },
    timings: { pullSeconds: 1 },
  });
}

const isReady = (p: V1Pod): boolean =>
  p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
const nameOf = (p: V1Pod): string => p.metadata?.name ?? "";

async function readyPods(lab: Lab, app: string, n: number): Promise<V1Pod[]> {
  return waitFor(`${n} Ready pods of ${app}`, async () => {
    const live = (
      await lab.core.listNamespacedPod({ namespace: NS, labelSelector: `app=${app}` })
    ).items.filter((p) => p.metadata?.deletionTimestamp == null);
    return live.length === n && live.every(isReady) ? live : undefined;
  });
}

/** The node's taints as key=value:effect, leaving out the ones the node lifecycle controller manages (node.kubernetes.io/...). */
function ownTaints(node: V1Node): string[] {
  return (node.spec?.taints ?? [])
    .filter((t) => !t.key.startsWith("node.kubernetes.io/"))
    .map((t) => `${t.key}=${t.value ?? ""}:${t.effect}`)
    .sort();
}

async function replicasOf(lab: Lab, name: string): Promise<number | undefined> {
  return (await lab.apps.readNamespacedDeploymentScale({ name, namespace: NS })).spec?.replicas;
}

describe("Kubernetes actuators on the lab's control plane", { timeout: 240_000 }, () => {
  let lab: Lab;
  let actuator: ApiKubeActuator;

  before(async () => {
    lab = await startLab({ timeScale: 0.2, nodeGroups: [{ name: "spot-a", zone: "us-east-1a", count: 3 }] });
    actuator = ApiKubeActuator.fromKubeConfig(lab.kubeConfig);
  });

  after(async () => {
    await lab[Symbol.asyncDispose]();
  });

  it("cordon is idempotent, keeps existing taints, and uncordon undoes only its own", async () => {
    const [node] = lab.nodes;
    assert.ok(node !== undefined);
    const other = { key: "team.example/dedicated", value: "batch", effect: "NoSchedule" };
    await lab.core.patchNode({ name: node.name, body: { spec: { taints: [other] } } }, mergePatch);

    assert.deepEqual(await actuator.cordon(node.name, CORDON), { kind: "done", changed: true });
    const cordoned = await lab.getNode(node.name);
    assert.equal(cordoned.spec?.unschedulable, true);
    assert.deepEqual(ownTaints(cordoned), [
      `${EVACUATING_TAINT_KEY}=:NoSchedule`,
      "team.example/dedicated=batch:NoSchedule",
    ]);
    assert.equal(cordoned.metadata?.labels?.[EXCLUDE_FROM_LB_LABEL], "true");

    assert.deepEqual(await actuator.cordon(node.name, CORDON), { kind: "done", changed: false });
    assert.deepEqual(ownTaints(await lab.getNode(node.name)), ownTaints(cordoned));

    assert.deepEqual(await actuator.taintPreferNoSchedule(node.name, EVACUATING_TAINT_KEY), {
      kind: "done",
      changed: true,
    });
    assert.ok(
      (await lab.getNode(node.name)).spec?.taints?.some(
        (t) => t.key === EVACUATING_TAINT_KEY && t.effect === "PreferNoSchedule",
      ),
    );

    assert.deepEqual(await actuator.uncordon(node.name, EVACUATING_TAINT_KEY), {
      kind: "done",
      changed: true,
    });
    const restored = await lab.getNode(node.name);
    assert.notEqual(restored.spec?.unschedulable, true);
    assert.deepEqual(ownTaints(restored), ["team.example/dedicated=batch:NoSchedule"]);
    assert.equal(restored.metadata?.labels?.[EXCLUDE_FROM_LB_LABEL], undefined);
    assert.deepEqual(await actuator.uncordon(node.name, EVACUATING_TAINT_KEY), {
      kind: "done",
      changed: false,
    });
    await lab.core.patchNode({ name: node.name, body: { spec: { taints: null } } }, mergePatch);

    assert.deepEqual(await actuator.cordon("no-such-node", CORDON), { kind: "not-found" });
  });

  it("the steering taint is put with its expiry, replaced by a later one, and removed alone", async () => {
    const [, node] = lab.nodes;
    assert.ok(node !== undefined);
    const core = lab.core;
    const other = { key: "team.example/dedicated", value: "batch", effect: "NoSchedule" };
    await core.patchNode({ name: node.name, body: { spec: { taints: [other] } } }, mergePatch);
    assert.deepEqual(await setPreferNoScheduleTaint(core, node.name, POOL_TAINT_KEY, "1800000000"), {
      kind: "done",
      changed: true,
    });
    assert.deepEqual(await setPreferNoScheduleTaint(core, node.name, POOL_TAINT_KEY, "1800000000"), {
      kind: "done",
      changed: false,
    });
    await setPreferNoScheduleTaint(core, node.name, POOL_TAINT_KEY, "1800000600");
    assert.deepEqual(ownTaints(await lab.getNode(node.name)), [
      `${POOL_TAINT_KEY}=1800000600:PreferNoSchedule`,
      "team.example/dedicated=batch:NoSchedule",
    ]);
    assert.deepEqual(await removePreferNoScheduleTaint(core, node.name, POOL_TAINT_KEY), {
      kind: "done",
      changed: true,
    });
    assert.deepEqual(ownTaints(await lab.getNode(node.name)), ["team.example/dedicated=batch:NoSchedule"]);
    assert.deepEqual(await removePreferNoScheduleTaint(core, node.name, POOL_TAINT_KEY), {
      kind: "done",
      changed: false,
    });
    await core.patchNode({ name: node.name, body: { spec: { taints: null } } }, mergePatch);
  });

  it("headroom: the PriorityClass once, a placeholder Deployment created, resized only on change, removed", async () => {
    await lab.core.createNamespace({ body: { metadata: { name: "lifeboat-system" } } });
    const headroom = new HeadroomActuator(
      { apps: lab.apps, scheduling: lab.kubeConfig.makeApiClient(SchedulingV1Api) },
      {
        namespace: "lifeboat-system",
        priorityClassName: "lifeboat-headroom-test",
        priority: -10,
        image: "registry.k8s.io/pause:3.10",
      },
    );
    assert.equal(await headroom.ensurePriorityClass(), "created");
    assert.equal(await headroom.ensurePriorityClass(), "exists");
    const pc = await lab.kubeConfig
      .makeApiClient(SchedulingV1Api)
      .readPriorityClass({ name: "lifeboat-headroom-test" });
    assert.deepEqual([pc.value, pc.preemptionPolicy, pc.globalDefault ?? false], [-10, "Never", false]);
    const set = {
      name: "lifeboat-headroom-ng-spot-a",
      scope: "node-group" as const,
      labelKey: "eks.amazonaws.com/nodegroup",
      labelValue: "spot-a",
      replicas: 0,
      requests: { cpuMilli: 1000, memoryBytes: 0 },
      reason: "test",
    };
    assert.equal(await headroom.apply(set), "created");
    assert.equal(await headroom.apply(set), "unchanged");
    assert.equal(await headroom.apply({ ...set, replicas: 1 }), "updated");
    const d = await lab.apps.readNamespacedDeployment({ name: set.name, namespace: "lifeboat-system" });
    assert.equal(d.spec?.replicas, 1);
    assert.equal(d.spec?.template.spec?.priorityClassName, "lifeboat-headroom-test");
    assert.deepEqual(await headroom.list(), [set.name]);
    await headroom.remove(set.name);
    await headroom.remove(set.name);
    assert.deepEqual(await headroom.list(), []);
  });

  it("a surge and its ledger entry are one write; a retry writes nothing; another writer's scale is never cut", async () => {
    await lab.apps.createNamespacedDeployment({ namespace: NS, body: fastDeployment("scaled", 6) });
    const web: WorkloadRef = { kind: "Deployment", namespace: NS, name: "scaled" };
    const surge: LedgerChange = {
      kind: "surge",
      records: [{ evacuation: "evac-a", pods: ["scaled-1", "scaled-2"] }],
      at: 1_000,
    };
    // The Deployment controller writes the new Deployment's status meanwhile: a 409 and a retry are expected.
    const up = await actuator.changeSurgeLedger(web, surge);
    assert.ok(up.kind === "applied", JSON.stringify(up));
    assert.equal(up.delta, 2);
    assert.deepEqual(up.replicas, { from: 6, to: 8 });
    const ledger = async (): Promise<string | undefined> =>
      (await lab.apps.readNamespacedDeployment({ name: "scaled", namespace: NS })).metadata?.annotations?.[
        SURGE_LEDGER_ANNOTATION
      ];
    assert.match((await ledger()) ?? "", /evac-a/, "the entry is on the Deployment with its replicas");
    const again = await actuator.changeSurgeLedger(web, surge);
    assert.ok(again.kind === "applied" && again.delta === 0, "the same surge again writes nothing");
    assert.equal(await replicasOf(lab, "scaled"), 8);

    // Another writer (an HPA, a user) scales to 11 meanwhile: a retire would cut below their count.
    await lab.apps.patchNamespacedDeploymentScale(
      { name: "scaled", namespace: NS, body: { spec: { replicas: 11 } } },
      mergePatch,
    );
    const [entry] = up.touched;
    assert.ok(entry !== undefined);
    const retire: LedgerChange = {
      kind: "retire",
      surges: [{ id: entry.id, evacuation: "evac-a", pods: entry.pods, by: 2, legacy: false }],
      at: 2_000,
    };
    const down = await actuator.changeSurgeLedger(web, retire);
    assert.equal(down.kind, "unsupported");
    assert.match(down.kind === "unsupported" ? down.reason : "", /someone else scaled it/);
    assert.equal(await replicasOf(lab, "scaled"), 11, "the other writer's count is kept");
    const back = await actuator.changeSurgeLedger(web, { kind: "hand-back", ids: [entry.id], at: 3_000 });
    assert.ok(back.kind === "applied" && back.delta === 0, "a hand-back changes no replica");
    assert.equal(await replicasOf(lab, "scaled"), 11);
  });

  it("the ledger write retries on 409 when a write lands between its read and its write", async () => {
    const web: WorkloadRef = { kind: "Deployment", namespace: NS, name: "scaled" };
    const start = (await replicasOf(lab, "scaled")) ?? 0;
    let interfered = false;
    // The real client, except that right after our first read another writer adds 1 replica.
    const racing: LedgerClient = new Proxy(lab.apps, {
      get(target, prop, receiver) {
        if (prop === "readNamespacedDeployment") {
          return async (p: { name: string; namespace: string }) => {
            const read = await target.readNamespacedDeployment(p);
            if (!interfered) {
              interfered = true;
              await target.patchNamespacedDeploymentScale(
                { ...p, body: { spec: { replicas: (read.spec?.replicas ?? 0) + 1 } } },
                mergePatch,
              );
            }
            return read;
          };
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const change: LedgerChange = {
      kind: "surge",
      records: [{ evacuation: "evac-b", pods: ["p1", "p2"] }],
      at: 4_000,
    };
    const outcome = await changeSurgeLedger(racing, web, change);
    assert.ok(interfered);
    assert.ok(outcome.kind === "applied", JSON.stringify(outcome));
    assert.ok(outcome.attempts >= 2, "the first write was refused with 409 and retried");
    assert.deepEqual(outcome.replicas, { from: start + 1, to: start + 3 });
    assert.equal(await replicasOf(lab, "scaled"), start + 3);
    assert.deepEqual(
      await actuator.changeSurgeLedger({ kind: "Deployment", namespace: NS, name: "absent" }, change),
      { kind: "not-found" },
    );
    assert.equal(
      (await actuator.changeSurgeLedger({ kind: "StatefulSet", namespace: NS, name: "x" }, change)).kind,
      "unsupported",
      "a StatefulSet is never surged",
    );
  });

  it("setDeletionCost annotates; evict answers evicted, blocked-by-pdb (429) and not-found (404)", async () => {
    await lab.apps.createNamespacedDeployment({ namespace: NS, body: fastDeployment("evictee", 2) });
    const [first, second] = await readyPods(lab, "evictee", 2);
    assert.ok(first !== undefined && second !== undefined);
    const ref = (p: V1Pod): { namespace: string; name: string } => ({ namespace: NS, name: nameOf(p) });

    assert.deepEqual(await actuator.setDeletionCost(ref(first), -10), { kind: "patched" });
    const annotated = await lab.core.readNamespacedPod({ name: nameOf(first), namespace: NS });
    assert.equal(annotated.metadata?.annotations?.[POD_DELETION_COST_ANNOTATION], "-10");

    await lab.policy.createNamespacedPodDisruptionBudget({
      namespace: NS,
      body: pdb("evictee", { minAvailable: 2 }),
    });
    await waitFor("the PDB status", async () => {
      const b = await lab.policy.readNamespacedPodDisruptionBudget({ name: "evictee", namespace: NS });
      return b.status?.currentHealthy === 2 && b.status.disruptionsAllowed === 0 ? b : undefined;
    });
    const blocked = await actuator.evict(ref(first));
    assert.equal(blocked.kind, "blocked-by-pdb");
    assert.match(blocked.kind === "blocked-by-pdb" ? blocked.message : "", /disruption budget/i);

    await lab.policy.deleteNamespacedPodDisruptionBudget({ name: "evictee", namespace: NS });
    assert.deepEqual(await actuator.evict(ref(first)), { kind: "evicted" });
    const evicted = await lab.core
      .readNamespacedPod({ name: nameOf(first), namespace: NS })
      .catch(() => null);
    assert.ok(
      evicted === null || evicted.metadata?.deletionTimestamp != null,
      "the evicted pod is terminating or gone",
    );

    assert.deepEqual(await actuator.evict({ namespace: NS, name: "no-such-pod" }), { kind: "not-found" });
    assert.deepEqual(await actuator.setDeletionCost({ namespace: NS, name: "no-such-pod" }, 1), {
      kind: "not-found",
    });
  });

  it("forceDelete removes a pod at once; deletePod lets it terminate gracefully", async () => {
    await lab.apps.createNamespacedDeployment({ namespace: NS, body: fastDeployment("deletee", 2) });
    const [a, b] = await readyPods(lab, "deletee", 2);
    assert.ok(a !== undefined && b !== undefined);
    assert.deepEqual(await actuator.forceDelete({ namespace: NS, name: nameOf(a) }), { kind: "deleted" });
    const gone = await lab.core.readNamespacedPod({ name: nameOf(a), namespace: NS }).then(
      () => false,
      () => true,
    );
    assert.ok(gone, "a force-deleted pod is gone from the API at once");

    assert.deepEqual(await actuator.deletePod({ namespace: NS, name: nameOf(b) }), { kind: "deleted" });
    const terminating = await lab.core.readNamespacedPod({ name: nameOf(b), namespace: NS });
    assert.ok(
      terminating.metadata?.deletionTimestamp != null,
      "a gracefully deleted pod is terminating first",
    );
    assert.equal(terminating.metadata.deletionGracePeriodSeconds, 30);
    assert.deepEqual(await actuator.forceDelete({ namespace: NS, name: "no-such-pod" }), {
      kind: "not-found",
    });
  });

  it("a user without RBAC rights gets a typed Forbidden error with a clear message", async () => {
    const limitedConfig = new KubeConfig();
    limitedConfig.loadFromFile(lab.limitedKubeconfigPath);
    const limited = ApiKubeActuator.fromKubeConfig(limitedConfig);
    const [node] = lab.nodes;
    assert.ok(node !== undefined);
    await assert.rejects(limited.cordon(node.name, CORDON), (err: unknown) => {
      assert.ok(err instanceof KubeApiError);
      assert.ok(isForbidden(err));
      assert.equal(err.kind, "forbidden");
      assert.equal(err.target, `node/${node.name}`);
      assert.match(err.message, /^forbidden: cannot get node\/\S+ \(HTTP 403\): .*lab-limited.*RBAC/s);
      return true;
    });
    await assert.rejects(
      limited.changeSurgeLedger(
        { kind: "Deployment", namespace: NS, name: "scaled" },
        { kind: "surge", records: [{ evacuation: "evac-c", pods: ["p"] }], at: 5_000 },
      ),
      (err: unknown) => isForbidden(err),
    );
    const evicted = await limited.evict({ namespace: NS, name: "whatever" });
    assert.equal(evicted.kind, "error");
    assert.ok(evicted.kind === "error" && isForbidden(evicted.error));
  });

  it("the dry-run decorator changes nothing in the cluster", async () => {
    const [node] = lab.nodes;
    assert.ok(node !== undefined);
    const [pod] = await readyPods(lab, "evictee", 2);
    assert.ok(pod !== undefined);
    const nodeBefore = await lab.getNode(node.name);
    const nodeState = (n: V1Node): unknown => ({
      unschedulable: n.spec?.unschedulable,
      taints: ownTaints(n),
      labels: n.metadata?.labels,
    });
    const replicasBefore = await replicasOf(lab, "scaled");
    const log = new RecordingLogger();
    const dry = withDryRun(actuator, log);
    const podRef = { namespace: NS, name: nameOf(pod) };

    await dry.cordon(node.name, CORDON);
    await dry.taintPreferNoSchedule(node.name, EVACUATING_TAINT_KEY);
    await dry.setDeletionCost(podRef, -5);
    await dry.changeSurgeLedger(
      { kind: "Deployment", namespace: NS, name: "scaled" },
      { kind: "surge", records: [{ evacuation: "evac-d", pods: ["p"] }], at: 6_000 },
    );
    await dry.evict(podRef);
    await dry.forceDelete(podRef);
    await dry.deletePod(podRef);

    assert.deepEqual(nodeState(await lab.getNode(node.name)), nodeState(nodeBefore));
    assert.equal(await replicasOf(lab, "scaled"), replicasBefore);
    const podAfter = await lab.core.readNamespacedPod({ name: nameOf(pod), namespace: NS });
    assert.equal(podAfter.metadata?.deletionTimestamp, undefined);
    assert.equal(podAfter.metadata?.annotations?.[POD_DELETION_COST_ANNOTATION], undefined);
    assert.equal(log.records.length, 7);
  });
});
