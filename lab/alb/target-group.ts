/**
 * One ALB target group: its control-plane view (what DescribeTargetHealth shows) and its data plane
 * (which targets new requests are routed to), with the mechanics of timings.md, "ALB target groups":
 * registration and deregistration reach the data plane only after a propagation delay, health checks
 * with thresholds, fail-open, and draining with the deregistration delay.
 *
 * Every duration is in simulated seconds and is multiplied by `timeScale` (0.25 runs four times faster).
 */
import type { Scheduler, Timer } from "./scheduler.ts";

/** What DescribeTargetHealth would report for a target. */
export type TargetState = "initial" | "healthy" | "unhealthy" | "draining" | "unused";

/** A target as registered: an IP (pod IP, or node IP in instance mode) and a port (container port or NodePort). */
export interface TargetRef {
  ip: string;
  port: number;
  /** For people: the pod (`ns/name`) or instance the target stands for. */
  name?: string;
}

export type HealthFailureReason =
  "Target.FailedHealthChecks" | "Target.Timeout" | "Target.ResponseCodeMismatch";

export type ProbeResult = { ok: true } | { ok: false; reason: HealthFailureReason; detail: string };

/** Runs one health check against a target; must settle within about `timeoutMs`. */
export type HealthProbe = (target: TargetRef, path: string, timeoutMs: number) => Promise<ProbeResult>;

export interface HealthCheckParams {
  /** Path requested by the check. Default "/". */
  path: string;
  /** Seconds between checks. Default 15 (LBC Ingress default; the ELB API default is 30). */
  intervalSeconds: number;
  /** Seconds before a check counts as failed. Default 5. */
  timeoutSeconds: number;
  /** Consecutive passes that take an unhealthy target back to healthy. Default 2 (LBC Ingress default; API default 5). */
  healthyThreshold: number;
  /** Consecutive failures that make a target unhealthy. Default 2. */
  unhealthyThreshold: number;
  /** Passes a newly registered target needs to become healthy. Default 1 (ALB user guide: "must pass one check"). */
  newTargetHealthyThreshold: number;
  /**
   * Seconds from the moment the data plane knows a target to its first check. Default 0.
   * GUESS: ALB does not document when the first check of a new target runs.
   */
  firstCheckDelaySeconds: number;
}

export interface TargetGroupParams {
  healthCheck: HealthCheckParams;
  /**
   * Seconds before a registration or deregistration takes effect in the data plane. Default 18
   * (measured 17 to 19 s between "draining" and the end of new requests: LBC #2366, containers-roadmap #470).
   * Applying the same delay to registrations is a GUESS.
   */
  propagationSeconds: number;
  /**
   * Deregistration delay in seconds (0..3600). Default 300. Draining ends early once the data plane has
   * stopped sending new requests and none is in flight; requests still in flight at expiry get 502.
   * The delay never ends before propagation (GUESS: an expiry earlier than propagation is not modelled).
   */
  deregistrationDelaySeconds: number;
  /** Multiplier applied to every duration above. Default 1. */
  timeScale: number;
}

export const defaultHealthCheck: HealthCheckParams = {
  path: "/",
  intervalSeconds: 15,
  timeoutSeconds: 5,
  healthyThreshold: 2,
  unhealthyThreshold: 2,
  newTargetHealthyThreshold: 1,
  firstCheckDelaySeconds: 0,
};

export const defaultTargetGroupParams: TargetGroupParams = {
  healthCheck: defaultHealthCheck,
  propagationSeconds: 18,
  deregistrationDelaySeconds: 300,
  timeScale: 1,
};

export interface TargetGroupOptions {
  healthCheck?: Partial<HealthCheckParams>;
  propagationSeconds?: number;
  deregistrationDelaySeconds?: number;
  timeScale?: number;
}

export function targetGroupParams(options: TargetGroupOptions = {}): TargetGroupParams {
  return {
    healthCheck: { ...defaultHealthCheck, ...options.healthCheck },
    propagationSeconds: options.propagationSeconds ?? defaultTargetGroupParams.propagationSeconds,
    deregistrationDelaySeconds:
      options.deregistrationDelaySeconds ?? defaultTargetGroupParams.deregistrationDelaySeconds,
    timeScale: options.timeScale ?? defaultTargetGroupParams.timeScale,
  };
}

