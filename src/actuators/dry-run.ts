/**
 * Dry run as one decorator: every write is logged as "would ..." and answered with its success outcome
 * without touching the API. The executor runs unchanged on top of it; no method anywhere checks a dry-run flag.
 */
import { podKey, workloadKey } from "../domain/snapshot.ts";
import { planLedgerChange, type LedgerEntry } from "../domain/surge-ledger.ts";
import type { KubeActuator } from "./kube-actuator.ts";
import type { LifecycleActuatorLike } from "./aws/lifecycle.ts";
import type { LifecycleHookRef } from "../domain/notice.ts";
import type { EventSink } from "./ports.ts";

/** What the decorator needs from a logger (pino's call shape). */
export interface DryRunLogger {
  info(obj: Record<string, unknown>, msg: string): void;
}

export function withDryRun(_actuator: KubeActuator, log: DryRunLogger): KubeActuator {
  const would = (action: string, fields: Record<string, unknown>, subject: string): void => {
    log.info({ dryRun: true, action, ...fields }, `dry run: would ${action} ${subject}`);
  };
  /** The ledgers a real run would have written, per workload, kept in memory only. */
  const ledgers = new Map<string, LedgerEntry[]>();
  return {
    cordon: (node, options) => {
      would(
        "cordon",
        { node, ...options },
        `node ${node} (taint ${options.taintKey}:NoSchedule${options.excludeFromLb ? ", exclude from load balancers" : ""})`,
      );
      return Promise.resolve({ kind: "done", changed: true });
    },
    taintPreferNoSchedule: (node, taintKey) => {
      would("taint", { node, taintKey }, `node ${node} with ${taintKey}:PreferNoSchedule`);
      return Promise.resolve({ kind: "done", changed: true });
    },
    taintOutOfService: (node) => {
      would(
        "taint-out-of-service",
        { node },
        `node ${node} with node.kubernetes.io/out-of-service:NoExecute`,
      );
      return Promise.resolve({ kind: "done", changed: true });
    },
    uncordon: (node, taintKey) => {
      would("uncordon", { node, taintKey }, `node ${node}`);
      return Promise.resolve({ kind: "done", changed: true });
    },
    removeNodeAnnotation: (node, key, value) => {
      would("remove-annotation", { node, key, value }, `annotation ${key}=${value} from node ${node}`);
      return Promise.resolve({ kind: "done", changed: true });
    },
    setDeletionCost: (pod, cost) => {
      would("set-deletion-cost", { pod: podKey(pod), cost }, `pod ${podKey(pod)} pod-deletion-cost=${cost}`);
      return Promise.resolve({ kind: "patched" });
    },
    changeSurgeLedger: (workload, change) => {
      const key = workloadKey(workload);
      const plan = planLedgerChange(ledgers.get(key) ?? [], change);
      ledgers.set(key, plan.entries);
      would(
        change.kind,
        { workload: key, by: plan.delta },
        `${key} by ${plan.delta > 0 ? "+" : ""}${plan.delta} (ledger kept in memory)`,
      );
      return Promise.resolve({
        kind: "applied",
        delta: plan.delta,
        replicas: null,
        clamped: false,
        attempts: 0,
        touched: plan.touched,
        unknown: plan.unknown,
      });
    },
    evict: (pod) => {
      would("evict", { pod: podKey(pod) }, `pod ${podKey(pod)}`);
      return Promise.resolve({ kind: "evicted" });
    },
    forceDelete: (pod) => {
      would("force-delete", { pod: podKey(pod) }, `pod ${podKey(pod)} (grace period 0)`);
      return Promise.resolve({ kind: "deleted" });
    },
    deletePod: (pod) => {
      would("delete", { pod: podKey(pod) }, `pod ${podKey(pod)}`);
      return Promise.resolve({ kind: "deleted" });
    },
  };
}

/** ASG lifecycle calls in a dry run: logged as "would heartbeat" / "would complete", never sent. */
export function withDryRunLifecycle(log: DryRunLogger): LifecycleActuatorLike {
  const hookOf = (hook: LifecycleHookRef): string =>
    `${hook.autoScalingGroupName}/${hook.lifecycleHookName} (instance ${hook.instanceId})`;
  return {
    heartbeat: (hook) => {
      log.info(
        { dryRun: true, action: "asg-heartbeat" },
        `dry run: would heartbeat lifecycle hook ${hookOf(hook)}`,
      );
      return Promise.resolve({ kind: "done" });
    },
    complete: (hook, result) => {
      log.info(
        { dryRun: true, action: "asg-complete", result },
        `dry run: would complete lifecycle action ${hookOf(hook)} with ${result}`,
      );
      return Promise.resolve({ kind: "done" });
    },
  };
}

/** Events in a dry run: every Event becomes a Normal `DryRun` Event saying what a real run would have done. */
export function withDryRunEvents<S extends EventSink>(sink: S): S {
  return new Proxy(sink, {
    get(t, prop, receiver) {
      if (prop !== "emit") return Reflect.get(t, prop, receiver) as unknown;
      return (event: Parameters<EventSink["emit"]>[0]): void => {
        t.emit({
          ...event,
          type: "Normal",
          reason: "DryRun",
          message: `dry run, nothing was changed: would ${event.reason}: ${event.message}`.slice(0, 1024),
        });
      };
    },
  });
}
