/**
 * The `drain` handler: what aws-node-termination-handler (NTH) does in queue-processor mode with its defaults, so
 * the lab can measure it beside `none` and `lifeboat`.
 *
 * - Long-polls SQS (WaitTimeSeconds 20, up to 10 messages), a new poll every 2 s; every message is handled
 *   concurrently (NTH runs a worker per interruption event).
 * - `EC2 Spot Instance Interruption Warning` and `EC2 Instance State-change Notification` (stopping, stopped,
 *   shutting-down, terminated): find the node by spec.providerID, cordon it, then drain it like `kubectl drain`:
 *   every pod except DaemonSet and mirror pods is evicted through the Eviction API at once; a 429 (a PDB says
 *   no) is retried every 5 s; then it waits for the pods to be gone; the whole drain gives up after the node
 *   termination grace period (120 s). The message is deleted after a successful drain (NTH's post-drain task);
 *   after a failed one it is left to come back after its visibility timeout.
 * - `EC2 Instance Rebalance Recommendation`: cordon only (NTH's enableRebalanceDraining defaults to false).
 * - No taints, no `node.kubernetes.io/exclude-from-external-load-balancers` label (both off by default in NTH).
 * - Messages about an instance that is not a node of this cluster, and kinds it does not handle, are deleted.
 *
 * Not emulated: NTH's check of the ASG tag `aws-node-termination-handler/managed` through EC2 DescribeInstances
 * (the lab has no EC2 instances; every node counts as managed), webhooks, and ASG lifecycle hooks.
 *
 * Every duration is multiplied by `timeScale`, as the lab's other timings are.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { V1Node, V1Pod } from "@kubernetes/client-node";
import { z } from "zod";

/** One structured log line. */
export type DrainLog = (
  level: "info" | "warn" | "error",
  msg: string,
  fields?: Record<string, unknown>,
) => void;

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

export type EvictionResult =
  /** Accepted: the pod is terminating. */
  | { kind: "evicted" }
  /** 429: a PodDisruptionBudget does not allow it now. */
  | { kind: "blocked"; message: string }
  /** 404: the pod is already gone. */
  | { kind: "gone" };

/** The Kubernetes calls the handler makes (see `kubeForDrain` in ./drain-kube.ts). */
export interface DrainKube {
  listNodes(): Promise<V1Node[]>;
  cordon(nodeName: string): Promise<void>;
  podsOnNode(nodeName: string): Promise<V1Pod[]>;
  evict(pod: PodRef): Promise<EvictionResult>;
  /** Whether this pod (same uid) still exists. */
  podExists(pod: PodRef): Promise<boolean>;
}

export interface QueueMessage {
  body: string;
  receiptHandle: string;
}

export interface DrainQueue {
  /** One long poll; resolves with up to 10 messages (possibly none). */
  receive(signal: AbortSignal): Promise<QueueMessage[]>;
  delete(receiptHandle: string): Promise<void>;
}

export interface DrainSettings {
  /** Pause between polls. NTH: 2 s. */
  pollSeconds: number;
  /** The whole drain's timeout. NTH: node termination grace 120 s. */
  nodeTerminationGraceSeconds: number;
  /** Retry of an eviction refused with 429. kubectl drain: 5 s. */
  evictionRetrySeconds: number;
  /** Poll for evicted pods to be gone. kubectl drain: 1 s. */
  deletePollSeconds: number;
  /** Real seconds per lab second. */
  timeScale: number;
}

export const NTH_DEFAULTS: DrainSettings = {
  pollSeconds: 2,
  nodeTerminationGraceSeconds: 120,
  evictionRetrySeconds: 5,
  deletePollSeconds: 1,
  timeScale: 1,
};

/** What a message asks for, with the reason in words. */
export type Interruption =
  | { action: "drain" | "cordon"; instanceId: string; eventId: string; reason: string }
  | { action: "ignore"; reason: string };

const envelope = z.object({
  version: z.literal("0"),
  id: z.string(),
  "detail-type": z.string(),
  source: z.string(),
  detail: z.record(z.string(), z.unknown()),
});
const instanceDetail = z.object({ "instance-id": z.string().regex(/^i-[0-9a-f]+$/) });
const LEAVING = new Set(["stopping", "stopped", "shutting-down", "terminated"]);

