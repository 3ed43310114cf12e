/**
 * Kubernetes Events (core/v1) on Nodes, Pods and Evacuations, carrying the planner's reasons, so that
 * `kubectl describe node` and `kubectl get events` tell the story of an evacuation.
 * Recording is best effort: errors are logged, never thrown, and never delay the evacuation
 * (callers may `void recorder.record(...)`). A repeat of the same object, reason and message within
 * the de-duplication window bumps the existing Event's count instead of creating a new one.
 */
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { ConfigurationOptions } from "@kubernetes/client-node";
import type { Clock } from "../domain/clock.ts";
import type { Logger } from "./logger.ts";
import { errorMessage } from "../domain/error-message.ts";

export const REPORTING_CONTROLLER = "lifeboat.dev/controller";
export const EVENT_SOURCE_COMPONENT = "lifeboat";
/** Events about cluster-scoped objects (Node, Evacuation) live in this namespace, as kubectl expects. */
export const CLUSTER_SCOPED_EVENT_NAMESPACE = "default";
export const DEDUP_WINDOW_MS = 60_000;
const MAX_MESSAGE_LENGTH = 1024;

/** Namespaced kinds an Event can be about, with their apiVersion. */
const NAMESPACED_KINDS = {
  Pod: "v1",
  Deployment: "apps/v1",
  StatefulSet: "apps/v1",
  ReplicaSet: "apps/v1",
  DaemonSet: "apps/v1",
  Job: "batch/v1",
} as const;

export type NamespacedKind = keyof typeof NAMESPACED_KINDS;

export type InvolvedObject =
  | { kind: "Node"; name: string; uid?: string }
  | { kind: "Evacuation"; name: string; uid?: string }
  | { kind: NamespacedKind; namespace: string; name: string; uid?: string };

/** Every reason lifeboat records, with its default Event type. CamelCase, as Kubernetes reasons are. */
export const EVENT_REASONS = {
  /** A notice started (or was folded into) an evacuation of the node. */
  EvacuationStarted: "Normal",
  /** The node was cordoned, tainted and labelled out of the load balancers. */
  Cordoned: "Normal",
  /** A workload was scaled up (+k) to replace its doomed pods. */
  SurgeCreated: "Normal",
  /** Every replacement pod is Ready (load-balancer readiness gates included). */
  ReplacementsReady: "Normal",
  /** The doomed pods were retired (scale -k with low deletion cost). */
  Retired: "Normal",
  /** A prewarm (rebalance recommendation) surged replacements and waits for a warning. */
  Prewarmed: "Normal",
  /** A prewarm saw no warning in time and was undone (surge retired, nothing evicted, node uncordoned). */
  PrewarmExpired: "Normal",
  /** The node's lifeboat.dev/evacuate annotation was served by a finished evacuation and removed. */
  RequestCleared: "Normal",
  /** lifeboat's cordon was undone (an expired prewarm): the node serves again. */
  Uncordoned: "Normal",
  /**
   * A surge was closed without scaling back: the workload was deleted or replaced, or someone scaled it below
   * what lifeboat added; the replica count is theirs.
   */
  SurgeHandedBack: "Warning",
  /** `--early-node`: the doomed node's Auto Scaling group was asked for a node at the notice (no room for the surge). */
  EarlyNodeRequested: "Normal",
  /** The node was tainted PreferNoSchedule (rebalance policy `taint`). */
  TaintedPreferNoSchedule: "Normal",
  /** A further notice (duplicate or follow-up, e.g. a warning after a rebalance) was folded into the evacuation. */
  NoticeAdded: "Normal",
  /** The planner hit the last responsible moment and drains without waiting for replacements. */
  LastResponsibleMoment: "Warning",
  /**
   * A PodDisruptionBudget refused an eviction (429); it is retried (at the last responsible moment too when the
   * node's end is not certain: a manual deadline, an ASG lifecycle hook, a scheduled reboot).
   */
  EvictionBlocked: "Warning",
  /**
   * At a pod's last responsible moment before the node's certain end (a spot warning, a scheduled retirement,
   * an instance leaving) a PodDisruptionBudget allowed no disruption: the pod was deleted with its own grace
   * period anyway (the node dies whatever the budget says).
   */
  PdbOverridden: "Warning",
  /** A pod was evicted through the Eviction API. */
  Evicted: "Normal",
  /** A pod was force-deleted because its instance is already shutting down or gone. */
  ForceDeleted: "Warning",
  /**
   * The node was tainted node.kubernetes.io/out-of-service (its instance is stopped or terminated) so that the
   * volumes of its StatefulSet pods detach at once; remove it by hand if the instance is started again.
   */
  OutOfServiceTainted: "Warning",
  /** The evacuation finished; every pod it moved left the node before the deadline (or it had none). */
  EvacuationDone: "Normal",
  /** The evacuation finished, and a pod it moved left the node only after the deadline. */
  DeadlineMissed: "Warning",
  /** The evacuation gave up. */
  EvacuationFailed: "Warning",
  /** A workload's preStop is shorter than the load balancer's propagation budget: expect errors on retire. */
  PreStopTooShort: "Warning",
  /** A PodDisruptionBudget allows no disruption now: a planned eviction will be refused and retried. */
  PdbBlocksEviction: "Warning",
  /** The surge takes replicas above the HPA's maximum: the HPA will scale it back. */
  SurgeAboveHpaMax: "Warning",
  /** Replacements are not expected Ready before the last responsible moment: capacity will dip. */
  SurgeMissesDeadline: "Warning",
  /** Nodes outside the evacuation lack room for the replacements: they may stay Pending. */
  InsufficientCapacity: "Warning",
  /** Dry-run: what would have been done (the message says what). */
  DryRun: "Normal",
  /** A cluster or AWS action failed and will be retried. */
  ActionFailed: "Warning",
} as const satisfies Record<string, EventType>;

