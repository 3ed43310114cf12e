/**
 * Turns a notice into a durable Evacuation. `handle` resolves only once the evacuation is persisted in the
 * cluster, which is what lets the SQS consumer delete the message afterwards (never before).
 */
import type { Clock } from "../domain/clock.ts";
import { isActive } from "../domain/evacuation.ts";
import type { Notice } from "../domain/notice.ts";
import type { NodeView } from "../domain/snapshot.ts";
import { foldNotice, type FoldPolicy } from "../planner/fold-notice.ts";
import type { ClusterView, EventSink, ExecutorLogger } from "../actuators/ports.ts";
import type { Metrics } from "../observability/metrics.ts";
import { ForeignInstanceError } from "../signals/errors.ts";
import type { EvacuationStore } from "../state/evacuation-store.ts";
import type { StoredEvacuation } from "../state/evacuation-resource.ts";
import type { Serial } from "./serial.ts";
import type { LifecycleHookTimeouts } from "../actuators/aws/lifecycle.ts";
import type { NodeOutcome } from "../actuators/kube-actuator.ts";
import { forEachConcurrently } from "../executor/concurrency.ts";
import { isNotLeader } from "../leader/fence.ts";
import type { FoldDecision } from "../planner/fold-notice.ts";
import type { Evacuation } from "../domain/evacuation.ts";
import { errorMessage } from "../domain/error-message.ts";
import { cordons, emitStarted, noticeTimes, UnknownNodeError, withCordon } from "./intake-records.ts";

export { noticeTimes, UnknownNodeError } from "./intake-records.ts";

/**
 * The first act on a notice, before its turn to be recorded: cordon the node at once (taint and LB label as
 * configured), so that during an AZ-wide reclaim no node waits for the evacuations of the nodes before it.
 */
export interface FirstCordon {
  /** True when the node already carries lifeboat's cordon (unschedulable, taint, LB label as configured). */
  isCordoned(node: NodeView): boolean;
  cordon(node: string): Promise<NodeOutcome>;
  /** What the cordon does, for the log and the node's Cordoned Event. */
  describe: string;
}

export interface IntakeDeps {
  cluster: ClusterView;
  store: Pick<EvacuationStore, "list" | "create" | "updateSpec" | "updateStatus">;
  policy: FoldPolicy;
  clock: Clock;
  log: ExecutorLogger;
  metrics: Metrics;
  events: EventSink;
  /** Called after an evacuation was created or changed: wakes the reconciler. */
  onRecorded: () => void;
  /** Shared with the reconciler: notices and reconciles never interleave their writes. */
  serial: Serial;
  /** Reads an ASG lifecycle hook's heartbeat timeout (null: no AWS access configured). */
  hookTimeouts?: Pick<LifecycleHookTimeouts, "heartbeatTimeoutSeconds"> | null;
  /** Cordons a warned node at receipt (see FirstCordon); null or absent: the reconcile cordons it. */
  firstCordon?: FirstCordon | null;
}

/** Notices recorded at once in one turn (different nodes; one node's notices one after another). */
export const RECORD_CONCURRENCY = 16;

