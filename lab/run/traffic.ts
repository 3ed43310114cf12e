/**
 * From time zero to the end of a run: the cloud's and other parties' events play while the load generator
 * sends the scenario's traffic through the ALB and the observer samples the cluster.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { errorMessage } from "../../common/error-message.ts";
import type { Alb } from "../alb/alb.ts";
import type { CloudSimulator } from "../cloud/cloud.ts";
import { runLoad, type ResponseRecord } from "../loadgen/loadgen.ts";
import { formatProgress } from "../report/summary.ts";
import type { ScenarioClock } from "../harness/cloud.ts";
import type { HandlerRun } from "./handler-run.ts";
import type { ClusterObserver } from "./observer.ts";
import type { WorkloadEvents } from "./workload-events.ts";

/**
 * Client connections of the load generator. Open loop means a stuck request never delays the next one: at
 * 40 rps with requests hanging up to the ALB's 60 s idle timeout on a dead target, a few hundred can be
 * outstanding at once, and a small pool would queue the rest behind them (and hide the errors).
 */
const LOAD_CONNECTIONS = 2048;

/** Every response (scenario second it was sent, status) and the count of errors and 5xx. */
export interface Traffic {
  responses: { at: number; status: number | "error" }[];
  errors: number;
}

export interface TrafficParts {
  alb: Alb;
  observer: ClusterObserver;
  cloud: CloudSimulator;
  workloadEvents: WorkloadEvents;
  clock: ScenarioClock;
}

/** Starts the events and the traffic at time zero; resolves once the traffic and every event are over. */
export async function driveTraffic(run: HandlerRun, parts: TrafficParts): Promise<Traffic> {
  const { observer, cloud, workloadEvents } = parts;
  const traffic: Traffic = { responses: [], errors: 0 };
  const stopSampling = new AbortController();
  const sampling = sample(run, parts, traffic, stopSampling.signal);
  await observer.sample();
  cloud.start();
  workloadEvents.start();
  await Promise.all(loads(run, parts, traffic));
  await cloud.settled().catch((err: unknown) => {
    run.progress(`[${run.handler}] cloud simulator: ${errorMessage(err)}`);
  });
  await cloud.stop();
  await workloadEvents.settled();
  for (const err of workloadEvents.errors) run.progress(`[${run.handler}] workload event failed: ${err}`);
  stopSampling.abort();
  await sampling;
  return traffic;
}

/** Samples the cluster every 200 ms until `signal`, with a progress line every 10 scenario seconds. */
async function sample(
  run: HandlerRun,
  { observer, clock }: TrafficParts,
  traffic: Traffic,
  signal: AbortSignal,
): Promise<void> {
  let lastProgress = 0;
  while (!signal.aborted) {
    await observer.sample().catch(() => undefined);
    const t = clock.now();
    if (t - lastProgress >= 10) {
      lastProgress = t;
      run.progress(
        formatProgress({
          handler: run.handler,
          elapsed: t,
          total: run.scenario.traffic.durationSeconds,
          rps: run.scenario.traffic.rps,
          errors: traffic.errors,
        }),
      );
    }
    await sleep(200);
  }
}

/** One load generator per workload, the scenario's rps shared among them. */
function loads(run: HandlerRun, { alb, clock }: TrafficParts, traffic: Traffic): Promise<unknown>[] {
  const { scenario, timeScale } = run;
  return scenario.workloads.map((w) =>
    runLoad({
      url: `${alb.url}/`,
      rps: scenario.traffic.rps / scenario.workloads.length,
      durationSeconds: scenario.traffic.durationSeconds,
      timeScale,
      headers: { host: `${w.name}.lab` },
      // Many independent clients: requests stuck on a dead target must not hold back everyone else's.
      connections: LOAD_CONNECTIONS,
      onRecord: (r: ResponseRecord) => {
        const status = r.status === 0 ? "error" : r.status;
        if (status === "error" || status >= 500) traffic.errors++;
        traffic.responses.push({ at: Math.max(0, (r.at - clock.wall0) / 1000 / timeScale), status });
      },
    }),
  );
}
