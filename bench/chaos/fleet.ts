/**
 * The chaos bench's `lifeboat run` replicas: leader election on, each reaching kube-apiserver and moto through
 * the lab's fault proxies, with lease timings scaled like every lab timing. The leader is whoever holds the
 * Lease; a replica the bench kills is replaced by a new one.
 */
import { join } from "node:path";
import { CoordinationV1Api } from "@kubernetes/client-node";
import { spawnController, type ControllerProcess } from "../../lab/harness/controller.ts";
import { NS, REGION } from "../../lab/harness/env.ts";
import type { Lab } from "../../lab/lab.ts";

export const LEASE = "lifeboat-chaos";

export interface Replica {
  identity: string;
  process: ControllerProcess;
  /** Killed by the benchmark (not a crash). */
  killed: boolean;
}

/** How the replicas reach the lab: the fault proxies' addresses. */
export interface FleetContext {
  kubeconfigPath: string;
  queueUrl: string;
  awsEndpoint: string;
  logDir: string;
  timeScale: number;
}

export class Fleet {
  readonly replicas: Replica[] = [];
  readonly #ctx: FleetContext;
  readonly #leases: CoordinationV1Api;
  #serial = 0;

  constructor(ctx: FleetContext, lab: Lab) {
    this.#ctx = ctx;
    this.#leases = lab.kubeConfig.makeApiClient(CoordinationV1Api);
  }

  /**
   * Starts one more replica. It does not wait for leadership: a standby only syncs its informers.
   */
  add(): Replica {
    const identity = `replica-${++this.#serial}`;
    const r = { identity, process: startReplica(identity, this.#ctx), killed: false };
    this.replicas.push(r);
    return r;
  }

  /** The Lease's holder, if any. */
  async holder(): Promise<string | undefined> {
    return (
      (await this.#leases.readNamespacedLease({ name: LEASE, namespace: NS }).catch(() => null))?.spec
        ?.holderIdentity ?? undefined
    );
  }

  /** The live replica holding the Lease, if any. */
  async leader(): Promise<Replica | undefined> {
    const id = await this.holder();
    return this.replicas.find((r) => r.identity === id && r.process.running);
  }

  /** Whether a live replica other than `leader` has synced and stands by (logged "standby: ... holds the lease"). */
  async hasStandby(leader: string | undefined): Promise<boolean> {
    for (const r of this.replicas) {
      if (r.identity === leader || !r.process.running) continue;
      const lines = await r.process.logLines();
      if (lines.some((l) => typeof l.msg === "string" && l.msg.startsWith("standby:"))) return true;
    }
    return false;
  }

  /** Stops every replica still running. */
  async stop(): Promise<void> {
    for (const r of this.replicas) if (r.process.running) await r.process.stop();
  }
}

function startReplica(identity: string, ctx: FleetContext): ControllerProcess {
  const s = (x: number): string => String(Math.round(x * ctx.timeScale * 1000) / 1000);
  return spawnController({
    kubeconfigPath: ctx.kubeconfigPath,
    queueUrl: ctx.queueUrl,
    awsEndpoint: ctx.awsEndpoint,
    awsRegion: REGION,
    timeScale: ctx.timeScale,
    logPath: join(ctx.logDir, `${identity}.log`),
    workDir: ctx.logDir,
    extraArgs: [
      "--leader-elect=true",
      `--leader-election-namespace=${NS}`,
      `--lease-name=${LEASE}`,
      // The Lease stores whole seconds.
      `--lease-duration-seconds=${Math.max(2, Math.round(15 * ctx.timeScale))}`,
      `--renew-deadline-seconds=${s(10)}`,
      `--retry-period-seconds=${s(2)}`,
      `--identity=${identity}`,
      // Junk is deleted once counted (a production queue would rather redrive it to a dead-letter queue).
      "--malformed-message-policy=delete",
      "--unknown-message-policy=delete",
      "--foreign-instance-policy=delete",
      // Scaled like every lab timing: a message received by a leader that is then killed reappears after it.
      `--sqs-visibility-timeout-seconds=${Math.max(1, Math.round(15 * ctx.timeScale))}`,
    ],
  });
}

/** Where a replica serves /metrics (from its log line "serving /metrics..."). */
export async function metricsUrl(replica: Replica): Promise<string | null> {
  const line = (await replica.process.logLines()).find(
    (l) => typeof l.msg === "string" && l.msg.startsWith("serving /metrics"),
  );
  return typeof line?.["address"] === "string" ? line["address"] : null;
}

/** `lifeboat_notices_total` and `lifeboat_sqs_messages_total` by outcome, from one scrape. */
export async function scrapeOutcomes(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^lifeboat_(notices|sqs_messages)_total\{([^}]*)\} (\S+)$/.exec(line);
    if (m === null) continue;
    const outcome = /outcome="([^"]+)"/.exec(m[2] ?? "")?.[1] ?? "?";
    const key = `${m[1] === "notices" ? "notices" : "sqs"} ${outcome}`;
    out.set(key, (out.get(key) ?? 0) + Number(m[3]));
  }
  return out;
}
