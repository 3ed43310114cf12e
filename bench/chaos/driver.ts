/**
 * The chaos in the chaos bench: the leader SIGKILLed at seeded moments (a standby takes over and a new
 * standby starts), kube-apiserver unreachable for 20 scenario seconds 10 s after a notice in the first third
 * of the reclaims, moto unreachable for 30 scenario seconds 10 s after a notice in the second third.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { FaultProxy } from "../../lab/faults/proxy.ts";
import type { KubeFaultProxy } from "../../lab/faults/kube.ts";
import type { ScenarioClock } from "../../lab/harness/cloud.ts";
import type { Fleet } from "./fleet.ts";
import type { Random } from "./random.ts";

export interface ChaosStep {
  /** Scenario second. */
  at: number;
  what: "kill" | "api" | "moto";
}

/** The reclaims' schedule: the first notice at `first`, one every `every` scenario seconds, `count` in all. */
export interface ReclaimSchedule {
  first: number;
  every: number;
  count: number;
}

/** When each fault happens, in order; the kill times are drawn from `rng`. */
export function chaosPlan(rng: Random, reclaims: ReclaimSchedule): ChaosStep[] {
  const lastNotice = reclaims.first + (reclaims.count - 1) * reclaims.every;
  const kills: number[] = [];
  for (let t = 30 + rng.next() * 30; t < lastNotice + 60; t += 15 + rng.next() * 40) kills.push(t);
  const apiOutageAt = reclaims.first + Math.floor(reclaims.count / 3) * reclaims.every + 10;
  const motoOutageAt = reclaims.first + Math.floor((2 * reclaims.count) / 3) * reclaims.every + 10;
  return [
    ...kills.map((at) => ({ at, what: "kill" as const })),
    { at: apiOutageAt, what: "api" as const },
    { at: motoOutageAt, what: "moto" as const },
  ].sort((a, b) => a.at - b.at);
}

export interface ChaosTargets {
  clock: ScenarioClock;
  timeScale: number;
  fleet: Fleet;
  apiFaults: KubeFaultProxy;
  awsFaults: FaultProxy;
  log: (line: string) => void;
}

/** Plays the plan on the scenario's clock; returns what happened, one line a step. */
export async function runChaos(plan: readonly ChaosStep[], t: ChaosTargets): Promise<string[]> {
  const chaosLog: string[] = [];
  const at = (): string => `t=${t.clock.now().toFixed(0)} s`;
  for (const step of plan) {
    const wait = (step.at - t.clock.now()) * t.timeScale * 1000;
    if (wait > 0) await sleep(wait);
    if (step.what === "api") {
      t.apiFaults.proxy.unreachable(20_000 * t.timeScale);
      chaosLog.push(`${at()} kube-apiserver unreachable for 20 s`);
    } else if (step.what === "moto") {
      t.awsFaults.unreachable(30_000 * t.timeScale);
      chaosLog.push(`${at()} moto unreachable for 30 s`);
    } else {
      const kill = await killLeader(t.fleet);
      chaosLog.push(`${at()} ${kill.line}`);
      // A kill that found no leader is in the figures' chaos row only.
      if (!kill.killed) continue;
    }
    t.log(chaosLog.at(-1) ?? "");
  }
  return chaosLog;
}

/**
 * "With a standby running": kills the leader only once another replica has synced and watches the Lease (a
 * replica takes seconds to start, longer on a loaded machine; killing before would leave none), then starts a
 * new replica.
 */
async function killLeader(fleet: Fleet): Promise<{ line: string; killed: boolean }> {
  const standbyBy = performance.now() + 120_000;
  let id = await fleet.holder();
  while (performance.now() < standbyBy && !(await fleet.hasStandby(id))) {
    await sleep(250);
    id = await fleet.holder();
  }
  const leader = fleet.replicas.find((r) => r.identity === id && r.process.running);
  if (leader === undefined)
    return { line: `no live leader to kill (lease holder ${id ?? "none"})`, killed: false };
  leader.killed = true;
  await leader.process.kill();
  const started = fleet.add();
  return { line: `SIGKILL leader ${leader.identity}; started ${started.identity}`, killed: true };
}
