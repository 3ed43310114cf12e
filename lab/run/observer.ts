/**
 * Watches the cluster during a scenario run, the same way for every handler, and turns what it sees into the
 * report's Ready-replica series, node lanes and per-node evacuation rows. Nothing here asks a handler what
 * it did: cordon, retirement and replacement readiness are read off the cluster.
 */
import type { CoreV1Api, V1Node, V1Pod } from "@kubernetes/client-node";
import { cpuToMilli } from "../cloud/kube.ts";
import type { LaneMark, NodeLane, PlaceholderSample, ReadySample } from "../report/types.ts";
import type { Evacuation } from "../report/types.ts";

interface Doomed {
  node: string;
  noticeAt: number;
  deadline: number;
  /** The workloads' pods on the node at notice time (namespace/name). */
  pods: Set<string>;
  /** app label -> desired replicas, for the workloads with pods on the node. */
  workloads: Set<string>;
  cordonedAt: number | null;
  replacementsReadyAt: number | null;
  retiredAt: number | null;
  nodeDiedAt: number | null;
}

export interface ObserverOptions {
  core: CoreV1Api;
  namespace: string;
  /** app label value -> desired replicas. */
  desired: ReadonlyMap<string, number>;
  /** Is the node's instance dead (its pods cannot serve even if the API still says Ready)? */
  isNodeDead: (node: string) => boolean;
  /** Scenario seconds now. */
  now: () => number;
}

const key = (p: V1Pod): string => `${p.metadata?.namespace ?? ""}/${p.metadata?.name ?? ""}`;
const isReady = (p: V1Pod): boolean =>
  p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
const appOf = (p: V1Pod): string => p.metadata?.labels?.["app"] ?? "";
/** The label of lifeboat's headroom placeholders (src/domain/headroom.ts); the lab reads it, it does not import it. */
export const PLACEHOLDER_LABEL = "lifeboat.dev/headroom";

export class ClusterObserver {
  readonly #o: ObserverOptions;
  readonly ready: ReadySample[] = [];
  /** CPU held by scheduled headroom placeholders (any namespace), sampled like `ready`. */
  readonly placeholders: PlaceholderSample[] = [];
  readonly #lanes = new Map<string, NodeLane>();
  readonly #doomed = new Map<string, Doomed>();
  #pods: V1Pod[] = [];

  constructor(options: ObserverOptions) {
    this.#o = options;
  }

  /** One observation: call it often (every few hundred ms of real time). */
  async sample(): Promise<void> {
    const t = this.#o.now();
    const [nodes, pods, placeholders] = await Promise.all([
      this.#o.core.listNode(),
      this.#o.core.listNamespacedPod({ namespace: this.#o.namespace }),
      this.#o.core.listPodForAllNamespaces({ labelSelector: PLACEHOLDER_LABEL }),
    ]);
    this.#observePlaceholders(placeholders.items, t);
    this.#pods = pods.items;
    this.#observeNodes(nodes.items, t);
    const serving = pods.items.filter(
      (p) =>
        isReady(p) && p.metadata?.deletionTimestamp == null && !this.#o.isNodeDead(p.spec?.nodeName ?? ""),
    );
    let ready = 0;
    let desired = 0;
    for (const [app, want] of this.#o.desired) {
      ready += serving.filter((p) => appOf(p) === app).length;
      desired += want;
    }
    const last = this.ready.at(-1);
    // Every second, and at every change: the replica-seconds below desired are integrated over these samples.
    if (last === undefined || Math.floor(t) > Math.floor(last.t) || ready !== last.ready)
      this.ready.push({ t: round(t), ready, desired });
    for (const d of this.#doomed.values()) this.#observeEvacuation(d, nodes.items, pods.items, serving, t);
  }

  #observePlaceholders(pods: V1Pod[], t: number): void {
    const cpuMilli = pods
      .filter(
        (p) =>
          p.spec?.nodeName !== undefined &&
          p.metadata?.deletionTimestamp == null &&
          !this.#o.isNodeDead(p.spec.nodeName),
      )
      .reduce(
        (sum, p) =>
          sum +
          (p.spec?.containers ?? []).reduce((s, c) => s + cpuToMilli(c.resources?.requests?.["cpu"]), 0),
        0,
      );
    const last = this.placeholders.at(-1);
    if (last === undefined || last.cpuMilli !== cpuMilli) this.placeholders.push({ t: round(t), cpuMilli });
  }