/** Classifies one SQS message body the way NTH's SQS monitor does. Never throws. */
export function classify(body: string): Interruption {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { action: "ignore", reason: "body is not JSON" };
  }
  const e = envelope.safeParse(json);
  if (!e.success) return { action: "ignore", reason: "not an EventBridge event" };
  const event = e.data;
  const detail = instanceDetail.safeParse(event.detail);
  if (event.source !== "aws.ec2" || !detail.success) {
    return { action: "ignore", reason: `${event.source} "${event["detail-type"]}" is not handled` };
  }
  const instanceId = detail.data["instance-id"];
  switch (event["detail-type"]) {
    case "EC2 Spot Instance Interruption Warning":
      return {
        action: "drain",
        instanceId,
        eventId: event.id,
        reason: "spot interruption warning: cordon and drain",
      };
    case "EC2 Instance State-change Notification": {
      const state = typeof event.detail["state"] === "string" ? event.detail["state"] : "";
      if (!LEAVING.has(state))
        return {
          action: "ignore",
          reason: `instance ${instanceId} entered state ${state}, which does not take it away`,
        };
      return {
        action: "drain",
        instanceId,
        eventId: event.id,
        reason: `instance ${state}: cordon and drain`,
      };
    }
    case "EC2 Instance Rebalance Recommendation":
      return {
        action: "cordon",
        instanceId,
        eventId: event.id,
        reason: "rebalance recommendation: cordon only (enableRebalanceDraining is off by default)",
      };
    default:
      return { action: "ignore", reason: `aws.ec2 "${event["detail-type"]}" is not handled` };
  }
}

/** kubectl drain's filter: DaemonSet pods and mirror (static) pods stay. Returns the reason to skip, or null. */
export function skipReason(pod: V1Pod): string | null {
  if (pod.metadata?.annotations?.["kubernetes.io/config.mirror"] !== undefined) return "mirror pod";
  if (pod.metadata?.ownerReferences?.some((o) => o.kind === "DaemonSet" && o.controller === true))
    return "DaemonSet pod";
  return null;
}

export type DrainOutcome =
  | { kind: "drained"; evicted: number; seconds: number }
  | { kind: "timeout"; remaining: string[]; seconds: number }
  | { kind: "failed"; errors: string[]; seconds: number };

