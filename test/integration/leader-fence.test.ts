/**
 * A leader that cannot renew its Lease stops writing before the Lease expires (issue 7 item 3), against the
 * real API server through the lab's fault proxy: replica A's cordon is slow (in flight for 6 s) and every
 * Lease renewal of A fails meanwhile; when the cordon returns, A must not go on to surge. The standby B
 * takes over once the Lease expires and finishes the evacuation: one surge, replicas back, and no write of
 * A reaches the API server after its renew deadline passed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CoordinationV1Api } from "@kubernetes/client-node";
import { startKubeFaultProxy } from "../../lab/faults/kube.ts";
import { startController } from "../helpers/controller-process.ts";
import {
  deploymentReplicas,
  nodesHolding,
  NS,
  readyPodCount,
  startControllerLab,
} from "../helpers/lab-env.ts";
import { Sampler, waitFor, waitUntil } from "../helpers/wait.ts";
import { fastDeployment } from "../helpers/workloads.ts";

const LEASE = "lifeboat-fence";
const RENEW_DEADLINE_MS = 2_000;
const ELECTION = [
  "--leader-elect=true",
  "--leader-election-namespace=default",
  `--lease-name=${LEASE}`,
  "--lease-duration-seconds=4",
  `--renew-deadline-seconds=${RENEW_DEADLINE_MS / 1000}`,
  "--retry-period-seconds=0.5",
];
const WRITES = new Set(["create", "update", "patch", "delete"]);

test(
  "a leader whose renewals fail stops writing at its renew deadline, work in flight included; the standby finishes",
  { timeout: 180_000 },
  async () => {
    await using env = await startControllerLab({
      timeScale: 0.2,
      nodeGroups: [{ name: "fence", zone: "us-east-1a", count: 4 }],
    });
    await using faults = await startKubeFaultProxy(env.lab.controlPlane);
    const { proxy } = faults;
    await env.lab.apps.createNamespacedDeployment({
      namespace: NS,
      body: fastDeployment({ name: "fence", replicas: 3, nodeGroup: "fence", readyAfterSeconds: 1 }),
    });
    await waitUntil("3 Ready pods", async () => (await readyPodCount(env.lab, "fence")) === 3, {
      timeoutMs: 60_000,
    });
    const [node] = await nodesHolding(env.lab, "fence");
    assert.ok(node !== undefined);

    let cordonArrivedAt = 0;
    proxy.onRequest((info) => {
      if (
        cordonArrivedAt !== 0 ||
        info.verb !== "patch" ||
        info.resource !== "nodes" ||
        info.name !== node.name
      )
        return;
      cordonArrivedAt = Date.now();
      // This cordon is in flight for 6 s, and from now on every renewal of A's Lease fails.
      proxy.inject({
        match: { verb: "patch", resource: "nodes" },
        fault: { kind: "delay", ms: 6_000 },
        times: 1,
      });
      proxy.inject({ match: { verb: "update", resource: "leases" }, fault: { kind: "status", status: 500 } });
    });

    await using replicas = new Sampler(() => deploymentReplicas(env.lab, "fence"), 100);
    // A is read through the proxy it talks to (every request it made, and when).
    await using _a = await startController({
      ...env.handlerContext("a.log"),
      kubeconfigPath: faults.kubeconfigPath,
      extraArgs: [...ELECTION, "--identity=replica-a"],
    });
    const bLeads = startController({
      ...env.handlerContext("b.log"),
      extraArgs: [...ELECTION, "--identity=replica-b"],
      startTimeoutMs: 90_000,
    });
    await env.sendSpotWarning(node);
    await using b = await bLeads;
    await waitFor(
      "the Evacuation Done (by B)",
      async () => ((await env.evacuationsOf(node.name))[0]?.status?.phase === "Done" ? true : undefined),
      { timeoutMs: 90_000, alive: b.assertRunning },
    );
    await waitUntil(
      "spec.replicas back to 3",
      async () => (await deploymentReplicas(env.lab, "fence")) === 3,
    );
    const seen = await replicas.stop();

    const lease = await env.lab.kubeConfig
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: LEASE, namespace: "default" });
    assert.equal(lease.spec?.holderIdentity, "replica-b");
    const bAcquiredAt = new Date(lease.spec?.acquireTime ?? 0).getTime();
    const lastRenewal = Math.max(
      ...proxy.requests
        .filter(
          (r) =>
            r.resource === "leases" &&
            // a renewal, or the acquisition itself when the notice came before A's first renewal
            (r.verb === "update" || r.verb === "create") &&
            (r.status === 200 || r.status === 201),
        )
        .map((r) => r.at),
    );
    const aWrites = proxy.requests.filter(
      (r) => WRITES.has(r.verb) && r.resource !== "leases" && r.resource !== "events",
    );
    assert.ok(Number.isFinite(lastRenewal), "A acquired its Lease through the proxy");
    assert.ok(cordonArrivedAt > 0, "A started the cordon");
    const late = aWrites.filter((r) => r.at > lastRenewal + RENEW_DEADLINE_MS || r.at >= bAcquiredAt);
    assert.deepEqual(
      late.map((r) => `${r.verb} ${r.resource} ${r.name ?? ""}`),
      [],
      "A wrote nothing after its renew deadline",
    );
    assert.ok(lastRenewal + RENEW_DEADLINE_MS < bAcquiredAt, "A's deadline passed before B took over");
    assert.equal(Math.max(...seen), 4, "one surge");
    assert.equal(Math.min(...seen), 3);
    assert.deepEqual(
      aWrites.filter((r) => r.resource.startsWith("deployments") && r.name === "fence"),
      [],
      "A did not surge (no write of A's reached the Deployment)",
    );
  },
);
