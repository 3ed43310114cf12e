/**
 * Leader election with two real `lifeboat run` processes: one leads (holds the Lease and consumes the
 * queue), the other stands by; when the leader dies without releasing the Lease, the standby takes over.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CoordinationV1Api } from "@kubernetes/client-node";
import { startController } from "../helpers/controller-process.ts";
import { startControllerLab } from "../helpers/lab-env.ts";

const ELECTION = [
  "--leader-elect=true",
  "--leader-election-namespace=default",
  "--lease-name=lifeboat-it",
  "--lease-duration-seconds=3",
  "--renew-deadline-seconds=2",
  "--retry-period-seconds=0.5",
];

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
  const bLeads = startController({
    ...env.handlerContext("b.log"),
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
  await new Promise((r) => setTimeout(r, 4_000));
  assert.equal(bLed, false, "the standby does not lead while the leader renews");
  assert.equal(await holder(), "replica-a");

  await a.kill(); // SIGKILL: no release, the standby must wait out the lease
  const b = await bLeads;
  try {
    assert.equal(await holder(), "replica-b", "the standby holds the Lease");
    const lines = await b.logLines();
    assert.ok(
      lines.some((l) => typeof l.msg === "string" && l.msg.startsWith("became leader")),
      "and says so in its log",
    );
  } finally {
    await b.stop();
  }
});