export class DrainHandler {
  readonly #kube: DrainKube;
  readonly #queue: DrainQueue;
  readonly #log: DrainLog;
  readonly #s: DrainSettings;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(opts: {
    kube: DrainKube;
    queue: DrainQueue;
    log: DrainLog;
    settings?: Partial<DrainSettings>;
  }) {
    this.#kube = opts.kube;
    this.#queue = opts.queue;
    this.#log = opts.log;
    this.#s = { ...NTH_DEFAULTS, ...opts.settings };
  }

  #ms(seconds: number): number {
    return seconds * this.#s.timeScale * 1000;
  }

  /** Polls until `signal` aborts, then waits for the drains in flight to finish. */
  async run(signal: AbortSignal): Promise<void> {
    this.#log("info", "drain handler started", { settings: this.#s });
    while (!signal.aborted) {
      let messages: QueueMessage[] = [];
      try {
        messages = await this.#queue.receive(signal);
      } catch (err) {
        if (signal.aborted) break;
        this.#log("error", "receive failed", { error: errorText(err) });
      }
      for (const m of messages) this.#track(this.handleMessage(m, signal));
      await sleep(this.#ms(this.#s.pollSeconds), undefined, { signal }).catch(() => undefined);
    }
    await Promise.allSettled([...this.#inFlight]);
    this.#log("info", "drain handler stopped");
  }

  #track(p: Promise<void>): void {
    const tracked = p.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }

  /** Handles one message; never throws (failures are logged and leave the message in the queue). */
  async handleMessage(m: QueueMessage, signal?: AbortSignal): Promise<void> {
    const what = classify(m.body);
    try {
      if (what.action === "ignore") {
        this.#log("info", "message ignored", { reason: what.reason });
        await this.#queue.delete(m.receiptHandle);
        return;
      }
      const node = await this.#findNode(what.instanceId);
      if (node === null) {
        this.#log("info", "instance is not a node of this cluster: message dropped", {
          instanceId: what.instanceId,
          eventId: what.eventId,
        });
        await this.#queue.delete(m.receiptHandle);
        return;
      }
      this.#log("info", "interruption received", {
        node,
        instanceId: what.instanceId,
        eventId: what.eventId,
        action: what.action,
        reason: what.reason,
      });
      await this.#kube.cordon(node);
      this.#log("info", "node cordoned", { node });
      if (what.action === "cordon") {
        await this.#queue.delete(m.receiptHandle);
        return;
      }
      const outcome = await this.drain(node, signal);
      if (outcome.kind === "drained") {
        this.#log("info", "node drained", { node, ...outcome });
        await this.#queue.delete(m.receiptHandle);
        this.#log("info", "message deleted", { eventId: what.eventId });
      } else {
        this.#log("error", "drain did not complete: message left for redelivery", { node, ...outcome });
      }
    } catch (err) {
      this.#log("error", "handling failed: message left for redelivery", {
        error: errorText(err),
        reason: what.reason,
      });
    }
  }

  async #findNode(instanceId: string): Promise<string | null> {
    const nodes = await this.#kube.listNodes();
    const node = nodes.find((n) => n.spec?.providerID?.endsWith(`/${instanceId}`) === true);
    return node?.metadata?.name ?? null;
  }

  /** kubectl drain with NTH's timeout: evict everything at once, retry 429s, wait for the pods to be gone. */
  async drain(node: string, signal?: AbortSignal): Promise<DrainOutcome> {
    const started = performance.now();
    const deadline = started + this.#ms(this.#s.nodeTerminationGraceSeconds);
    const seconds = (): number => Math.round((performance.now() - started) / this.#s.timeScale) / 1000;
    const pods: PodRef[] = [];
    for (const pod of await this.#kube.podsOnNode(node)) {
      const ref = refOf(pod);
      const skip = skipReason(pod);
      if (skip !== null) {
        this.#log("info", "pod skipped", { node, pod: `${ref.namespace}/${ref.name}`, reason: skip });
        continue;
      }
      pods.push(ref);
    }
    this.#log("info", "evicting pods", { node, pods: pods.map((p) => `${p.namespace}/${p.name}`) });
    const results = await Promise.all(pods.map((p) => this.#evictUntilAccepted(node, p, deadline, signal)));
    const errors = results.filter((r): r is string => r !== null && r !== "timeout");
    if (errors.length > 0) return { kind: "failed", errors, seconds: seconds() };
    // Wait for every pod to be gone (or replaced by a new pod of the same name).
    let remaining = pods;
    for (;;) {
      const exists = await Promise.all(remaining.map((p) => this.#kube.podExists(p)));
      remaining = remaining.filter((_, i) => exists[i] === true);
      if (remaining.length === 0) return { kind: "drained", evicted: pods.length, seconds: seconds() };
      if (performance.now() >= deadline || signal?.aborted === true) {
        return {
          kind: "timeout",
          remaining: remaining.map((p) => `${p.namespace}/${p.name}`),
          seconds: seconds(),
        };
      }
      await sleep(
        Math.min(this.#ms(this.#s.deletePollSeconds), Math.max(0, deadline - performance.now())),
        undefined,
        signal === undefined ? {} : { signal },
      ).catch(() => undefined);
    }
  }

  /** Returns null when accepted (or gone), "timeout" when 429s lasted until the deadline, else the error. */
  async #evictUntilAccepted(
    node: string,
    pod: PodRef,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<string | null> {
    const name = `${pod.namespace}/${pod.name}`;
    for (;;) {
      let result: EvictionResult;
      try {
        result = await this.#kube.evict(pod);
      } catch (err) {
        this.#log("error", "eviction failed", { node, pod: name, error: errorText(err) });
        return `${name}: ${errorText(err)}`;
      }
      if (result.kind !== "blocked") {
        this.#log("info", result.kind === "evicted" ? "pod evicted" : "pod already gone", {
          node,
          pod: name,
        });
        return null;
      }
      const retryAt = performance.now() + this.#ms(this.#s.evictionRetrySeconds);
      if (retryAt >= deadline || signal?.aborted === true) {
        this.#log("warn", "eviction still blocked at the drain timeout", {
          node,
          pod: name,
          message: result.message,
        });
        return "timeout";
      }
      this.#log("warn", "eviction blocked: retrying", {
        node,
        pod: name,
        message: result.message,
        retryInSeconds: this.#s.evictionRetrySeconds,
      });
      await sleep(
        this.#ms(this.#s.evictionRetrySeconds),
        undefined,
        signal === undefined ? {} : { signal },
      ).catch(() => undefined);
    }
  }
}

function refOf(pod: V1Pod): PodRef {
  return {
    namespace: pod.metadata?.namespace ?? "default",
    name: pod.metadata?.name ?? "",
    uid: pod.metadata?.uid ?? "",
  };
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** JSON lines to a stream: `{"time":..., "level":..., "msg":..., ...fields}`. */
export function jsonLinesLog(
  out: { write(s: string): unknown },
  base: Record<string, unknown> = {},
): DrainLog {
  return (level, msg, fields = {}) => {
    out.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields })}\n`);
  };
}
