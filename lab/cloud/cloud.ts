/**
 * The cloud simulator: EC2 and Auto Scaling as the cluster experiences them, on a timeline scaled by the
 * scenario's time scale.
 *
 * - **Spot reclaim**: at `at` EC2 issues the interruption warning; it lands in SQS `eventDeliverySeconds` later.
 *   At the deadline (`at + noticeLeadSeconds`) the instance dies: EC2 terminates it (in moto, when the lab has
 *   instances: DescribeInstances tells the truth from then on), its pod listeners refuse connections (the
 *   kernel answers RST while it shuts down), its kubelet stops heartbeating, and after `refuseSeconds` the
 *   listeners go silent (blackhole). State-change notifications follow (shutting-down, then terminated).
 * - **Rebalance recommendation**: sent earlier; optionally followed by a reclaim of the same nodes.
 * - **AZ reclaim**: a share of one zone's nodes, all warned at once.
 * - **Node groups keep their desired capacity**: a dead instance is replaced by a new node joining after
 *   `nodeJoinSeconds`, like an ASG.
 * - **Cluster-autoscaler**: a pod Pending/Unschedulable for `reactSeconds` makes the simulator add a node to a
 *   group the pod may run on (up to `maxNodesPerGroup`), joining `nodeJoinSeconds` later.
 * - **Cloud node lifecycle**: a dead node's Node object is deleted once it is no longer Ready (checked every 5 s).
 * - **Auto Scaling groups as AWS sees them** (optional `asg` hook, moto in the lab): a desired capacity raised
 *   from outside (lifeboat's `--early-node` calls SetDesiredCapacity) launches that many nodes, which the
 *   autoscaler then counts as on their way, as cluster-autoscaler counts a group's upcoming instances; the
 *   autoscaler's own scale-ups are written back to the group.
 *
 * Everything is recorded in `timeline` (scenario seconds) for the report.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { EksNodeSpec } from "../cluster/eks-node.ts";
import { INSTANCE_TYPES, regionOf } from "../cluster/eks-node.ts";
import type {
  CloudEvent,
  CloudSettings,
  NodeGroup,
  NodeSelector,
  ScenarioEvent,
} from "../scenarios/schema.ts";
import { isWorkloadEvent } from "../scenarios/schema.ts";
import type { Ec2Event } from "./messages.ts";
import { rebalanceRecommendation, spotInterruptionWarning, stateChange } from "./messages.ts";

/** How a dead host answers: RST while the kernel is up, silence once the instance is gone. */
export type DeadHostMode = "refuse" | "blackhole";

/** A node as the cloud knows it: an instance in a group. */
export interface CloudNode {
  name: string;
  instanceId: string;
  nodeGroup: string;
  zone: string;
}

/** The part of the lab the cloud drives (see `cloudLabOf` in ./kube.ts for the adapter over `Lab`). */
export interface CloudLab {
  /** Nodes at start; the simulator tracks joins and deaths itself from then on. */
  readonly nodes: readonly CloudNode[];
  /** Creates a node now and resolves when it is Ready (the simulator waits the join delay itself). */
  addNode(spec: EksNodeSpec): Promise<CloudNode>;
  /** The kubelet stops renewing its lease: the node goes Unknown after the node-monitor grace period. */
  stopHeartbeats(name: string): Promise<void>;
  /** Terminates the node's EC2 instance (TerminateInstances), when the lab has instances. */
  terminateInstance?(name: string): Promise<void>;
  /** Deletes the Node object (what the cloud node-lifecycle controller does for a terminated instance). */
  deleteNode?(name: string): Promise<void>;
  /** Whether the node's Ready condition is True; null when the node is gone. */
  nodeReady?(name: string): Promise<boolean | null>;
}

