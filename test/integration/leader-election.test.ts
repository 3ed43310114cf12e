/**
 * Leader election with two real `lifeboat run` processes: one leads (holds the Lease and consumes the
 * queue), the other stands by; when the leader dies without releasing the Lease, the standby takes over.
 * What the standby did is read from its /metrics: its Lease reads (one per election round), its leader
 * gauge and its reconcile count.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CoordinationV1Api } from "@kubernetes/client-node";
import { startController } from "../helpers/controller-process.ts";
import { startControllerLab } from "../helpers/lab-env.ts";
import { counter, waitForMore } from "../helpers/reconciles.ts";

const LEASE_DURATION_SECONDS = 3;
const RETRY_PERIOD_SECONDS = 0.5;
const ELECTION = [
  "--leader-elect=true",
  "--leader-election-namespace=default",
  "--lease-name=lifeboat-it",
  `--lease-duration-seconds=${LEASE_DURATION_SECONDS}`,
  "--renew-deadline-seconds=2",
  `--retry-period-seconds=${RETRY_PERIOD_SECONDS}`,
];
/**
 * Election rounds of the standby spanning twice the lease duration (each round reads the Lease, then waits
 * the retry period): a standby that ignored the leader's renewals would have taken the Lease by then.
 */
const STANDBY_ROUNDS = (2 * LEASE_DURATION_SECONDS) / RETRY_PERIOD_SECONDS;
const LEASE_READS = { verb: "get", resource: "leases" };

test("a standby takes over the Lease and the work when the leader dies", async () => {
  await using env = await startControllerLab({
    nodeGroups: [{ name: "spot-a", zone: "us-east-1a", count: 1 }],
  });
  const leases = env.lab.kubeConfig.makeApiClient(CoordinationV1Api);
  const holder = async (): Promise<string | undefined> =>
    (await leases.readNamespacedLease({ name: "lifeboat-it", namespace: "default" })).spec?.holderIdentity;

  const a = await startController({
    ...env.handlerContext("a.log"),
    extraArgs: [...ELECTION, "--identity=replica-a"],
  });
  assert.equal(await holder(), "replica-a", "the first replica leads");

  // The second replica resolves only once it consumes the queue, i.e. once it leads.
  const bContext = env.handlerContext("b.log");
  const bLeads = startController({
    ...bContext,
    extraArgs: [...ELECTION, "--identity=replica-b"],
    startTimeoutMs: 60_000,
  });
  let bLed = false;
  void bLeads.then(
    () => {
      bLed = true;
    },
    () => undefined,
  );
  const b = { logPath: bContext.logPath };
  await waitForMore(b, "lifeboat_kube_requests_total", LEASE_READS, STANDBY_ROUNDS);
  assert.equal(await holder(), "replica-a", "the leader kept the Lease through the standby's rounds");
  assert.equal(await counter(b, "lifeboat_leader"), 0, "the standby does not lead while the leader renews");
  assert.equal(await counter(b, "lifeboat_reconciles_total"), 0, "and runs no reconcile");
  assert.equal(bLed, false, "nor consumes the queue");

  await a.kill(); // SIGKILL: no release, the standby must wait out the lease
  const bLeading = await bLeads;
  try {
    assert.equal(await holder(), "replica-b", "the standby holds the Lease");
    assert.equal(await counter(bLeading, "lifeboat_leader"), 1, "and says so in its leader gauge");
    await waitForMore(bLeading, "lifeboat_reconciles_total", {}, 2, { alive: bLeading.assertRunning });
  } finally {
    await bLeading.stop();
  }
});
