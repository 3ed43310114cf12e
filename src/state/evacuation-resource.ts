/**
 * The `Evacuation` custom resource (lifeboat.dev/v1alpha1, cluster-scoped) <-> the domain `Evacuation`.
 * Pure. Times are RFC 3339 strings in the resource and milliseconds in the domain.
 */
import type {
  Evacuation,
  EvacuationPhase,
  EvacuationTimeline,
  EvictionRecord,
  LeavingInstanceState,
  StoredEvacuation,
  SurgeRecord,
} from "../domain/evacuation.ts";
import { lastPodLeftAt } from "../domain/evacuation.ts";
import type { LifecycleHookRef, NoticeKind } from "../domain/notice.ts";

export const GROUP = "lifeboat.dev";
export const VERSION = "v1alpha1";
export const PLURAL = "evacuations";
export const KIND = "Evacuation";
/** Label with the node's name, so `kubectl get evac -l lifeboat.dev/node=NAME` finds a node's evacuations. */
export const NODE_LABEL = "lifeboat.dev/node";

export interface EvacuationResource {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    creationTimestamp?: string;
  };
  spec: {
    nodeName: string;
    instanceId?: string | undefined;
    mode: Evacuation["mode"];
    noticeKind: NoticeKind;
    noticeIds: string[];
    deadline?: string | undefined;
    /** Absent: none, or a record written before it existed (then read from noticeKind, see fromResource). */
    certainDeadline?: string | undefined;
    noticedAt: string;
    lifecycleHook?: LifecycleHookRef | undefined;
  };
  status?: {
    phase?: EvacuationPhase;
    message?: string;
    instanceGone?: boolean;
    /** Absent: none reported, or a record written before it existed. */
    instanceState?: LeavingInstanceState;
    slackSeconds?: number;
    surges?: {
      id?: string;
      workload: SurgeRecord["workload"];
      pods: string[];
      by: number;
      issuedAt: string;
      retiredAt?: string;
      handedBackAt?: string;
    }[];
    evictions?: { pod: EvictionRecord["pod"]; at: string; outcome: EvictionRecord["outcome"] }[];
    timeline?: Partial<Record<keyof EvacuationTimeline, string>>;
  };
}

/** Defined in the domain, so that the pure fold of notices (src/planner/fold-notice.ts) can build one. */
export type { StoredEvacuation };

const iso = (ms: number): string => new Date(ms).toISOString();
const ms = (s: string): number => {
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new Error(`not an RFC 3339 time: ${s}`);
  return t;
};

/**
 * Seconds to the deadline, null without one; negative = missed. For a Done evacuation, from when the last pod
 * it moved left the node (`lastPodLeftAt`; its end when it moved none): late means a pod still on the node
 * when the node died, not a surge taken back after its doomed pods had left. Otherwise from now.
 */
export function slackSeconds(e: Evacuation, now: number): number | null {
  if (e.deadline === null) return null;
  const doneAt = e.timeline.doneAt;
  const end = doneAt === undefined ? now : (lastPodLeftAt(e, doneAt) ?? doneAt);
  return Math.round((e.deadline - end) / 100) / 10;
}

export function toResource(s: StoredEvacuation, now: number): EvacuationResource {
  const e = s.evacuation;
  const timeline: Partial<Record<keyof EvacuationTimeline, string>> = {};
  for (const [k, v] of Object.entries(e.timeline) as [keyof EvacuationTimeline, number | undefined][]) {
    if (v !== undefined) timeline[k] = iso(v);
  }
  const slack = slackSeconds(e, now);
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: KIND,
    metadata: {
      name: e.name,
      labels: { [NODE_LABEL]: e.nodeName.slice(0, 63) },
      ...(s.resourceVersion === undefined ? {} : { resourceVersion: s.resourceVersion }),
    },
    spec: {
      nodeName: e.nodeName,
      ...(e.instanceId === null ? {} : { instanceId: e.instanceId }),
      mode: e.mode,
      noticeKind: e.noticeKind,
      noticeIds: e.noticeIds,
      ...(e.deadline === null ? {} : { deadline: iso(e.deadline) }),
      ...(e.certainDeadline === null ? {} : { certainDeadline: iso(e.certainDeadline) }),
      noticedAt: iso(e.noticedAt),
      ...(s.lifecycleHook === null ? {} : { lifecycleHook: s.lifecycleHook }),
    },
    status: {
      phase: e.phase,
      message: s.message,
      instanceGone: e.instanceGone,
      ...(e.instanceState === null ? {} : { instanceState: e.instanceState }),
      ...(slack === null ? {} : { slackSeconds: slack }),
      surges: e.surges.map((r) => ({
        ...(r.id === undefined ? {} : { id: r.id }),
        workload: r.workload,
        pods: r.pods,
        by: r.by,
        issuedAt: iso(r.issuedAt),
        ...(r.retiredAt === null ? {} : { retiredAt: iso(r.retiredAt) }),
        ...(r.handedBackAt === undefined ? {} : { handedBackAt: iso(r.handedBackAt) }),
      })),
      evictions: e.evictions.map((r) => ({ pod: r.pod, at: iso(r.at), outcome: r.outcome })),
      timeline,
    },
  };
}

/**
 * A record without spec.certainDeadline: none, or one written before it existed. Those were spot warnings
 * and state changes (whose deadline is the node's end) or kinds whose deadline is not (a scheduled change of
 * unknown kind counts as not), as deathIsCertain decides for the kind that set the deadline.
 */
function certainDeadlineOf(r: EvacuationResource, deadline: number | null): number | null {
  if (r.spec.certainDeadline !== undefined) return ms(r.spec.certainDeadline);
  const kind = r.spec.noticeKind;
  return kind === "spot-interruption" || kind === "instance-state-change" ? deadline : null;
}

export function fromResource(r: EvacuationResource): StoredEvacuation {
  const st = r.status ?? {};
  const timeline: EvacuationTimeline = { noticedAt: ms(st.timeline?.noticedAt ?? r.spec.noticedAt) };
  for (const [k, v] of Object.entries(st.timeline ?? {}) as [
    keyof EvacuationTimeline,
    string | undefined,
  ][]) {
    if (v !== undefined) timeline[k] = ms(v);
  }
  const deadline = r.spec.deadline === undefined ? null : ms(r.spec.deadline);
  return {
    evacuation: {
      name: r.metadata.name,
      nodeName: r.spec.nodeName,
      instanceId: r.spec.instanceId ?? null,
      mode: r.spec.mode,
      noticeIds: r.spec.noticeIds,
      noticeKind: r.spec.noticeKind,
      deadline,
      certainDeadline: certainDeadlineOf(r, deadline),
      noticedAt: ms(r.spec.noticedAt),
      phase: st.phase ?? "Pending",
      surges: (st.surges ?? []).map((x) => ({
        ...(x.id === undefined ? {} : { id: x.id }),
        workload: x.workload,
        pods: x.pods,
        by: x.by,
        issuedAt: ms(x.issuedAt),
        retiredAt: x.retiredAt === undefined ? null : ms(x.retiredAt),
        ...(x.handedBackAt === undefined ? {} : { handedBackAt: ms(x.handedBackAt) }),
      })),
      evictions: (st.evictions ?? []).map((x) => ({ pod: x.pod, at: ms(x.at), outcome: x.outcome })),
      timeline,
      instanceGone: st.instanceGone ?? false,
      instanceState: st.instanceState ?? null,
    },
    lifecycleHook: r.spec.lifecycleHook ?? null,
    message: st.message ?? "",
    resourceVersion: r.metadata.resourceVersion,
  };
}