/** A pod the scheduler could not place, as the autoscaler sees it. */
export interface PendingPod {
  name: string;
  /** Pods of one workload (for one-per-node spreading). */
  workload: string;
  /** Node groups its affinity allows; null for any. */
  groups: readonly string[] | null;
  cpuMilli: number;
  /** Required anti-affinity on kubernetes.io/hostname against its own workload. */
  onePerNode: boolean;
}

export interface CloudHooks {
  /** The runner wires this to the pod runtime's `killNode(name, mode)`. */
  killNode(name: string, mode: DeadHostMode): Promise<void> | void;
  /** Picks `count` victims among `candidates` (e.g. nodes that hold pods of the workload). Default: by name. */
  chooseVictims?(
    candidates: readonly CloudNode[],
    count: number,
  ): Promise<readonly CloudNode[]> | readonly CloudNode[];
  /** Pods Pending/Unschedulable now; without it the autoscaler does nothing. */
  pendingPods?(): Promise<readonly PendingPod[]>;
  /** The node groups' Auto Scaling groups (moto in the lab); without it desired capacity is the simulator's alone. */
  asg?: AsgHooks;
}

/** A node group's Auto Scaling group desired capacity, read and written by group name. */
export interface AsgHooks {
  /** null: the group has no Auto Scaling group. */
  desired(group: string): Promise<number | null>;
  setDesired(group: string, desired: number): Promise<void>;
}

/** Puts one message body into the queue. */
export type SqsSender = (body: string) => Promise<void>;

export type CloudEventKind =
  | "rebalance-issued"
  | "notice-issued"
  | "message-delivered"
  | "node-killed"
  | "node-silent"
  | "heartbeats-stopped"
  | "instance-shutting-down"
  | "instance-terminated"
  | "node-deleted"
  | "node-launched"
  | "node-joined"
  | "autoscaler-scale-up"
  | "asg-scale-up"
  | "error";

export interface TimelineEntry {
  /** Scenario seconds since start. */
  at: number;
  kind: CloudEventKind;
  /** Node name, or null for cluster-wide entries. */
  node: string | null;
  detail: string;
}

/** What happened to one reclaimed node, for the report's evacuation rows. */
export interface Reclaim {
  node: string;
  instanceId: string;
  nodeGroup: string;
  zone: string;
  /** When the rebalance recommendation was issued, if there was one. */
  rebalanceAt: number | null;
  /** When EC2 issued the interruption warning. */
  noticeAt: number;
  /** noticeAt + noticeLeadSeconds. */
  deadline: number;
  /** When the node actually died (null if the run stopped before). */
  diedAt: number | null;
}

export class CloudEventError extends Error {
  override readonly name = "CloudEventError";
  readonly entries: readonly TimelineEntry[];
  constructor(entries: readonly TimelineEntry[]) {
    super(
      `cloud simulator: ${entries.length} step(s) failed:\n${entries.map((e) => `  at ${e.at.toFixed(1)} s ${e.node ?? ""}: ${e.detail}`).join("\n")}`,
    );
    this.entries = entries;
  }
}

export interface CloudOptions {
  lab: CloudLab;
  send: SqsSender;
  hooks: CloudHooks;
  /** The scenario's `cloud` section (with defaults applied). */
  settings: CloudSettings;
  nodeGroups: readonly NodeGroup[];
  /** The scenario's events; workload events (scale, rollout) are the runner's and are skipped here. */
  events: readonly ScenarioEvent[];
  /** Real seconds per scenario second. */
  timeScale: number;
  /** performance.now() of the scenario's time zero; default: when `start()` is called. */
  t0?: number;
  /** The `time` written into a message issued at scenario second `at`. Default: the wall clock at that moment. */
  messageTime?: (at: number) => Date;
  /** The cloud node-lifecycle controller's period, scenario seconds. Default 5 (node-monitor-period). */
  nodeLifecyclePeriodSeconds?: number;
  /** Called with every timeline entry as it is recorded (progress output, logs). */
  onEntry?: (entry: TimelineEntry) => void;
}