/** Something that happened to a target, for timelines and logs. `at` is the scheduler's epoch ms. */
export type TargetGroupEvent =
  | {
      kind: "state";
      at: number;
      targetGroup: string;
      target: string;
      from: TargetState | "none";
      to: TargetState;
      reason: string;
    }
  | { kind: "routing"; at: number; targetGroup: string; target: string; routable: boolean; reason: string }
  | { kind: "drain-expired"; at: number; targetGroup: string; target: string; inFlight: number };

export interface TargetHealthDescription {
  target: TargetRef;
  key: string;
  state: TargetState;
  /** ELB-style reason code, e.g. "Elb.RegistrationInProgress", "Target.DeregistrationInProgress". */
  reason: string;
  /** Whether the data plane currently sends new requests to it (if it is chosen). */
  inDataPlane: boolean;
  inFlight: number;
}

/** The request in flight to a target: release it when the response is done; `signal` aborts when draining expires. */
export interface Lease {
  target: TargetRef;
  key: string;
  signal: AbortSignal;
  release(): void;
}

export type Pick = { kind: "target"; lease: Lease; failOpen: boolean } | { kind: "none"; reason: string };

/** Thrown into a lease's signal when the deregistration delay expires with the request still in flight. */
export class DrainExpiredError extends Error {
  readonly target: string;
  constructor(target: string) {
    super(`deregistration delay expired with a request in flight to ${target}`);
    this.name = "DrainExpiredError";
    this.target = target;
  }
}

type Health = "initial" | "healthy" | "unhealthy";

interface TargetRecord {
  ref: TargetRef;
  key: string;
  health: Health;
  reason: string;
  passes: number;
  failures: number;
  probing: boolean;
  /** Registration reached the data plane. */
  known: boolean;
  /** New requests may be routed to it (known and deregistration not yet propagated). */
  routable: boolean;
  draining: boolean;
  unused: boolean;
  inFlight: Set<AbortController>;
  timers: Timer[];
  checkTimer: Timer | undefined;
}

export interface TargetGroupDeps {
  scheduler: Scheduler;
  probe: HealthProbe;
  onEvent?: (event: TargetGroupEvent) => void;
}

export function targetKey(ref: { ip: string; port: number }): string {
  return `${ref.ip}:${ref.port}`;
}

export class TargetGroup {
  readonly name: string;
  readonly params: TargetGroupParams;
  readonly #deps: TargetGroupDeps;
  readonly #targets = new Map<string, TargetRecord>();
  #roundRobin = 0;
  #closed = false;

  constructor(name: string, deps: TargetGroupDeps, options: TargetGroupOptions = {}) {
    this.name = name;
    this.#deps = deps;
    this.params = targetGroupParams(options);
  }