export type EventType = "Normal" | "Warning";
export type EventReason = keyof typeof EVENT_REASONS;

export interface EventSpec {
  object: InvolvedObject;
  reason: EventReason;
  /** The planner's reason, in words. Truncated to 1024 characters. */
  message: string;
  /** Default: the reason's type in EVENT_REASONS. */
  type?: EventType;
  /** A second object the Event is about (e.g. the Evacuation behind a Pod's Event). */
  related?: InvolvedObject;
}

interface ObjectReference {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

/** A core/v1 Event as written (a plain object of CoreV1Event's shape). */
export interface EventBody {
  apiVersion: "v1";
  kind: "Event";
  metadata: { name: string; namespace: string };
  involvedObject: ObjectReference;
  related?: ObjectReference;
  reason: EventReason;
  message: string;
  type: EventType;
  count: number;
  firstTimestamp: Date;
  lastTimestamp: Date;
  source: { component: string };
  reportingComponent: string;
  reportingInstance: string;
}

/** The two calls of @kubernetes/client-node's CoreV1Api that the recorder uses (CoreV1Api satisfies it). */
export interface EventsClient {
  createNamespacedEvent(param: { namespace: string; body: EventBody }): Promise<unknown>;
  patchNamespacedEvent(
    param: { name: string; namespace: string; body: object },
    options?: ConfigurationOptions,
  ): Promise<unknown>;
}

export interface EventRecorderOptions {
  client: EventsClient;
  clock: Clock;
  logger: Logger;
  /** This replica's identity (reportingInstance). */
  instance: string;
  dedupWindowMs?: number;
  /**
   * Events waiting to be written (for the client's rate limit or the API server) beyond which a new one is
   * dropped, as client-go's broadcaster drops when its queue of 1,000 is full. Default MAX_PENDING_EVENTS.
   */
  maxPending?: number;
  /** Called for each Event dropped because too many were pending (a metric). */
  onDropped?: () => void;
}

/** client-go's maxQueuedEvents: Events are best effort and never pile up without bound behind the writes. */
export const MAX_PENDING_EVENTS = 1000;

interface Recent {
  name: string;
  namespace: string;
  count: number;
  firstAt: number;
  lastAt: number;
  /** The Event's last write (create or patch); a repeat waits for it so it never patches a missing Event. */
  last: Promise<boolean>;
}

function reference(object: InvolvedObject): ObjectReference {
  const uid = object.uid === undefined ? {} : { uid: object.uid };
  switch (object.kind) {
    case "Node":
      return { apiVersion: "v1", kind: "Node", name: object.name, ...uid };
    case "Evacuation":
      return { apiVersion: "lifeboat.dev/v1alpha1", kind: "Evacuation", name: object.name, ...uid };
    default:
      return {
        apiVersion: NAMESPACED_KINDS[object.kind],
        kind: object.kind,
        name: object.name,
        namespace: object.namespace,
        ...uid,
      };
  }
}

function eventNamespace(object: InvolvedObject): string {
  return object.kind === "Node" || object.kind === "Evacuation"
    ? CLUSTER_SCOPED_EVENT_NAMESPACE
    : object.namespace;
}

function describeError(error: unknown): { code?: number; message: string } {
  const code = (error as { code?: unknown } | null)?.code;
  const message = errorMessage(error);
  return typeof code === "number" ? { code, message } : { message };
}

export class EventRecorder {
  readonly #client: EventsClient;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #instance: string;
  readonly #windowMs: number;
  readonly #recent = new Map<string, Recent>();
  #sequence = 0n;
  readonly #maxPending: number;
  readonly #onDropped: () => void;
  /** Writes (creates and count bumps) not yet answered. */
  #pending = 0;
  #dropped = 0;

