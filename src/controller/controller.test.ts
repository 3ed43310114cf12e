import assert from "node:assert/strict";
import { test } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { loadConfig } from "../config/load.ts";
import { FakeClock } from "../domain/clock.ts";
import { silentLogger } from "../observability/logger.ts";
import { Metrics } from "../observability/metrics.ts";
import { Controller } from "./controller.ts";

/** A controller that is built but never started (nothing here connects to a cluster). */
async function leaderGauge(leaderElect: boolean): Promise<string | undefined> {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: "c", server: "https://127.0.0.1:1" }],
    users: [{ name: "u" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  const config = loadConfig({ leaderElect }, {}, { hostname: () => "host-a", randomSuffix: () => "abc" });
  const metrics = new Metrics();
  new Controller({ config, kubeConfig, clock: new FakeClock(), log: silentLogger(), metrics });
  return (await metrics.render()).split("\n").find((l) => l.startsWith("lifeboat_leader "));
}

test("without leader election lifeboat_leader is 1 (the replica acts); with it 0 until elected", async () => {
  assert.equal(await leaderGauge(false), "lifeboat_leader 1");
  assert.equal(await leaderGauge(true), "lifeboat_leader 0");
});
