/**
 * The handler under test in the scale bench, started on the lab once every pod is Ready: `lifeboat run` with
 * the chart's heap flags (lab/harness/chart-heap.ts: its RSS as under the chart), or the real
 * aws-node-termination-handler; and what the bench reads of its process (/proc) and, for lifeboat, its
 * API requests (its own /metrics).
 */
import { readFileSync } from "node:fs";
import { chartNodeOptions } from "../../lab/harness/chart-heap.ts";
import { startController, type ControllerProcess } from "../../lab/harness/controller.ts";
import type { LabEnv } from "../../lab/harness/env.ts";
import { listEvacuations } from "../../lab/harness/evacuations.ts";
import { startHandler } from "../../lab/harness/handlers.ts";

export const BENCH_HANDLERS = ["lifeboat", "nth", "nth-tuned"] as const;
export type BenchHandler = (typeof BENCH_HANDLERS)[number];
export const isBenchHandler = (h: string): h is BenchHandler =>
  (BENCH_HANDLERS as readonly string[]).includes(h);

const CLOCK_TICKS = 100;

/** Peak RSS (MB) and CPU seconds of a live process, from /proc. */
export function procStats(pid: number): { rssPeakMb: number; rssMb: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string): number =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command (which may hold spaces) start after the last ')': utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpu = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  return { rssPeakMb: kb("VmHWM") / 1024, rssMb: kb("VmRSS") / 1024, cpuSeconds: cpu };
}

/** `lifeboat_kube_requests_total` summed by verb, from the controller's /metrics. */
async function requestsByVerb(controller: ControllerProcess): Promise<Map<string, number>> {
  const line = (await controller.logLines()).find((l) => l.msg.startsWith("serving /metrics"));
  const url = typeof line?.["address"] === "string" ? line["address"] : null;
  if (url === null) throw new Error("the controller logged no /metrics address");
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const l of text.split("\n")) {
    const m = /^lifeboat_kube_requests_total\{([^}]*)\} (\S+)$/.exec(l);
    if (m === null) continue;
    const verb = /verb="([^"]+)"/.exec(m[1] ?? "")?.[1] ?? "?";
    out.set(verb, (out.get(verb) ?? 0) + Number(m[2]));
  }
  return out;
}

/** The handler under test, started on the lab once every pod is Ready. */
export interface StartedHandler extends AsyncDisposable {
  pid: number;
  syncSeconds: number;
  /** lifeboat's API requests by verb (its /metrics); null for NTH (its Prometheus server is off by default). */
  requests(): Promise<Map<string, number> | null>;
  /** lifeboat: every reclaimed node's Evacuation is Done or Failed. NTH: nothing more to wait for. */
  finished(reclaimed: number): Promise<boolean>;
}

export async function startBenchHandler(
  handler: BenchHandler,
  env: LabEnv,
  nodes: number,
): Promise<StartedHandler> {
  const t = performance.now();
  if (handler === "lifeboat") {
    const controller = await startController({
      ...env.handlerContext(`controller-${nodes}.log`),
      // No managed headroom: the bench measures the evacuations, and a whole-node placeholder per node group
      // would only add a node and a Deployment to the lab (docs/design.md, "Capacity").
      extraArgs: ["--headroom-nodes", "0"],
      nodeOptions: chartNodeOptions(),
      startTimeoutMs: 600_000,
    });
    const pid = controller.pid;
    if (pid === undefined) throw new Error("the controller has no pid");
    return {
      pid,
      syncSeconds: (performance.now() - t) / 1000,
      requests: () => requestsByVerb(controller),
      finished: async (reclaimed) =>
        (await listEvacuations(env.lab)).filter(
          (e) => e.status?.phase === "Done" || e.status?.phase === "Failed",
        ).length >= reclaimed,
      [Symbol.asyncDispose]: () => controller.stop(),
    };
  }
  // The real aws-node-termination-handler, queue-processor mode, its chart's defaults (lab/handlers/nth.ts).
  const nth = await startHandler(handler, env.handlerContext(`${handler}-${nodes}.log`));
  if (nth.pid === undefined) throw new Error(`${handler} has no pid`);
  return {
    pid: nth.pid,
    syncSeconds: (performance.now() - t) / 1000,
    requests: () => Promise.resolve(null),
    finished: () => Promise.resolve(true),
    [Symbol.asyncDispose]: () => nth[Symbol.asyncDispose](),
  };
}