interface UpcomingNode {
  group: string;
  reason: "asg-replacement" | "autoscaler" | "asg-desired";
}

/**
 * Runs a scenario's cloud events against a lab. `start()` schedules them; `settled()` resolves when every
 * event has played out (nodes died, replacements joined); `stop()` (or dispose) cancels what is left.
 */
export class CloudSimulator implements AsyncDisposable {
  readonly timeline: TimelineEntry[] = [];
  readonly #opts: CloudOptions;
  readonly #live = new Map<string, CloudNode>();
  readonly #doomed = new Set<string>();
  readonly #reclaims = new Map<string, Reclaim>();
  readonly #desired = new Map<string, number>();
  readonly #upcoming = new Set<UpcomingNode>();
  /** Nodes that joined less than `reactSeconds` ago: the scheduler is still placing pods on them. */
  readonly #recentlyJoined = new Map<string, { group: string; joinedAt: number }>();
  readonly #firstSeenPending = new Map<string, number>();
  /** Each group's Auto Scaling desired capacity as last seen or written by the simulator. */
  readonly #asgKnown = new Map<string, number>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  #t0 = 0;
  #wall0 = 0;
  #started = false;

  constructor(opts: CloudOptions) {
    if (!(opts.timeScale > 0)) throw new RangeError(`timeScale must be > 0, got ${opts.timeScale}`);
    this.#opts = opts;
    for (const g of opts.nodeGroups) this.#desired.set(g.name, g.count);
  }

