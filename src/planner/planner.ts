/**
 * The pure, deadline-aware planner: cluster snapshot + every active evacuation + now + budgets -> one plan.
 * No I/O, no clock: `now` is an input, so the same input always gives the same plan.
 *
 * The shape of an evacuation, per pod on a doomed node:
 * - Deployment / bare ReplicaSet: surge (+k, doomed pods marked with a low pod-deletion-cost), wait until the
 *   replacements are Ready, retire (-k) so the ReplicaSet removes the doomed pods, evict any it left behind.
 *   At the pod's last responsible moment (LRM) it is evicted whether or not the replacements are Ready.
 * - StatefulSet, Job, other controllers: evict at once (the replacement needs the old pod gone).
 * - Bare pods: evict at the LRM (nothing replaces them, so they serve as long as it is safe).
 * - DaemonSet and mirror pods: left alone.
 * - Instance already gone: force-delete everything but mirror pods.
 */
import type { Evacuation, SurgeRecord } from "../domain/evacuation.ts";
import { isActive } from "../domain/evacuation.ts";
import type { Plan, Skip, Step, SurgeAttribution, SurgeRecordRef } from "../domain/plan.ts";
import { EVACUATING_TAINT_KEY, EXCLUDE_FROM_LB_LABEL } from "../domain/plan.ts";
import type { ClusterSnapshot, NodeView, PodView, Resources, WorkloadView } from "../domain/snapshot.ts";
import { matchesLabels, podKey, workloadKey } from "../domain/snapshot.ts";
import type { Budgets } from "./budgets.ts";
import { drainBudgetSeconds, lastResponsibleMoment } from "./budgets.ts";

export interface PlanInput {
  snapshot: ClusterSnapshot;
  /** Every evacuation known (Done and Failed ones are ignored except that their surge records still count). */
  evacuations: readonly Evacuation[];
  now: number;
  budgets: Budgets;
}

type StepOf<K extends Step["kind"]> = Extract<Step, { kind: K }>;

/** A pod on an evacuating node that lifeboat has to move. */
interface Doomed {
  pod: PodView;
  evac: Evacuation;
  /** Last responsible moment to start deleting it (ms); null without a deadline. */
  lrm: number | null;
}

interface RecordHit {
  evac: Evacuation;
  index: number;
  record: SurgeRecord;
}

export function planEvacuations(input: PlanInput): Plan {
  return new Planner(input).plan();
}

/** True when the evacuation may remove pods: a real evacuation, or a prewarm that has learned its deadline. */
function canMove(evac: Evacuation): boolean {
  return evac.mode === "evacuate" || evac.deadline !== null;
}

function isFinished(pod: PodView): boolean {
  return pod.phase === "Succeeded" || pod.phase === "Failed";
}