  constructor(options: EventRecorderOptions) {
    this.#client = options.client;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#instance = options.instance;
    this.#windowMs = options.dedupWindowMs ?? DEDUP_WINDOW_MS;
    this.#maxPending = options.maxPending ?? MAX_PENDING_EVENTS;
    this.#onDropped = options.onDropped ?? (() => undefined);
  }

  /** Events dropped so far because too many were pending. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Writes (or bumps) the Event. Resolves when done; never rejects. */
  record(spec: EventSpec): Promise<void> {
    if (this.#pending >= this.#maxPending) {
      this.#dropped += 1;
      this.#onDropped();
      // Logged at the first drop and every hundredth after it, not once per Event.
      if (this.#dropped % 100 === 1)
        this.#logger.warn(
          { pending: this.#pending, dropped: this.#dropped, reason: spec.reason },
          `Kubernetes Event dropped: ${this.#pending} are waiting to be written (the API server or the client's rate limit is behind); Events are best effort, the logs have every one`,
        );
      return Promise.resolve();
    }
    this.#pending += 1;
    return this.#record(spec).finally(() => {
      this.#pending -= 1;
    });
  }

  #record(spec: EventSpec): Promise<void> {
    const now = this.#clock.now();
    this.#forgetOlderThan(now - this.#windowMs);
    const message =
      spec.message.length > MAX_MESSAGE_LENGTH
        ? `${spec.message.slice(0, MAX_MESSAGE_LENGTH - 3)}...`
        : spec.message;
    const ref = reference(spec.object);
    const key = `${ref.kind}/${ref.namespace ?? ""}/${ref.name}|${spec.reason}|${message}`;
    const recent = this.#recent.get(key);
    if (recent !== undefined) {
      recent.count += 1;
      recent.lastAt = now;
      const count = recent.count;
      recent.last = recent.last.then((exists) =>
        exists ? this.#bump(recent, count, now, spec, message) : this.#create(recent, spec, message, now),
      );
      return recent.last.then(() => undefined);
    }
    const namespace = eventNamespace(spec.object);
    this.#sequence += 1n;
    const name = `${spec.object.name}.${(BigInt(now) * 1_000_000n + this.#sequence).toString(16)}`;
    const entry: Recent = {
      name,
      namespace,
      count: 1,
      firstAt: now,
      lastAt: now,
      last: Promise.resolve(false),
    };
    this.#recent.set(key, entry);
    entry.last = this.#create(entry, spec, message, now);
    return entry.last.then(() => undefined);
  }

  /** Waits for every write in flight (for shutdown and tests). */
  async flush(): Promise<void> {
    await Promise.all([...this.#recent.values()].map((r) => r.last));
  }

  #forgetOlderThan(cutoff: number): void {
    for (const [key, recent] of this.#recent) if (recent.lastAt < cutoff) this.#recent.delete(key);
  }

  async #create(entry: Recent, spec: EventSpec, message: string, now: number): Promise<boolean> {
    const at = new Date(now);
    const body: EventBody = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: entry.name, namespace: entry.namespace },
      involvedObject: reference(spec.object),
      ...(spec.related === undefined ? {} : { related: reference(spec.related) }),
      reason: spec.reason,
      message,
      type: spec.type ?? EVENT_REASONS[spec.reason],
      count: entry.count,
      firstTimestamp: new Date(entry.firstAt),
      lastTimestamp: at,
      source: { component: EVENT_SOURCE_COMPONENT },
      reportingComponent: REPORTING_CONTROLLER,
      reportingInstance: this.#instance,
    };
    try {
      await this.#client.createNamespacedEvent({ namespace: entry.namespace, body });
      return true;
    } catch (error) {
      this.#logger.warn(
        { error: describeError(error), event: { object: body.involvedObject, reason: spec.reason, message } },
        "could not record Kubernetes Event",
      );
      return false;
    }
  }

  async #bump(entry: Recent, count: number, now: number, spec: EventSpec, message: string): Promise<boolean> {
    try {
      await this.#client.patchNamespacedEvent(
        {
          name: entry.name,
          namespace: entry.namespace,
          body: { count, lastTimestamp: new Date(now).toISOString() },
        },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      return true;
    } catch (error) {
      const described = describeError(error);
      if (described.code === 404) return this.#create(entry, spec, message, now);
      this.#logger.warn(
        { error: described, event: { name: entry.name, reason: spec.reason, count } },
        "could not update Kubernetes Event count",
      );
      return true;
    }
  }
}