  /** Scenario seconds since time zero. */
  now(): number {
    return (performance.now() - this.#t0) / 1000 / this.#opts.timeScale;
  }

  /** Nodes launched and not yet joined. */
  get launching(): number {
    return this.#upcoming.size;
  }

  /** Live nodes (not yet dead), including doomed ones. */
  get liveNodes(): CloudNode[] {
    return [...this.#live.values()];
  }

  get reclaims(): Reclaim[] {
    return [...this.#reclaims.values()];
  }

  get errors(): TimelineEntry[] {
    return this.timeline.filter((e) => e.kind === "error");
  }

  start(): void {
    if (this.#started) throw new Error("cloud simulator already started");
    this.#started = true;
    this.#t0 = this.#opts.t0 ?? performance.now();
    this.#wall0 = Date.now() - (performance.now() - this.#t0);
    for (const n of this.#opts.lab.nodes) this.#live.set(n.name, n);
    // Nodes added before time zero (the autoscaler placing a handler's headroom) are part of the group's size.
    for (const g of this.#opts.nodeGroups)
      this.#desired.set(g.name, Math.max(this.#desired.get(g.name) ?? 0, this.#groupSize(g.name)));
    for (const e of this.#opts.events) {
      if (isWorkloadEvent(e)) continue;
      this.#spawn(`${e.kind} at ${e.at}`, null, () => this.#runEvent(e));
    }
    if (this.#opts.settings.autoscaler.enabled && this.#opts.hooks.pendingPods !== undefined) {
      this.#spawnLoop(async () => {
        await this.#syncAsg();
        await this.#autoscale();
      });
    } else if (this.#opts.hooks.asg !== undefined) {
      this.#spawnLoop(() => this.#syncAsg());
    }
  }

  /** Resolves when every scheduled step has run; throws CloudEventError if any failed. */
  async settled(): Promise<void> {
    // Steps spawn further steps: wait until no step is left.
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
    if (this.errors.length > 0) throw new CloudEventError(this.errors);
  }

  /** Cancels what is still scheduled and waits for running steps to notice. */
  async stop(): Promise<void> {
    this.#abort.abort();
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #record(kind: CloudEventKind, node: string | null, detail: string): void {
    const entry: TimelineEntry = { at: round(this.now()), kind, node, detail };
    this.timeline.push(entry);
    this.#opts.onEntry?.(entry);
  }

  /** Runs `fn` as a tracked step; a failure becomes an `error` entry (cancellation does not). */
  #spawn(what: string, node: string | null, fn: () => Promise<void>): void {
    const task = fn().catch((err: unknown) => {
      if (this.#abort.signal.aborted) return;
      this.#record("error", node, `${what}: ${err instanceof Error ? err.message : String(err)}`);
    });
    const tracked = task.finally(() => this.#tasks.delete(tracked));
    this.#tasks.add(tracked);
  }

  /** A background loop that is not waited for by `settled()`; it ends on stop(). */
  #spawnLoop(fn: () => Promise<void>): void {
    void (async () => {
      while (!this.#abort.signal.aborted) {
        try {
          await fn();
        } catch (err) {
          if (this.#abort.signal.aborted) return;
          this.#record("error", null, `autoscaler: ${err instanceof Error ? err.message : String(err)}`);
        }
        await this.#sleepFor(1).catch(() => undefined);
      }
    })();
  }

  async #sleepUntil(at: number): Promise<void> {
    const ms = this.#t0 + at * this.#opts.timeScale * 1000 - performance.now();
    if (this.#abort.signal.aborted) throw this.#abort.signal.reason;
    if (ms > 0) await sleep(ms, undefined, { signal: this.#abort.signal });
  }

  async #sleepFor(seconds: number): Promise<void> {
    await sleep(seconds * this.#opts.timeScale * 1000, undefined, { signal: this.#abort.signal });
  }

  #messageTime(at: number): Date {
    return this.#opts.messageTime?.(at) ?? new Date(this.#wall0 + at * this.#opts.timeScale * 1000);
  }

  async #runEvent(e: CloudEvent): Promise<void> {
    await this.#sleepUntil(e.at);
    switch (e.kind) {
      case "spot-reclaim": {
        const victims = await this.#pick(e.nodes);
        for (const v of victims) this.#reclaim(v, e.at, null);
        return;
      }
      case "az-reclaim": {
        const inZone = this.liveNodes.filter((n) => n.zone === e.zone);
        const victims = await this.#choose(
          inZone.filter((n) => !this.#doomed.has(n.name)),
          Math.ceil(e.share * inZone.length),
          `az-reclaim of ${e.zone}`,
        );
        for (const v of victims) this.#reclaim(v, e.at, null);
        return;
      }
      case "rebalance": {
        const victims = await this.#pick(e.nodes);
        for (const v of victims) {
          this.#record("rebalance-issued", v.name, `rebalance recommendation for ${v.instanceId}`);
          this.#deliver(v, e.at, rebalanceRecommendation(this.#ref(v), this.#messageTime(e.at)));
        }
        const after = e.reclaimAfterSeconds;
        if (after !== undefined) {
          for (const v of victims) this.#doomed.add(v.name);
          this.#spawn("reclaim after rebalance", null, async () => {
            await this.#sleepUntil(e.at + after);
            for (const v of victims) this.#reclaim(v, e.at + after, e.at);
          });
        }
        return;
      }
    }
  }

  async #pick(sel: NodeSelector): Promise<readonly CloudNode[]> {
    const matching = this.liveNodes.filter(
      (n) =>
        (sel.group === undefined || n.nodeGroup === sel.group) &&
        (sel.zone === undefined || n.zone === sel.zone),
    );
    const count = sel.count ?? (sel.share === undefined ? 1 : Math.ceil(sel.share * matching.length));
    const what = `nodes${sel.group === undefined ? "" : ` of group ${sel.group}`}${sel.zone === undefined ? "" : ` in ${sel.zone}`}`;
    return this.#choose(
      matching.filter((n) => !this.#doomed.has(n.name)),
      count,
      what,
    );
  }

  async #choose(candidates: CloudNode[], count: number, what: string): Promise<readonly CloudNode[]> {
    if (candidates.length < count) {
      this.#record("error", null, `wanted ${count} ${what}, only ${candidates.length} available`);
      count = candidates.length;
    }
    const sorted = [...candidates].sort((a, b) => a.name.localeCompare(b.name));
    const chosen =
      this.#opts.hooks.chooseVictims === undefined
        ? sorted.slice(0, count)
        : await this.#opts.hooks.chooseVictims(sorted, count);
    const names = new Set(candidates.map((c) => c.name));
    const bad = chosen.filter((c) => !names.has(c.name));
    if (bad.length > 0 || chosen.length !== count) {
      throw new Error(
        `chooseVictims returned ${chosen.map((c) => c.name).join(", ")}: need ${count} of ${[...names].join(", ")}`,
      );
    }
    return chosen;
  }

  #ref(n: CloudNode): { instanceId: string; region: string } {
    return { instanceId: n.instanceId, region: regionOf(n.zone) };
  }

