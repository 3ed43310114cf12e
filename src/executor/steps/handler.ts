/**
 * One handler per step kind: how the executor carries out a step, the metric label its call counts under and
 * the object an Event about its failure is written on. The table of handlers (./index.ts) is typed
 * `{ [K in StepKind]: StepHandler<K> }`, so a step kind without a handler does not compile.
 */
import type { EarlyNodeActuatorLike } from "../../actuators/aws/early-node.ts";
import type { LifecycleActuatorLike } from "../../actuators/aws/lifecycle.ts";
import type { KubeActuator } from "../../actuators/kube-actuator.ts";
import type { Evacuation, StoredEvacuation } from "../../domain/evacuation.ts";
import type { StepKind, StepOf } from "../../domain/plan.ts";
import type { PodRef, WorkloadRef } from "../../domain/snapshot.ts";
import type { LedgerEntry } from "../../domain/surge-ledger.ts";
import type { ActuatorAction } from "../../observability/metrics.ts";
import type { Announcer, EventObject } from "../events.ts";

export interface StepHandler<K extends StepKind> {
  /** The metric label of the call the step makes (lifeboat_actuator_errors_total{action} when it fails). */
  readonly action: ActuatorAction;
  /** What an ActionFailed Event about the step is written on. */
  object(step: StepOf<K>): EventObject;
  /**
   * Carries out the step; returns the evacuations whose record changed (the reconciler writes their status).
   * Throws when the step failed: the reconciler counts and reports it, and the next plan retries it.
   */
  run(step: StepOf<K>, ctx: StepContext): Promise<string[]>;
}

export type StepHandlers = { readonly [K in StepKind]: StepHandler<K> };

/**
 * What a handler works with: the actuators, the ports of ./events.ts (announce(ctx, ...)), and the
 * reconcile's records of the evacuations, which only the reconciler writes to the cluster.
 */
export interface StepContext extends Announcer {
  readonly actuator: KubeActuator;
  readonly lifecycle: LifecycleActuatorLike | null;
  /** `--early-node`: raises the doomed node's Auto Scaling group; null when off. */
  readonly earlyNode: EarlyNodeActuatorLike | null;
  /** Taint key added with the cordon (NoSchedule) and for taint-only (PreferNoSchedule). */
  readonly taintKey: string;
  /** Label exclude-from-external-load-balancers with the cordon. */
  readonly excludeFromLb: boolean;
  /** When the step started. */
  readonly now: number;
  /** The evacuation `name` as this reconcile knows it; throws when the plan names an unknown one. */
  stored(name: string): StoredEvacuation;
  /** Records a change to evacuation `name` (written after the step, re-applied after a conflicting write). */
  update(name: string, fn: (e: Evacuation) => Evacuation, message: string): void;
  /** Brings the surge records named in `entries` in line with the workload's ledger; returns those changed. */
  syncWithLedger(workload: WorkloadRef, entries: readonly LedgerEntry[], message: string): string[];
  /** The kind of the pod's owner (pods_moved_total{workload_kind}); "Other" when it has none. */
  ownerKind(pod: PodRef): string;
  /**
   * True the first time `key` is asked for in this process: the planner repeats its warnings in every plan,
   * and operators want each once.
   */
  firstTime(key: string): boolean;
  /** Deletes the Evacuation resource `name` (its time to live after finishing is over). */
  forget(name: string): Promise<void>;
}

export function secondsBetween(from: number, to: number): number {
  return Math.max(0, (to - from) / 1000);
}