  /** The cloud issued a notice for `node`: remember which pods it holds now. */
  noticed(node: string, noticeAt: number, deadline: number): void {
    const pods = this.#pods.filter(
      (p) =>
        p.spec?.nodeName === node && this.#o.desired.has(appOf(p)) && p.metadata?.deletionTimestamp == null,
    );
    this.#doomed.set(node, {
      node,
      noticeAt,
      deadline,
      pods: new Set(pods.map(key)),
      workloads: new Set(pods.map(appOf)),
      cordonedAt: null,
      replacementsReadyAt: null,
      retiredAt: null,
      nodeDiedAt: null,
    });
    this.mark(node, {
      at: noticeAt,
      kind: "notice",
      detail: `spot interruption warning; ${pods.length} pods; deadline ${round(deadline)} s`,
    });
  }

  died(node: string, at: number): void {
    const d = this.#doomed.get(node);
    if (d !== undefined && d.nodeDiedAt === null) d.nodeDiedAt = at;
    this.mark(node, { at, kind: "death", detail: "instance terminated" });
    const lane = this.#lanes.get(node);
    if (lane !== undefined && lane.to === null) lane.to = round(at);
  }

  mark(node: string, mark: LaneMark): void {
    const lane = this.#lanes.get(node);
    if (lane !== undefined) lane.marks.push({ ...mark, at: round(mark.at) });
  }

  get lanes(): NodeLane[] {
    return [...this.#lanes.values()];
  }

  get evacuations(): Omit<Evacuation, "slackSeconds">[] {
    return [...this.#doomed.values()].map((d) => ({
      node: d.node,
      noticeAt: round(d.noticeAt),
      deadline: round(d.deadline),
      cordonedAt: d.cordonedAt === null ? null : round(d.cordonedAt),
      replacementsReadyAt: d.replacementsReadyAt === null ? null : round(d.replacementsReadyAt),
      retiredAt: d.retiredAt === null ? null : round(d.retiredAt),
      nodeDiedAt: d.nodeDiedAt === null ? null : round(d.nodeDiedAt),
    }));
  }

  #observeNodes(nodes: V1Node[], t: number): void {
    const present = new Set<string>();
    for (const n of nodes) {
      const name = n.metadata?.name ?? "";
      present.add(name);
      if (!this.#lanes.has(name)) {
        const labels = n.metadata?.labels ?? {};
        const from = this.ready.length === 0 ? 0 : round(t);
        this.#lanes.set(name, {
          node: name,
          group: labels["eks.amazonaws.com/nodegroup"] ?? null,
          zone: labels["topology.kubernetes.io/zone"] ?? null,
          from,
          to: null,
          marks: from === 0 ? [] : [{ at: from, kind: "joined" }],
        });
      }
    }
    for (const lane of this.#lanes.values()) {
      if (!present.has(lane.node) && !lane.marks.some((m) => m.kind === "deleted")) {
        lane.marks.push({ at: round(t), kind: "deleted", detail: "Node object deleted" });
        if (lane.to === null) lane.to = round(t);
      }
    }
  }

  #observeEvacuation(d: Doomed, nodes: V1Node[], pods: V1Pod[], serving: V1Pod[], t: number): void {
    const node = nodes.find((n) => n.metadata?.name === d.node);
    if (d.cordonedAt === null && node?.spec?.unschedulable === true) {
      d.cordonedAt = t;
      this.mark(d.node, { at: t, kind: "cordon" });
    }
    if (d.replacementsReadyAt === null) {
      const elsewhere = (app: string): number =>
        serving.filter((p) => appOf(p) === app && p.spec?.nodeName !== d.node).length;
      if ([...d.workloads].every((app) => elsewhere(app) >= (this.#o.desired.get(app) ?? 0))) {
        d.replacementsReadyAt = t;
        this.mark(d.node, { at: t, kind: "replacements-ready" });
      }
    }
    if (d.retiredAt === null) {
      // Retired = every doomed pod has finished (preStop, shutdown) and is gone: nothing runs there any more.
      const left = pods.filter((p) => d.pods.has(key(p)));
      if (left.length === 0) {
        d.retiredAt = t;
        this.mark(d.node, {
          at: t,
          kind: "retired",
          detail: "every pod that was on the node at the notice is gone",
        });
      }
    }
  }
}

function round(t: number): number {
  return Math.round(t * 10) / 10;
}