  /** Sends a message `eventDeliverySeconds` after scenario second `issuedAt`. */
  #deliver(n: CloudNode, issuedAt: number, event: Ec2Event<unknown>): void {
    this.#spawn(`deliver ${event["detail-type"]}`, n.name, async () => {
      await this.#sleepUntil(issuedAt + this.#opts.settings.eventDeliverySeconds);
      await this.#opts.send(JSON.stringify(event));
      this.#record("message-delivered", n.name, `${event["detail-type"]} ${event.id} for ${n.instanceId}`);
    });
  }

  #reclaim(n: CloudNode, noticeAt: number, rebalanceAt: number | null): void {
    const s = this.#opts.settings;
    const deadline = noticeAt + s.noticeLeadSeconds;
    this.#doomed.add(n.name);
    this.#reclaims.set(n.name, {
      node: n.name,
      instanceId: n.instanceId,
      nodeGroup: n.nodeGroup,
      zone: n.zone,
      rebalanceAt,
      noticeAt: round(noticeAt),
      deadline: round(deadline),
      diedAt: null,
    });
    this.#record(
      "notice-issued",
      n.name,
      `spot interruption warning for ${n.instanceId}, deadline at ${round(deadline)} s`,
    );
    this.#deliver(n, noticeAt, spotInterruptionWarning(this.#ref(n), this.#messageTime(noticeAt)));
    this.#spawn("reclaim", n.name, async () => {
      await this.#sleepUntil(deadline);
      await this.#kill(n, deadline);
    });
  }

  async #kill(n: CloudNode, deadline: number): Promise<void> {
    const s = this.#opts.settings;
    await this.#opts.hooks.killNode(n.name, "refuse");
    await this.#opts.lab.terminateInstance?.(n.name);
    this.#record("node-killed", n.name, "instance terminated: pod listeners refuse connections");
    this.#record("instance-shutting-down", n.name, `${n.instanceId} shutting-down`);
    const reclaim = this.#reclaims.get(n.name);
    if (reclaim !== undefined) reclaim.diedAt = round(this.now());
    this.#live.delete(n.name);
    this.#replaceIfBelowDesired(n.nodeGroup);
    this.#deliver(n, deadline, stateChange(this.#ref(n), this.#messageTime(deadline), "shutting-down"));
    await this.#opts.lab.stopHeartbeats(n.name);
    this.#record("heartbeats-stopped", n.name, "kubelet stopped renewing its lease");
    this.#spawn("blackhole", n.name, async () => {
      await this.#sleepUntil(deadline + s.refuseSeconds);
      await this.#opts.hooks.killNode(n.name, "blackhole");
      this.#record("node-silent", n.name, "instance gone: connections to its pods time out");
    });
    this.#spawn("terminated notification", n.name, async () => {
      await this.#sleepUntil(deadline + s.terminatedAfterSeconds);
      this.#record("instance-terminated", n.name, `${n.instanceId} terminated`);
      this.#deliver(
        n,
        deadline + s.terminatedAfterSeconds,
        stateChange(this.#ref(n), this.#messageTime(deadline + s.terminatedAfterSeconds), "terminated"),
      );
    });
    if (
      s.deleteTerminatedNodes &&
      this.#opts.lab.deleteNode !== undefined &&
      this.#opts.lab.nodeReady !== undefined
    ) {
      this.#spawn("cloud node lifecycle", n.name, () => this.#deleteWhenNotReady(n));
    }
  }

  /** The cloud node-lifecycle controller: a node whose instance is gone is deleted once it is not Ready. */
  async #deleteWhenNotReady(n: CloudNode): Promise<void> {
    const lab = this.#opts.lab;
    const period = this.#opts.nodeLifecyclePeriodSeconds ?? 5;
    for (;;) {
      await this.#sleepFor(period);
      const ready = await lab.nodeReady?.(n.name);
      if (ready === null) return;
      if (ready === false) {
        await lab.deleteNode?.(n.name);
        this.#record(
          "node-deleted",
          n.name,
          "Node deleted: instance terminated and node not Ready (cloud node-lifecycle controller)",
        );
        return;
      }
    }
  }

  #groupSize(group: string): number {
    const live = this.liveNodes.filter((n) => n.nodeGroup === group).length;
    const upcoming = [...this.#upcoming].filter((u) => u.group === group).length;
    return live + upcoming;
  }

  #replaceIfBelowDesired(group: string): void {
    const desired = this.#desired.get(group) ?? 0;
    if (this.#groupSize(group) < desired) this.#launch(group, "asg-replacement");
  }

  /** Launches an instance in a group; it joins the cluster `nodeJoinSeconds` later. */
  #launch(group: string, reason: UpcomingNode["reason"]): void {
    const g = this.#opts.nodeGroups.find((x) => x.name === group);
    if (g === undefined) {
      this.#record("error", null, `launch in unknown node group ${group}`);
      return;
    }
    const upcoming: UpcomingNode = { group, reason };
    this.#upcoming.add(upcoming);
    this.#record(
      "node-launched",
      null,
      `${reason}: instance launched in ${group}, joins in ${this.#opts.settings.nodeJoinSeconds} s`,
    );
    this.#spawn(`${reason} in ${group}`, null, async () => {
      try {
        await this.#sleepFor(this.#opts.settings.nodeJoinSeconds);
        const node = await this.#opts.lab.addNode({
          nodeGroup: g.name,
          zone: g.zone,
          instanceType: g.instanceType,
          capacityType: g.capacityType,
        });
        this.#live.set(node.name, node);
        this.#recentlyJoined.set(node.name, { group, joinedAt: this.now() });
        this.#record("node-joined", node.name, `${reason}: joined ${group} as ${node.instanceId}`);
      } finally {
        this.#upcoming.delete(upcoming);
      }
    });
  }

  /**
   * One cluster-autoscaler scan: pods Pending/Unschedulable for at least `reactSeconds` that upcoming nodes will
   * not absorb get new nodes, in the eligible group with the fewest nodes.
   */
  async #autoscale(): Promise<void> {
    const pending = (await this.#opts.hooks.pendingPods?.()) ?? [];
    const now = this.now();
    const names = new Set(pending.map((p) => p.name));
    for (const name of this.#firstSeenPending.keys())
      if (!names.has(name)) this.#firstSeenPending.delete(name);
    for (const p of pending) if (!this.#firstSeenPending.has(p.name)) this.#firstSeenPending.set(p.name, now);
    const settings = this.#opts.settings.autoscaler;
    const matured = pending
      .filter((p) => now - (this.#firstSeenPending.get(p.name) ?? now) >= settings.reactSeconds)
      .sort((a, b) => a.name.localeCompare(b.name));
    if (matured.length === 0) return;
    // Nodes on their way, and nodes that joined too recently for the scheduler to have used them, will absorb
    // pending pods: count them before asking for more (the cluster-autoscaler counts upcoming nodes too).
    for (const [name, j] of this.#recentlyJoined)
      if (now - j.joinedAt >= settings.reactSeconds) this.#recentlyJoined.delete(name);
    const bins = [...this.#upcoming, ...this.#recentlyJoined.values()].map((u) =>
      newBin(u.group, this.#allocatableCpu(u.group)),
    );
    const launches: string[] = [];
    for (const pod of matured) {
      const eligible = (g: string): boolean => pod.groups === null || pod.groups.includes(g);
      const bin = bins.find((b) => eligible(b.group) && fits(b, pod));
      if (bin !== undefined) {
        place(bin, pod);
        continue;
      }
      const group = this.#opts.nodeGroups
        .filter(
          (g) =>
            eligible(g.name) && this.#groupSize(g.name) + count(launches, g.name) < settings.maxNodesPerGroup,
        )
        .sort(
          (a, b) =>
            this.#groupSize(a.name) +
              count(launches, a.name) -
              (this.#groupSize(b.name) + count(launches, b.name)) || a.name.localeCompare(b.name),
        )[0];
      if (group === undefined) continue;
      const fresh = newBin(group.name, this.#allocatableCpu(group.name));
      place(fresh, pod);
      bins.push(fresh);
      launches.push(group.name);
    }
    for (const group of launches) {
      this.#desired.set(group, (this.#desired.get(group) ?? 0) + 1);
      await this.#writeAsg(group);
      this.#record(
        "autoscaler-scale-up",
        null,
        `${matured.length} pod(s) unschedulable for ${settings.reactSeconds} s: +1 node in ${group}`,
      );
      this.#launch(group, "autoscaler");
    }
  }

  /**
   * A desired capacity raised from outside since the simulator last saw or wrote it (lifeboat's early node)
   * launches that many nodes, as the Auto Scaling group would.
   */
  async #syncAsg(): Promise<void> {
    const asg = this.#opts.hooks.asg;
    if (asg === undefined) return;
    for (const g of this.#opts.nodeGroups) {
      const desired = await asg.desired(g.name);
      if (desired === null) continue;
      const known = this.#asgKnown.get(g.name);
      this.#asgKnown.set(g.name, Math.max(desired, known ?? desired));
      if (known === undefined || desired <= known) continue;
      const add = desired - known;
      this.#desired.set(g.name, (this.#desired.get(g.name) ?? 0) + add);
      this.#record(
        "asg-scale-up",
        null,
        `desired capacity of ${g.name}'s Auto Scaling group raised from outside (${known} -> ${desired}): +${add} node(s)`,
      );
      for (let i = 0; i < add; i++) this.#launch(g.name, "asg-desired");
    }
  }

  /** Writes the simulator's own scale-up back to the group's Auto Scaling group. */
  async #writeAsg(group: string): Promise<void> {
    const asg = this.#opts.hooks.asg;
    const known = this.#asgKnown.get(group);
    if (asg === undefined || known === undefined) return;
    const desired = known + 1;
    this.#asgKnown.set(group, desired);
    await asg.setDesired(group, desired);
  }

  #allocatableCpu(group: string): number {
    const type = this.#opts.nodeGroups.find((g) => g.name === group)?.instanceType ?? "m5.xlarge";
    return INSTANCE_TYPES[type]?.cpuMilli ?? 0;
  }
}

interface Bin {
  group: string;
  freeCpuMilli: number;
  workloads: Set<string>;
}

function newBin(group: string, cpuMilli: number): Bin {
  return { group, freeCpuMilli: cpuMilli, workloads: new Set() };
}

function fits(bin: Bin, pod: PendingPod): boolean {
  return bin.freeCpuMilli >= pod.cpuMilli && !(pod.onePerNode && bin.workloads.has(pod.workload));
}

function place(bin: Bin, pod: PendingPod): void {
  bin.freeCpuMilli -= pod.cpuMilli;
  bin.workloads.add(pod.workload);
}

function count(xs: readonly string[], x: string): number {
  return xs.filter((y) => y === x).length;
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