  /** RegisterTargets: shows `initial` at once; the data plane learns of the target after propagation. */
  register(refs: readonly TargetRef[]): void {
    for (const ref of refs) {
      const key = targetKey(ref);
      const existing = this.#targets.get(key);
      if (existing !== undefined && !existing.draining && !existing.unused) continue;
      if (existing !== undefined && existing.draining) {
        this.#reRegister(existing, ref);
        continue;
      }
      const record: TargetRecord = {
        ref,
        key,
        health: "initial",
        reason: "Elb.RegistrationInProgress",
        passes: 0,
        failures: 0,
        probing: false,
        known: false,
        routable: false,
        draining: false,
        unused: false,
        inFlight: new Set(),
        timers: [],
        checkTimer: undefined,
      };
      this.#targets.set(key, record);
      this.#emitState(record, existing === undefined ? "none" : "unused", "registered");
      record.timers.push(
        this.#after(this.params.propagationSeconds, () => {
          this.#learn(record);
        }),
      );
    }
  }

  /** DeregisterTargets: `draining` at once; new requests keep coming until propagation, then drain. */
  deregister(refs: readonly { ip: string; port: number }[]): void {
    for (const ref of refs) {
      const record = this.#targets.get(targetKey(ref));
      if (record === undefined || record.draining || record.unused) continue;
      const from = this.#state(record);
      record.draining = true;
      record.reason = "Target.DeregistrationInProgress";
      record.checkTimer?.cancel();
      record.checkTimer = undefined;
      this.#emit({
        kind: "state",
        at: this.#now(),
        targetGroup: this.name,
        target: record.key,
        from,
        to: "draining",
        reason: "deregistered",
      });
      const propagation = this.params.propagationSeconds;
      const expiry = Math.max(this.params.deregistrationDelaySeconds, propagation);
      record.timers.push(
        this.#after(propagation, () => {
          this.#setRoutable(record, false, "deregistration propagated to the data plane");
          if (record.inFlight.size === 0) this.#finishDrain(record, "no request in flight");
        }),
        this.#after(expiry, () => {
          this.#expireDrain(record);
        }),
      );
    }
  }

  /** Picks a target for one request: round-robin over healthy routable targets, fail-open over the rest. */
  pick(): Pick {
    const routable = [...this.#targets.values()].filter((r) => r.routable);
    if (routable.length === 0) {
      const registered = [...this.#targets.values()].some((r) => !r.unused);
      return {
        kind: "none",
        reason: registered
          ? "no target is in the data plane yet or any more"
          : "the target group has no registered targets",
      };
    }
    const healthy = routable.filter((r) => r.health === "healthy");
    const failOpen = healthy.length === 0;
    const pool = failOpen ? routable : healthy;
    const record = pool[this.#roundRobin++ % pool.length];
    if (record === undefined) return { kind: "none", reason: "no routable target" };
    return { kind: "target", lease: this.#lease(record), failOpen };
  }

  describeTargetHealth(): TargetHealthDescription[] {
    return [...this.#targets.values()].map((r) => ({
      target: r.ref,
      key: r.key,
      state: this.#state(r),
      reason: r.reason,
      inDataPlane: r.routable,
      inFlight: r.inFlight.size,
    }));
  }

  /** The control-plane state of one target, or undefined when it was never registered. */
  stateOf(ref: { ip: string; port: number }): TargetState | undefined {
    const record = this.#targets.get(targetKey(ref));
    return record === undefined ? undefined : this.#state(record);
  }

  /** Targets registered and not yet deregistered (what LBC compares its desired set against). */
  registeredTargets(): TargetRef[] {
    return [...this.#targets.values()].filter((r) => !r.draining && !r.unused).map((r) => r.ref);
  }

  /** Cancels every timer; leases still out are left alone. */
  close(): void {
    this.#closed = true;
    for (const record of this.#targets.values()) this.#cancelTimers(record);
  }

  #reRegister(record: TargetRecord, ref: TargetRef): void {
    this.#cancelTimers(record);
    record.ref = ref;
    record.draining = false;
    record.health = "initial";
    record.reason = "Elb.RegistrationInProgress";
    record.passes = 0;
    record.failures = 0;
    this.#emitState(record, "draining", "registered again while draining");
    if (record.known) this.#scheduleCheck(record, this.params.healthCheck.firstCheckDelaySeconds);
    else
      record.timers.push(
        this.#after(this.params.propagationSeconds, () => {
          this.#learn(record);
        }),
      );
    if (record.known && !record.routable) this.#setRoutable(record, true, "registered again while draining");
  }

  #learn(record: TargetRecord): void {
    record.known = true;
    this.#setRoutable(record, true, "registration propagated to the data plane");
    this.#scheduleCheck(record, this.params.healthCheck.firstCheckDelaySeconds);
  }

  #scheduleCheck(record: TargetRecord, seconds: number): void {
    record.checkTimer?.cancel();
    record.checkTimer = this.#after(seconds, () => {
      record.checkTimer = undefined;
      if (record.draining || record.unused) return;
      this.#check(record);
      this.#scheduleCheck(record, this.params.healthCheck.intervalSeconds);
    });
  }

  #check(record: TargetRecord): void {
    if (record.probing) return;
    record.probing = true;
    const hc = this.params.healthCheck;
    const timeoutMs = this.#ms(hc.timeoutSeconds);
    this.#deps.probe(record.ref, hc.path, timeoutMs).then(
      (result) => {
        record.probing = false;
        this.#applyCheck(record, result);
      },
      (error: unknown) => {
        record.probing = false;
        this.#applyCheck(record, { ok: false, reason: "Target.FailedHealthChecks", detail: String(error) });
      },
    );
  }

  #applyCheck(record: TargetRecord, result: ProbeResult): void {
    if (this.#closed || record.draining || record.unused) return;
    const hc = this.params.healthCheck;
    const from = this.#state(record);
    if (result.ok) {
      record.failures = 0;
      record.passes += 1;
      const needed = record.health === "initial" ? hc.newTargetHealthyThreshold : hc.healthyThreshold;
      if (record.health !== "healthy" && record.passes >= needed) {
        record.health = "healthy";
        record.reason = "";
        this.#emitState(record, from, `${record.passes} consecutive health checks passed`);
      }
      return;
    }
    record.passes = 0;
    record.failures += 1;
    if (record.health !== "unhealthy" && record.failures >= hc.unhealthyThreshold) {
      record.health = "unhealthy";
      record.reason = result.reason;
      this.#emitState(record, from, `${record.failures} consecutive health checks failed: ${result.detail}`);
    }
  }

  #lease(record: TargetRecord): Lease {
    const controller = new AbortController();
    record.inFlight.add(controller);
    let released = false;
    return {
      target: record.ref,
      key: record.key,
      signal: controller.signal,
      release: () => {
        if (released) return;
        released = true;
        record.inFlight.delete(controller);
        if (record.draining && !record.routable && !record.unused && record.inFlight.size === 0) {
          this.#finishDrain(record, "last in-flight request finished");
        }
      },
    };
  }

  #expireDrain(record: TargetRecord): void {
    if (record.unused) return;
    const inFlight = [...record.inFlight];
    if (inFlight.length > 0) {
      this.#emit({
        kind: "drain-expired",
        at: this.#now(),
        targetGroup: this.name,
        target: record.key,
        inFlight: inFlight.length,
      });
    }
    record.inFlight.clear();
    for (const controller of inFlight) controller.abort(new DrainExpiredError(record.key));
    this.#finishDrain(record, "deregistration delay expired");
  }

  #finishDrain(record: TargetRecord, reason: string): void {
    if (record.unused) return;
    this.#cancelTimers(record);
    if (record.routable) this.#setRoutable(record, false, reason);
    record.unused = true;
    record.known = false;
    record.reason = "Target.NotRegistered";
    this.#emit({
      kind: "state",
      at: this.#now(),
      targetGroup: this.name,
      target: record.key,
      from: "draining",
      to: "unused",
      reason,
    });
  }

  #setRoutable(record: TargetRecord, routable: boolean, reason: string): void {
    if (record.routable === routable) return;
    record.routable = routable;
    this.#emit({
      kind: "routing",
      at: this.#now(),
      targetGroup: this.name,
      target: record.key,
      routable,
      reason,
    });
  }

  #state(record: TargetRecord): TargetState {
    if (record.unused) return "unused";
    if (record.draining) return "draining";
    return record.health;
  }

  #emitState(record: TargetRecord, from: TargetState | "none", reason: string): void {
    this.#emit({
      kind: "state",
      at: this.#now(),
      targetGroup: this.name,
      target: record.key,
      from,
      to: this.#state(record),
      reason,
    });
  }

  #emit(event: TargetGroupEvent): void {
    this.#deps.onEvent?.(event);
  }

  #cancelTimers(record: TargetRecord): void {
    for (const timer of record.timers) timer.cancel();
    record.timers = [];
    record.checkTimer?.cancel();
    record.checkTimer = undefined;
  }

  #after(seconds: number, fn: () => void): Timer {
    return this.#deps.scheduler.setTimer(this.#ms(seconds), () => {
      if (!this.#closed) fn();
    });
  }

  #ms(seconds: number): number {
    return seconds * 1000 * this.params.timeScale;
  }

  #now(): number {
    return this.#deps.scheduler.now();
  }
}