/** "in 12 s", "3 s ago", "now": plans talk in times relative to `now` so their reasons are readable. */
function rel(at: number, now: number): string {
  const s = Math.round((at - now) / 1000);
  if (s === 0) return "now";
  return s > 0 ? `in ${s} s` : `${-s} s ago`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

class Planner {
  readonly #snapshot: ClusterSnapshot;
  readonly #now: number;
  readonly #budgets: Budgets;
  readonly #all: readonly Evacuation[];
  readonly #active: Evacuation[];
  /** Evacuations that cordon their node (modes evacuate and prewarm), first one per node. */
  readonly #moving: Evacuation[];
  readonly #evacuatingNodes: Set<string>;
  readonly #nodes: Map<string, NodeView>;
  readonly #workloads: Map<string, WorkloadView>;

  // Steps by kind, concatenated in execution order at the end.
  readonly #cordons: Step[] = [];
  readonly #forceDeletes: Step[] = [];
  readonly #surges: Step[] = [];
  readonly #retires: Step[] = [];
  readonly #evicts: StepOf<"evict">[] = [];
  readonly #warns: Step[] = [];
  readonly #completes: Step[] = [];
  readonly #waits = new Map<string, StepOf<"wait">>();
  readonly #skipped: Skip[] = [];

  constructor(input: PlanInput) {
    this.#snapshot = input.snapshot;
    this.#now = input.now;
    this.#budgets = input.budgets;
    this.#all = input.evacuations;
    this.#active = input.evacuations.filter(isActive);
    const seen = new Set<string>();
    this.#moving = this.#active.filter((e) => {
      if (e.mode === "taint-only" || seen.has(e.nodeName)) return false;
      seen.add(e.nodeName);
      return true;
    });
    this.#evacuatingNodes = seen;
    this.#nodes = new Map(input.snapshot.nodes.map((n) => [n.name, n]));
    this.#workloads = new Map(input.snapshot.workloads.map((w) => [workloadKey(w.ref), w]));
  }

  plan(): Plan {
    this.#taintOnly();
    this.#cordon();
    const doomed = this.#classify();
    this.#deployments(doomed.byWorkload);
    this.#evictAtOnce(doomed.atOnce);
    this.#evictAtLrm(doomed.atLrm, doomed);
    this.#shortPreStopWarnings([
      ...[...doomed.byWorkload.values()].flat(),
      ...doomed.atOnce,
      ...doomed.atLrm,
    ]);
    this.#pdbWarnings();
    this.#complete();

    const waits = [...this.#waits.values()];
    const untils = waits.map((w) => w.until).filter((u): u is number => u !== null);
    return {
      // Invariant (make before break): every cordon comes before any surge, every surge before any retire or
      // eviction. The executor runs steps in order, so no replacement can land on a node still being emptied.
      steps: [
        ...this.#cordons,
        ...this.#forceDeletes,
        ...this.#surges,
        ...this.#retires,
        ...this.#evicts,
        ...this.#warns,
        ...this.#completes,
        ...waits,
      ],
      skipped: this.#skipped,
      nextReviewAt: untils.length === 0 ? null : Math.min(...untils),
    };
  }

  // ---- nodes ----------------------------------------------------------------------------------------

  #taintOnly(): void {
    for (const evac of this.#active) {
      if (evac.mode !== "taint-only" || this.#evacuatingNodes.has(evac.nodeName)) continue;
      const node = this.#nodes.get(evac.nodeName);
      if (node === undefined) continue;
      const tainted = node.taints.some(
        (t) => t.key === EVACUATING_TAINT_KEY && t.effect === "PreferNoSchedule",
      );
      if (tainted) continue;
      this.#cordons.push({
        kind: "taint-prefer-no-schedule",
        node: node.name,
        evacuation: evac.name,
        reason: `${evac.noticeKind} for ${node.name} (policy taint-only): taint ${EVACUATING_TAINT_KEY}:PreferNoSchedule so the scheduler avoids the node while it is at risk; nothing is moved`,
      });
    }
  }

  #cordon(): void {
    // Invariant: every evacuating node is cordoned before anything is surged anywhere, so replacements of one
    // node's pods never land on another node that is being evacuated (aws-node-termination-handler#537).
    for (const evac of this.#moving) {
      const node = this.#nodes.get(evac.nodeName);
      if (node === undefined) continue;
      const done =
        node.unschedulable &&
        node.taints.some((t) => t.key === EVACUATING_TAINT_KEY && t.effect === "NoSchedule") &&
        node.labels[EXCLUDE_FROM_LB_LABEL] === "true";
      if (done) continue;
      const deadline =
        evac.deadline === null ? "no deadline yet" : `deadline ${rel(evac.deadline, this.#now)}`;
      this.#cordons.push({
        kind: "cordon",
        node: node.name,
        evacuation: evac.name,
        reason: `${evac.noticeKind} for ${evac.instanceId ?? node.name} (${deadline}): cordon, taint ${EVACUATING_TAINT_KEY}:NoSchedule and label ${EXCLUDE_FROM_LB_LABEL}=true so nothing new lands here and instance-mode target groups let the node go`,
      });
    }
  }

  // ---- pods -----------------------------------------------------------------------------------------

  #classify(): { byWorkload: Map<string, Doomed[]>; atOnce: Doomed[]; atLrm: Doomed[] } {
    const byWorkload = new Map<string, Doomed[]>();
    const atOnce: Doomed[] = [];
    const atLrm: Doomed[] = [];
    for (const evac of this.#moving) {
      for (const pod of this.#snapshot.pods) {
        if (pod.nodeName !== evac.nodeName) continue;
        if (evac.instanceGone) {
          this.#forceDelete(pod, evac);
          continue;
        }
        if (pod.mirror) {
          this.#skip(pod, evac, "mirror pod of a static pod: the kubelet owns it, the API cannot move it");
          continue;
        }
        if (pod.owner?.kind === "DaemonSet") {
          this.#skip(
            pod,
            evac,
            `DaemonSet pod (${pod.owner.name}): it runs on every node and goes with this one`,
          );
          continue;
        }
        if (isFinished(pod)) {
          this.#skip(pod, evac, `already finished (${pod.phase}): nothing to move`);
          continue;
        }
        if (pod.deleting) continue; // already leaving; completion waits for it to be gone
        const d: Doomed = {
          pod,
          evac,
          lrm: lastResponsibleMoment(evac.deadline, pod.preStopSeconds, this.#budgets),
        };
        const owner = pod.owner;
        if (owner === null) {
          atLrm.push(d);
        } else if (owner.kind === "Deployment" || owner.kind === "ReplicaSet") {
          if (this.#workloads.has(workloadKey(owner))) {
            const key = workloadKey(owner);
            byWorkload.set(key, [...(byWorkload.get(key) ?? []), d]);
          } else {
            atLrm.push(d); // cannot judge its replacements without the workload: treat it like a bare pod
          }
        } else {
          atOnce.push(d);
        }
      }
    }
    return { byWorkload, atOnce, atLrm };
  }

  #forceDelete(pod: PodView, evac: Evacuation): void {
    if (pod.mirror) {
      this.#skip(pod, evac, "mirror pod of a static pod: it disappears with the node");
      return;
    }
    this.#forceDeletes.push({
      kind: "force-delete",
      pod: { namespace: pod.namespace, name: pod.name },
      node: evac.nodeName,
      evacuation: evac.name,
      reason: `instance ${evac.instanceId ?? evac.nodeName} is shutting down or terminated: the pod cannot run (or run its preStop) any more; delete it now so endpoints and its controller let go at once instead of after the node-monitor grace period`,
    });
  }

  #skip(pod: PodView, evac: Evacuation, reason: string): void {
    this.#skipped.push({ pod: { namespace: pod.namespace, name: pod.name }, node: evac.nodeName, reason });
  }

  #evict(d: Doomed, reason: string, options: { atLrm?: boolean } = {}): void {
    this.#evicts.push({
      kind: "evict",
      pod: { namespace: d.pod.namespace, name: d.pod.name },
      node: d.evac.nodeName,
      evacuation: d.evac.name,
      reason,
      ...(options.atLrm === true ? { lastResponsibleMoment: true } : {}),
    });
  }

  /** Keeps one wait per subject, the earliest. */
  #wait(subject: string, until: number | null, reason: string): void {
    const prior = this.#waits.get(subject);
    if (prior !== undefined && (until === null || (prior.until !== null && prior.until <= until))) return;
    this.#waits.set(subject, { kind: "wait", until, subject, reason });
  }

  #lrmText(d: Doomed): string {
    const drain = drainBudgetSeconds(d.pod.preStopSeconds, this.#budgets);
    const deadline = d.evac.deadline === null ? "?" : rel(d.evac.deadline, this.#now);
    return `deadline ${deadline} - drain ${drain} s - margin ${this.#budgets.safetyMarginSeconds} s`;
  }

  // ---- Deployments and bare ReplicaSets: surge, retire, check ------------------------------------------

  /** Every surge record naming `pod` of workload `key`, across all evacuations (Done ones included). */
  #recordFor(key: string, pod: string): RecordHit | undefined {
    for (const evac of this.#all) {
      for (const [index, record] of evac.surges.entries()) {
        if (workloadKey(record.workload) === key && record.pods.includes(pod)) return { evac, index, record };
      }
    }
    return undefined;
  }

  /** Unretired surge records of `key` in active evacuations: together they are what spec.replicas holds extra. */
  #outstanding(key: string): RecordHit[] {
    const hits: RecordHit[] = [];
    for (const evac of this.#active) {
      for (const [index, record] of evac.surges.entries()) {
        if (workloadKey(record.workload) === key && record.retiredAt === null)
          hits.push({ evac, index, record });
      }
    }
    return hits;
  }

  #deployments(byWorkload: Map<string, Doomed[]>): void {
    const keys = new Set(byWorkload.keys());
    for (const evac of this.#active)
      for (const s of evac.surges) if (s.retiredAt === null) keys.add(workloadKey(s.workload));
    const surged: { view: WorkloadView; pods: Doomed[] }[] = [];
    for (const key of keys) {
      const view = this.#workloads.get(key);
      const pods = byWorkload.get(key) ?? [];
      const fresh = this.#workload(key, view, pods);
      if (view !== undefined && fresh.length > 0) surged.push({ view, pods: fresh });
    }
    this.#capacityWarnings(surged);
  }

  /** Plans one workload; returns the pods surged in this plan. */
  #workload(key: string, view: WorkloadView | undefined, pods: Doomed[]): Doomed[] {
    const now = this.#now;
    // Invariant: one surge per workload covers all its doomed pods across nodes, and a pod named in any surge
    // record (these persist in the Evacuation status) is never surged again, even by a restarted controller.
    const uncovered = pods.filter((d) => this.#recordFor(key, d.pod.name) === undefined);
    if (view !== undefined && uncovered.length > 0) this.#surge(key, view, uncovered);

    const outstanding = this.#outstanding(key);
    const k = outstanding.reduce((sum, h) => sum + h.record.by, 0);
    const readyOff = this.#readyOutside(key);
    const desired = view === undefined ? null : view.specReplicas - k;
    // creationTimestamp has whole-second precision: a replacement created 0.4 s after the surge can carry a
    // timestamp 0.6 s before it. Compare at the API's precision.
    const earliest = Math.floor(Math.min(...outstanding.map((h) => h.record.issuedAt)) / 1000) * 1000;
    const freshReady = readyOff.filter((p) => p.createdAt >= earliest).length;
    // Replacements are Ready when Ready pods outside evacuating nodes reach the count wanted before the surge
    // (spec.replicas - k) and at least k of them came up since the surge (guards against a snapshot whose
    // spec.replicas predates the surge), or the workload is full without the doomed pods at all.
    const ready =
      view !== undefined &&
      desired !== null &&
      k > 0 &&
      readyOff.length >= desired &&
      (freshReady >= k || readyOff.length >= view.specReplicas);
    const readiness = `${readyOff.length} Ready outside evacuating nodes, ${desired ?? "?"} wanted`;

    const eligible = outstanding.filter((h) => canMove(h.evac));
    const retiredNow = new Set<string>();
    // Invariant: never surge and retire one workload in the same plan: the ReplicaSet would rank the fresh,
    // unready replacements first for deletion and undo the surge.
    if (ready && eligible.length > 0 && uncovered.length === 0 && view !== undefined) {
      const by = eligible.reduce((sum, h) => sum + h.record.by, 0);
      const names = eligible.flatMap((h) => h.record.pods);
      for (const n of names) retiredNow.add(n);
      const present = names.filter((n) => pods.some((d) => d.pod.name === n));
      const refs: SurgeRecordRef[] = eligible.map((h) => ({ evacuation: h.evac.name, index: h.index }));
      // Relative change only (-by, never "back to N"): an HPA or a user may have scaled meanwhile.
      this.#retires.push({
        kind: "retire",
        workload: view.ref,
        by,
        pods: present,
        records: refs,
        reason: `replacements Ready (${readiness}): scale -${by} so the ReplicaSet removes the doomed pods (lowest pod-deletion-cost)`,
      });
    }

    const awaiting: Doomed[] = [];
    const prewarmed: Doomed[] = [];
    for (const d of pods) {
      if (retiredNow.has(d.pod.name)) continue;
      const hit = this.#recordFor(key, d.pod.name);
      const lrmPassed = d.lrm !== null && now >= d.lrm;
      if (hit !== undefined && hit.record.retiredAt !== null) {
        // Check the outcome, not the intent: the ReplicaSet ranks unready pods before deletion cost, so after
        // a scale-down it may have removed another pod and kept this one.
        const checkAt = hit.record.retiredAt + this.#budgets.retireCheckSeconds * 1000;
        if (now >= checkAt || lrmPassed) {
          this.#evict(
            d,
            `scaled ${key} -${hit.record.by} ${rel(hit.record.retiredAt, now)} but the ReplicaSet kept this doomed pod (it removes unready pods before low deletion-cost ones): evict it`,
          );
        } else {
          this.#wait(
            podKey(d.pod),
            d.lrm === null ? checkAt : Math.min(checkAt, d.lrm),
            `scaled ${key} -${hit.record.by} ${rel(hit.record.retiredAt, now)}: checking that the ReplicaSet removes this doomed pod`,
          );
        }
      } else if (lrmPassed) {
        // Invariant: at the last responsible moment the pod goes, replacements Ready or not, so it is out of
        // the load balancer (preStop + propagation) before the node dies. The surge stays and is retired later.
        const dip = ready
          ? ""
          : `; replacements not Ready yet (${readiness}): capacity dips by one until they are`;
        this.#evict(
          d,
          `last responsible moment was ${rel(d.lrm ?? now, now)} (${this.#lrmText(d)}): evict now so the pod leaves the load balancer before the node dies${dip}`,
          { atLrm: true },
        );
      } else if (!canMove(d.evac)) {
        prewarmed.push(d);
      } else {
        awaiting.push(d);
      }
    }

    if (awaiting.length > 0 || (!ready && eligible.length > 0)) {
      // Invariant: before the LRM, nothing is removed while replacements are not Ready; look again at the LRM.
      const lrms = awaiting.map((d) => d.lrm).filter((l): l is number => l !== null);
      const review = now + this.#budgets.reviewIntervalSeconds * 1000;
      const until = Math.min(review, ...lrms);
      const lrmText =
        lrms.length === 0 ? "no deadline" : `last responsible moment ${rel(Math.min(...lrms), now)}`;
      const status = k > 0 ? readiness : `surge of ${uncovered.length} just issued`;
      const then =
        awaiting.length > 0
          ? `removing ${plural(awaiting.length, "doomed pod")}; ${lrmText}`
          : `scaling -${eligible.reduce((sum, h) => sum + h.record.by, 0)} back`;
      this.#wait(key, until, `waiting for replacements of ${key} to be Ready (${status}) before ${then}`);
    }
    if (prewarmed.length > 0) {
      this.#wait(
        key,
        null,
        `prewarm: ${plural(prewarmed.length, "replacement")} of ${key} surged; the doomed pods stay until a deadline is known`,
      );
    }
    return view === undefined ? [] : uncovered;
  }

  #surge(key: string, view: WorkloadView, uncovered: Doomed[]): void {
    const records: SurgeAttribution[] = [];
    for (const d of uncovered) {
      const r = records.find((x) => x.evacuation === d.evac.name);
      if (r === undefined) records.push({ evacuation: d.evac.name, pods: [d.pod.name] });
      else r.pods.push(d.pod.name);
    }
    const nodes = [...new Set(uncovered.map((d) => d.evac.nodeName))].join(", ");
    const by = uncovered.length;
    // Invariant (make before break): the surge is issued before any of these pods is retired or evicted;
    // the deletion cost is set before the scale-up so that any scale-down from then on picks the doomed pods.
    this.#surges.push({
      kind: "surge",
      workload: view.ref,
      by,
      pods: uncovered.map((d) => d.pod.name),
      deletionCost: this.#budgets.deletionCost,
      records,
      reason: `${plural(by, "pod")} of ${key} on evacuating node(s) ${nodes}: add ${by} replica(s) elsewhere before any is removed (make before break); mark the doomed pods with pod-deletion-cost ${this.#budgets.deletionCost} so the later scale-down removes them`,
    });
    if (view.hpa !== null && view.specReplicas + by > view.hpa.max) {
      this.#warns.push({
        kind: "warn",
        code: "SurgeAboveHpaMax",
        subject: key,
        reason: `surge takes replicas to ${view.specReplicas + by}, above the HPA max ${view.hpa.max}: the HPA will scale back and remove doomed pods before their replacements are Ready`,
      });
    }
    const lrms = uncovered.map((d) => d.lrm).filter((l): l is number => l !== null);
    const expected = view.expectedReadySeconds ?? this.#budgets.defaultReadySeconds;
    if (lrms.length > 0 && this.#now + expected * 1000 > Math.min(...lrms)) {
      this.#warns.push({
        kind: "warn",
        code: "SurgeMissesDeadline",
        subject: key,
        reason: `replacements take about ${expected} s to be Ready but the last responsible moment is ${rel(Math.min(...lrms), this.#now)}: the doomed pods will be evicted first and capacity will dip until the replacements are Ready`,
      });
    }
  }

  /** Ready, not terminating pods of `key` on nodes that are not being evacuated: the only real replacements. */
  #readyOutside(key: string): PodView[] {
    // Invariant: replacement capacity never counts evacuating nodes.
    return this.#snapshot.pods.filter(
      (p) =>
        p.owner !== null &&
        workloadKey(p.owner) === key &&
        p.ready &&
        !p.deleting &&
        p.nodeName !== null &&
        !this.#evacuatingNodes.has(p.nodeName),
    );
  }

  /** First-fit of the surged pods' requests into the free room of schedulable nodes outside the evacuation. */
  #capacityWarnings(surged: { view: WorkloadView; pods: Doomed[] }[]): void {
    if (surged.length === 0) return;
    const free = this.#freeRoom();
    for (const { view, pods } of surged) {
      let misfits = 0;
      for (const d of pods) {
        const slot = free.find(
          (f) =>
            f.pods >= 1 &&
            f.cpuMilli >= d.pod.requests.cpuMilli &&
            f.memoryBytes >= d.pod.requests.memoryBytes,
        );
        if (slot === undefined) {
          misfits++;
          continue;
        }
        slot.pods -= 1;
        slot.cpuMilli -= d.pod.requests.cpuMilli;
        slot.memoryBytes -= d.pod.requests.memoryBytes;
      }
      if (misfits > 0) {
        this.#warns.push({
          kind: "warn",
          code: "InsufficientCapacity",
          subject: workloadKey(view.ref),
          reason: `${misfits} of ${plural(pods.length, "replacement")} do not fit on the schedulable nodes outside the evacuation (requests counted, tolerations ignored): they stay Pending until a node joins`,
        });
      }
    }
  }

  #freeRoom(): (Resources & { pods: number })[] {
    const eligible = this.#snapshot.nodes.filter(
      (n) =>
        n.ready &&
        !n.unschedulable &&
        !this.#evacuatingNodes.has(n.name) &&
        !n.taints.some((t) => t.effect === "NoSchedule" || t.effect === "NoExecute"),
    );
    return eligible.map((n) => {
      const used = this.#snapshot.pods.filter((p) => p.nodeName === n.name && !isFinished(p));
      return {
        pods: n.allocatable.pods - used.length,
        cpuMilli: n.allocatable.cpuMilli - used.reduce((s, p) => s + p.requests.cpuMilli, 0),
        memoryBytes: n.allocatable.memoryBytes - used.reduce((s, p) => s + p.requests.memoryBytes, 0),
      };
    });
  }

  // ---- what cannot surge ----------------------------------------------------------------------------

  #evictAtOnce(pods: Doomed[]): void {
    for (const d of pods) {
      const owner = d.pod.owner;
      if (owner === null) continue;
      if (!canMove(d.evac)) {
        this.#wait(
          podKey(d.pod),
          null,
          `prewarm: ${owner.kind} pod cannot surge; it moves once a deadline is known`,
        );
        continue;
      }
      const why =
        owner.kind === "StatefulSet"
          ? `StatefulSet ${owner.name} replaces a pod only once the old one is gone (same identity)`
          : owner.kind === "Job"
            ? `Job ${owner.name} cannot surge; its controller starts a replacement once this pod is gone`
            : `owner ${owner.kind}/${owner.name} is not a workload lifeboat can scale`;
      this.#evict(d, `${why}: evict at once so the replacement gets the most time before the deadline`);
    }
  }

  #evictAtLrm(pods: Doomed[], all: { byWorkload: Map<string, Doomed[]>; atOnce: Doomed[] }): void {
    const now = this.#now;
    for (const d of pods) {
      const what =
        d.pod.owner === null
          ? "bare pod: nothing replaces it"
          : `${workloadKey(d.pod.owner)} is not in the snapshot: its replacements cannot be judged`;
      if (d.lrm !== null) {
        if (now >= d.lrm) {
          this.#evict(
            d,
            `${what}; it served until its last responsible moment (${rel(d.lrm, now)}: ${this.#lrmText(d)}): evict now`,
          );
        } else {
          this.#wait(
            podKey(d.pod),
            d.lrm,
            `${what}; it keeps serving until its last responsible moment ${rel(d.lrm, now)} (${this.#lrmText(d)})`,
          );
        }
        continue;
      }
      if (!canMove(d.evac)) {
        this.#wait(podKey(d.pod), null, `prewarm: ${what}; it moves once a deadline is known`);
        continue;
      }
      // No deadline: such pods go last, once everything else on the node has moved and every surge is retired.
      const othersLeft =
        [...all.byWorkload.values()].flat().some((o) => o.evac === d.evac) ||
        all.atOnce.some((o) => o.evac === d.evac) ||
        d.evac.surges.some((s) => s.retiredAt === null);
      if (othersLeft) {
        this.#wait(
          podKey(d.pod),
          null,
          `${what}; no deadline, so it is evicted last, once the rest of ${d.evac.nodeName} has moved`,
        );
      } else {
        this.#evict(d, `${what}; no deadline and the rest of ${d.evac.nodeName} has moved: evict it last`);
      }
    }
  }

  // ---- warnings -------------------------------------------------------------------------------------

  #shortPreStopWarnings(doomed: Doomed[]): void {
    const lb = this.#budgets.lbPropagationSeconds;
    const groups = new Map<string, PodView[]>();
    for (const { pod } of doomed) {
      if ((pod.preStopSeconds ?? 0) >= lb) continue;
      const subject = pod.owner === null ? `Pod/${podKey(pod)}` : workloadKey(pod.owner);
      groups.set(subject, [...(groups.get(subject) ?? []), pod]);
    }
    for (const [subject, pods] of groups) {
      const shortest = Math.min(...pods.map((p) => p.preStopSeconds ?? 0));
      const sleep = pods.some((p) => p.preStopSeconds === null)
        ? "no preStop sleep"
        : `preStop sleep ${shortest} s`;
      this.#warns.push({
        kind: "warn",
        code: "ShortPreStop",
        subject,
        reason: `${sleep} on ${pods.map((p) => p.name).join(", ")}, shorter than the load balancer propagation (${lb} s): after deletion the ALB keeps sending new requests for up to ${lb} s and they hit a closed socket (502); add a preStop sleep of at least ${lb} s`,
      });
    }
  }

  #pdbWarnings(): void {
    // Evictions go through the Eviction API: the executor retries a 429. The plan only says it will happen.
    for (const pdb of this.#snapshot.pdbs) {
      if (pdb.disruptionsAllowed > 0) continue;
      const blocked = this.#evicts.filter((e) => {
        if (e.pod.namespace !== pdb.namespace) return false;
        const pod = this.#snapshot.pods.find((p) => p.namespace === e.pod.namespace && p.name === e.pod.name);
        return pod !== undefined && matchesLabels(pdb.matchLabels, pod.labels);
      });
      if (blocked.length === 0) continue;
      this.#warns.push({
        kind: "warn",
        code: "PdbBlocksEviction",
        subject: `PodDisruptionBudget/${pdb.namespace}/${pdb.name}`,
        reason: `allows ${pdb.disruptionsAllowed} disruptions now: evicting ${blocked.map((e) => e.pod.name).join(", ")} will be refused (429) and retried until it allows one`,
      });
    }
  }

  // ---- completion -----------------------------------------------------------------------------------

  #complete(): void {
    for (const evac of this.#moving) {
      if (!canMove(evac)) continue; // prewarm keeps its surge until a deadline comes
      const left = this.#snapshot.pods.filter(
        (p) =>
          p.nodeName === evac.nodeName &&
          !p.mirror &&
          p.owner?.kind !== "DaemonSet" &&
          (evac.instanceGone || !isFinished(p)),
      );
      const unretired = evac.surges.filter((s) => s.retiredAt === null).length;
      if (left.length === 0 && unretired === 0) {
        this.#completes.push({
          kind: "complete",
          evacuation: evac.name,
          reason: `${evac.nodeName} holds no pod lifeboat must move and every surge is retired`,
        });
      } else if (left.length > 0 && left.every((p) => p.deleting) && !evac.instanceGone) {
        // Not done while a pod still runs its preStop: completing may let the instance go (ASG hook) mid-drain.
        this.#wait(
          evac.nodeName,
          null,
          `${plural(left.length, "pod")} on ${evac.nodeName} still terminating (preStop and grace period running)`,
        );
      }
    }
  }
}