/** A notice that has been resolved (and its node cordoned, if it asks for that) and waits for its turn. */
interface Turn {
  notice: Notice;
  target: Target;
  /** When this intake cordoned the node at receipt; null when it did not. */
  cordonedAt: number | null;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class NoticeIntake {
  readonly #deps: IntakeDeps;
  /** Notices being handled (see idle). */
  readonly #pending = new Set<Promise<void>>();
  /** Notices in their first act: resolved to a node, its node cordoned at receipt (see accepting). */
  readonly #arriving = new Set<Promise<undefined>>();
  /** Notices waiting for the next turn: recorded together, in one turn of the serial. */
  #turns: Turn[] = [];

  constructor(deps: IntakeDeps) {
    this.#deps = deps;
  }

  /**
   * Recorded in a turn of the serial, never mid-reconcile; the notices waiting for a turn are recorded
   * together in it, one node's notices one after another (two notices for one node must not both create an
   * evacuation). Which node the notice names is decided first, outside that turn: a notice about no node of
   * ours (a queue full of foreign or junk messages) is dropped at once instead of waiting behind a running
   * reconcile, and a warned node is cordoned at once (FirstCordon) instead of after the reconcile.
   */
  handle(notice: Notice): Promise<void> {
    // The first act ends when the notice waits for its turn, or is settled before that.
    const arrival = Promise.withResolvers<undefined>();
    this.#arriving.add(arrival.promise);
    void arrival.promise.then(() => this.#arriving.delete(arrival.promise));
    const arrived = (): void => {
      arrival.resolve(undefined);
    };
    const handling = this.#handleNotice(notice, arrived);
    void handling.then(arrived, arrived);
    const settled = handling.then(
      () => undefined,
      () => undefined,
    );
    this.#pending.add(settled);
    void settled.then(() => this.#pending.delete(settled));
    return handling;
  }

  /** Whether a notice has been handed over and is not recorded (or settled) yet. */
  waiting(): boolean {
    return this.#pending.size > 0;
  }

  /** Resolves once no notice is in the intake (in its first act, waiting for its turn, or being recorded). */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /**
   * Resolves once no notice is in its first act (resolving its node, cordoning it at receipt); notices that
   * only wait for their turn to be recorded do not hold it. The SQS consumer receives again then: during an
   * AZ-wide reclaim every node is cordoned at its warning's receipt, not after the records of the warnings
   * before it (which wait for a running reconcile).
   */
  async accepting(): Promise<void> {
    while (this.#arriving.size > 0) await Promise.all([...this.#arriving]);
  }

  async #handleNotice(notice: Notice, arrived: () => void): Promise<void> {
    // Stamped at receipt, not after waiting for a running reconcile.
    const stamped =
      notice.receivedAt === undefined ? { ...notice, receivedAt: this.#deps.clock.now() } : notice;
    let target: Target;
    try {
      target = await this.#resolve(stamped);
    } catch (err) {
      const foreign = err instanceof ForeignInstanceError || err instanceof UnknownNodeError;
      this.#deps.metrics.noticeReceived({
        kind: notice.kind,
        source: notice.source,
        outcome: foreign ? "foreign" : "failed",
      });
      throw err;
    }
    // A notice about a node that is gone writes only into that node's active Evacuation: with none, it is settled
    // here (a duplicate, or late) from one read, without a turn (replays of reclaimed nodes drain at once).
    if (target.kind === "gone" && (await this.#settledGone(stamped, target))) return;
    const timed = await this.#hookDeadline(stamped);
    const cordonedAt = target.kind === "live" ? await this.#cordonFirst(timed, target.node) : null;
    const turn = this.#turn({ notice: timed, target, cordonedAt });
    arrived();
    return turn;
  }

  /** Waits for a turn of the serial shared with the reconciler; every notice waiting then is recorded in it. */
  #turn(turn: Omit<Turn, "resolve" | "reject">): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const first = this.#turns.length === 0;
      this.#turns.push({ ...turn, resolve, reject });
      if (!first) return;
      void this.#deps.serial.run(async () => {
        const batch = this.#turns;
        this.#turns = [];
        const byNode = new Map<string, Turn[]>();
        for (const t of batch) {
          const node = t.target.node.name;
          byNode.set(node, [...(byNode.get(node) ?? []), t]);
        }
        await forEachConcurrently([...byNode.values()], RECORD_CONCURRENCY, async (turns) => {
          for (const t of turns) {
            try {
              await this.#handle(t.notice, t.target, t.cordonedAt);
              t.resolve();
            } catch (err) {
              t.reject(err instanceof Error ? err : new Error(String(err)));
            }
          }
        });
      });
    });
  }

  /**
   * Cordons the node of a notice that will start (or continue) an evacuation that cordons, unless it already
   * is; returns when. Judged from the same read as the record (the Evacuations' informer); a failure is logged
   * and left to the reconcile, which cordons every evacuating node first.
   */
  async #cordonFirst(notice: Notice, node: NodeView): Promise<number | null> {
    const { firstCordon, store, clock, log } = this.#deps;
    if (firstCordon === undefined || firstCordon === null || firstCordon.isCordoned(node)) return null;
    let decision: FoldDecision | { kind: "gone" };
    try {
      decision = this.#decide(notice, { kind: "live", node }, await store.list(), clock.now());
    } catch {
      return null;
    }
    if (
      (decision.kind !== "create" && decision.kind !== "update") ||
      !cordons(decision.stored.evacuation.mode)
    )
      return null;
    try {
      const outcome = await firstCordon.cordon(node.name);
      if (outcome.kind === "not-found") return null;
    } catch (err) {
      if (!isNotLeader(err))
        log.warn(
          { notice: notice.id, node: node.name, err: errorMessage(err) },
          "cordon at receipt failed; the reconcile cordons the node",
        );
      return null;
    }
    const at = clock.now();
    log.info(
      { notice: notice.id, node: node.name, ...noticeTimes(notice, notice.receivedAt ?? at) },
      `cordoned at receipt, before the evacuation is recorded: ${firstCordon.describe}`,
    );
    return at;
  }

  /** How `notice` changes the Evacuations `all` (gone: its node is gone and none is active, nothing to write). */
  #decide(
    notice: Notice,
    target: Target,
    all: readonly StoredEvacuation[],
    receivedAt: number,
  ): FoldDecision | { kind: "gone"; seen: StoredEvacuation | undefined } {
    const node = target.node;
    const seen = all.find((s) => s.evacuation.noticeIds.includes(notice.id));
    const active = all.find((s) => s.evacuation.nodeName === node.name && isActive(s.evacuation)) ?? null;
    // Its evacuation finished meanwhile: nothing to write.
    if (target.kind === "gone" && active === null) return { kind: "gone", seen };
    if (seen !== undefined && seen !== active)
      return {
        kind: "duplicate",
        reason:
          `notice ${notice.id} was already handled by evacuation ${seen.evacuation.name}` +
          (notice.source === "annotation"
            ? `; the annotation is removed as served. To evacuate the node again, write a new value (lifeboat evacuate NODE writes an absolute deadline)`
            : ""),
      };
    return foldNotice(
      active,
      notice,
      { name: node.name, instanceId: node.instanceId, nodeGroup: node.nodeGroup },
      this.#deps.policy,
      receivedAt,
    );
  }

  /** Measures and reports a cordon done at receipt, once its evacuation is recorded. */
  #cordonRecorded(e: Evacuation, cordonedAt: number | null): void {
    if (cordonedAt === null || e.timeline.cordonedAt !== cordonedAt) return;
    this.#deps.metrics.observeNoticeToCordon(Math.max(0, (cordonedAt - e.noticedAt) / 1000));
    this.#deps.events.emit({
      object: { kind: "Node", name: e.nodeName },
      type: "Normal",
      reason: "Cordoned",
      message: `${e.noticeKind} for ${e.instanceId ?? e.nodeName}: cordoned at receipt (${this.#deps.firstCordon?.describe ?? "cordon"}); evacuation ${e.name}`,
    });
  }

  /** True when `notice`, about a node that is gone, needs no write: no active evacuation of that node. */
  async #settledGone(notice: Notice, target: Target & { kind: "gone" }): Promise<boolean> {
    const { store, metrics } = this.#deps;
    let all: StoredEvacuation[];
    try {
      all = await store.list();
    } catch (err) {
      metrics.noticeReceived({ kind: notice.kind, source: notice.source, outcome: "failed" });
      throw err;
    }
    const node = target.node.name;
    if (all.some((s) => s.evacuation.nodeName === node && isActive(s.evacuation))) return false;
    const seen = all.find((s) => s.evacuation.noticeIds.includes(notice.id));
    this.#noteGone(notice, target, seen);
    return true;
  }

  /** Logs and counts a notice about a gone node with no active evacuation: a duplicate (`seen`), else late. */
  #noteGone(notice: Notice, target: Target & { kind: "gone" }, seen: StoredEvacuation | undefined): void {
    const { metrics, log, clock } = this.#deps;
    const label = { kind: notice.kind, source: notice.source };
    const times = noticeTimes(notice, notice.receivedAt ?? clock.now());
    const fields = { notice: notice.id, node: target.node.name, ...times };
    if (seen !== undefined) {
      metrics.noticeReceived({ ...label, outcome: "duplicate" });
      log.info(fields, `notice ${notice.id} was already handled by evacuation ${seen.evacuation.name}`);
      return;
    }
    // Ours, but too late: the node and its pods are gone, nothing is left to evacuate. Not foreign (it was
    // our node), so the message is deleted whatever --foreign-instance-policy says.
    metrics.noticeReceived({ ...label, outcome: "late" });
    log.warn(
      fields,
      `${notice.kind} notice arrived after its node was gone: ${target.how}; nothing left to evacuate`,
    );
  }

  /**
   * An ASG terminate lifecycle action ends, if nobody heartbeats or completes it, one heartbeat timeout after
   * it began: the message carries no timeout, so it is read from the hook (DescribeLifecycleHooks) and the
   * deadline set to the event time plus it. Unreadable: the parser's default (AWS's default timeout, 3600 s)
   * stays, with a warning.
   */
  async #hookDeadline(notice: Notice): Promise<Notice> {
    const hook = notice.lifecycleHook;
    const timeouts = this.#deps.hookTimeouts;
    if (hook === undefined || timeouts === null || timeouts === undefined) return notice;
    const read = await timeouts.heartbeatTimeoutSeconds(hook);
    if (read.kind === "unknown") {
      this.#deps.log.warn(
        { notice: notice.id, hook: hook.lifecycleHookName },
        `${read.reason}; assuming the deadline ${notice.deadline === null ? "is unknown" : new Date(notice.deadline).toISOString()} (grant autoscaling:DescribeLifecycleHooks to use the hook's heartbeat timeout)`,
      );
      return notice;
    }
    return { ...notice, deadline: notice.issuedAt + read.seconds * 1000 };
  }

  /**
   * The node a notice is about. An instance id resolves to the live node with that providerID; failing that, to a
   * node of ours that is already gone: one deleted within the cluster cache's memory (15 minutes), or the node of
   * an Evacuation recorded for that instance (a replica that started after the node was deleted). Only an
   * instance that none of these knows is foreign.
   */
  async #resolve(notice: Notice): Promise<Target> {
    const { cluster, store } = this.#deps;
    if (notice.target.kind === "node") {
      const node = cluster.nodeByName(notice.target.nodeName);
      if (node === null) throw new UnknownNodeError(notice, `node ${notice.target.nodeName} does not exist`);
      return { kind: "live", node };
    }
    const id = notice.target.instanceId;
    const node = cluster.nodeByInstanceId(id);
    if (node !== null) return { kind: "live", node };
    const deleted = cluster.deletedNodeByInstanceId?.(id) ?? null;
    if (deleted !== null) {
      const ago = Math.round((this.#deps.clock.now() - deleted.deletedAt) / 1000);
      return {
        kind: "gone",
        node: deleted.node,
        how: `node ${deleted.node.name} (instance ${id}) was deleted ${ago} s ago`,
      };
    }
    const recorded = (await store.list())
      .map((s) => s.evacuation)
      .filter((e) => e.instanceId === id)
      .sort((a, b) => Number(isActive(b)) - Number(isActive(a)) || b.noticedAt - a.noticedAt)[0];
    if (recorded !== undefined) {
      return {
        kind: "gone",
        node: { name: recorded.nodeName, instanceId: id, nodeGroup: null },
        how: `node ${recorded.nodeName} (instance ${id}, evacuation ${recorded.name}) no longer exists`,
      };
    }
    throw new ForeignInstanceError(notice, `no node has providerID with instance ${id}`);
  }

  async #handle(notice: Notice, target: Target, cordonedAt: number | null): Promise<void> {
    const { store, clock, log, metrics, events } = this.#deps;
    const label = { kind: notice.kind, source: notice.source };
    const receivedAt = notice.receivedAt ?? clock.now();
    const times = noticeTimes(notice, receivedAt);
    const node = target.node;
    for (let attempt = 1; ; attempt++) {
      let all: StoredEvacuation[];
      try {
        // A retry after a conflict reads the API server: the store's informer may not show the winner yet.
        all = await store.list({ fresh: attempt > 1 });
      } catch (err) {
        metrics.noticeReceived({ ...label, outcome: "failed" });
        throw err;
      }
      const decided = this.#decide(notice, target, all, receivedAt);
      if (decided.kind === "gone") {
        if (target.kind === "gone") this.#noteGone(notice, target, decided.seen);
        return;
      }
      const decision = withCordon(decided, cordonedAt);
      try {
        switch (decision.kind) {
          case "duplicate":
          case "ignore":
            metrics.noticeReceived({
              ...label,
              outcome: decision.kind === "duplicate" ? "duplicate" : "ignored",
            });
            log.info({ notice: notice.id, node: node.name, ...times }, decision.reason);
            return;
          case "create": {
            await store.create(decision.stored);
            metrics.noticeReceived({ ...label, outcome: "accepted" });
            metrics.noticeEventAge(notice.kind, times.eventAgeSeconds);
            metrics.evacuationStarted(notice.kind);
            log.info(
              { notice: notice.id, node: node.name, evacuation: decision.stored.evacuation.name, ...times },
              decision.reason,
            );
            emitStarted(events, decision.stored, decision.reason);
            this.#cordonRecorded(decision.stored.evacuation, cordonedAt);
            this.#deps.onRecorded();
            return;
          }
          case "update": {
            const spec = await store.updateSpec(decision.stored);
            await store.updateStatus(spec);
            metrics.noticeReceived({ ...label, outcome: "accepted" });
            metrics.noticeEventAge(notice.kind, times.eventAgeSeconds);
            log.info(
              { notice: notice.id, node: node.name, evacuation: decision.stored.evacuation.name, ...times },
              decision.reason,
            );
            events.emit({
              object: { kind: "Evacuation", name: decision.stored.evacuation.name },
              type: "Normal",
              reason: "NoticeAdded",
              message: decision.reason,
            });
            this.#cordonRecorded(decision.stored.evacuation, cordonedAt);
            this.#deps.onRecorded();
            return;
          }
        }
      } catch (err) {
        // A concurrent writer (the reconciler updating status) changed the resource: read again and refold.
        if (
          attempt < 5 &&
          typeof err === "object" &&
          err !== null &&
          "isConflict" in err &&
          err.isConflict === true
        )
          continue;
        metrics.noticeReceived({ ...label, outcome: "failed" });
        throw err;
      }
    }
  }
}

/** What a notice is about: a node in the cluster, or a node of ours that is already gone (and how we know). */
type Target =
  | { kind: "live"; node: NodeView }
  | { kind: "gone"; node: Pick<NodeView, "name" | "instanceId" | "nodeGroup">; how: string };
