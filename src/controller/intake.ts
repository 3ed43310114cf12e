/**
 * Turns a notice into a durable Evacuation. `handle` resolves only once the evacuation is persisted in the
 * cluster, which is what lets the SQS consumer delete the message afterwards (never before).
 */
import type { Clock } from "../domain/clock.ts";
import { isActive } from "../domain/evacuation.ts";
import type { Notice } from "../domain/notice.ts";
import type { NodeView } from "../domain/snapshot.ts";
import { foldNotice, type FoldPolicy } from "../executor/fold-notice.ts";
import type { ClusterView, EventSink, ExecutorLogger } from "../executor/ports.ts";
import type { Metrics } from "../observability/metrics.ts";
import { ForeignInstanceError } from "../signals/errors.ts";
import type { EvacuationStore } from "../state/evacuation-store.ts";
import type { StoredEvacuation } from "../state/evacuation-resource.ts";
import type { Serial } from "./serial.ts";

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
}

/** The notice names a node that is not (or no longer) in the cluster. */
export class UnknownNodeError extends Error {
  readonly notice: Notice;
  constructor(notice: Notice, message: string) {
    super(message);
    this.name = "UnknownNodeError";
    this.notice = notice;
  }
}

export class NoticeIntake {
  readonly #d: IntakeDeps;

  constructor(deps: IntakeDeps) {
    this.#d = deps;
  }

  /** One notice at a time (two notices for one node must not both create an evacuation), never mid-reconcile. */
  handle(notice: Notice): Promise<void> {
    return this.#d.serial.run(() => this.#handle(notice));
  }

  #resolve(notice: Notice): NodeView {
    const { cluster } = this.#d;
    if (notice.target.kind === "instance") {
      const node = cluster.nodeByInstanceId(notice.target.instanceId);
      if (node === null) {
        throw new ForeignInstanceError(
          notice,
          `no node has providerID with instance ${notice.target.instanceId}`,
        );
      }
      return node;
    }
    const node = cluster.nodeByName(notice.target.nodeName);
    if (node === null) throw new UnknownNodeError(notice, `node ${notice.target.nodeName} does not exist`);
    return node;
  }

  async #handle(notice: Notice): Promise<void> {
    const { store, policy, clock, log, metrics, events } = this.#d;
    const label = { kind: notice.kind, source: notice.source };
    let node: NodeView;
    try {
      node = this.#resolve(notice);
    } catch (err) {
      metrics.noticeReceived({ ...label, outcome: "foreign" });
      throw err;
    }
    for (let attempt = 1; ; attempt++) {
      const all = await store.list();
      const seen = all.find((s) => s.evacuation.noticeIds.includes(notice.id));
      const active = all.find((s) => s.evacuation.nodeName === node.name && isActive(s.evacuation)) ?? null;
      const decision =
        seen !== undefined && seen !== active
          ? ({
              kind: "duplicate",
              reason: `notice ${notice.id} was already handled by evacuation ${seen.evacuation.name}`,
            } as const)
          : foldNotice(
              active,
              notice,
              { name: node.name, instanceId: node.instanceId, nodeGroup: node.nodeGroup },
              policy,
              clock.now(),
            );
      try {
        switch (decision.kind) {
          case "duplicate":
          case "ignore":
            metrics.noticeReceived({
              ...label,
              outcome: decision.kind === "duplicate" ? "duplicate" : "ignored",
            });
            log.info({ notice: notice.id, node: node.name }, decision.reason);
            return;
          case "create": {
            await store.create(decision.stored);
            metrics.noticeReceived({ ...label, outcome: "accepted" });
            metrics.evacuationStarted(notice.kind);
            log.info(
              { notice: notice.id, node: node.name, evacuation: decision.stored.evacuation.name },
              decision.reason,
            );
            emitStarted(events, decision.stored, decision.reason);
            this.#d.onRecorded();
            return;
          }
          case "update": {
            const spec = await store.updateSpec(decision.stored);
            await store.updateStatus(spec);
            metrics.noticeReceived({ ...label, outcome: "accepted" });
            log.info(
              { notice: notice.id, node: node.name, evacuation: decision.stored.evacuation.name },
              decision.reason,
            );
            events.emit({
              object: { kind: "Evacuation", name: decision.stored.evacuation.name },
              type: "Normal",
              reason: "NoticeAdded",
              message: decision.reason,
            });
            this.#d.onRecorded();
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

function emitStarted(events: EventSink, stored: StoredEvacuation, reason: string): void {
  const e = stored.evacuation;
  events.emit({
    object: { kind: "Evacuation", name: e.name },
    type: "Normal",
    reason: "EvacuationStarted",
    message: reason,
  });
  events.emit({
    object: { kind: "Node", name: e.nodeName },
    type: "Warning",
    reason: "EvacuationStarted",
    message: reason,
  });
}
