/**
 * The surge ledger: lifeboat's record of its own replica changes, kept ON the workload it scales, in the
 * annotation `lifeboat.dev/surge-ledger`, and written in the same optimistic-concurrency update as
 * `spec.replicas`. A scale change and its record therefore commit together or not at all: no failure or
 * crash between two writes can make lifeboat surge (+k) or retire (-k) twice.
 *
 * Annotation value (JSON):
 *   {"v":1,"replicas":5,"surges":[{"id":"<evacuation>/<first pod>","evacuation":"<Evacuation name>",
 *     "pods":["web-7d9f-abcde"],"by":1,"issuedAt":"2026-01-01T00:00:00.000Z","retiredAt":"..."}]}
 * - `replicas`: the spec.replicas written by the same write. A different spec.replicas means someone else
 *   (an HPA, a person) scaled the workload since: its open surges are then handed back, never taken off
 *   the count they chose. Both live on one object, so an informer never shows one without the other;
 * - one entry per (evacuation, surge): the doomed pods it replaces and how many replicas it added;
 * - `retiredAt` is set by the write that removes the same `by` again (absent while the surge is open);
 * - retired entries are dropped by a later write once older than RETIRED_RETENTION_MS.
 * Idempotency: a surge adds only pods that no entry names yet (a pod is surged at most once, ever); a
 * retire changes only entries that are still open. Re-issuing either after an unknown outcome is a no-op.
 *
 * The Evacuation status keeps a copy (a cache) of its entries; the ledger wins where they differ.
 * Pure: no I/O, times in ms.
 */
import { errorMessage } from "./error-message.ts";

export const SURGE_LEDGER_ANNOTATION = "lifeboat.dev/surge-ledger";
/** Retired entries older than this are dropped at the next ledger write (1 h). */
export const RETIRED_RETENTION_MS = 60 * 60 * 1000;

export interface LedgerEntry {
  /** `<evacuation>/<first pod>`: unique, since a pod is surged at most once. */
  id: string;
  /** Name of the Evacuation that surged. */
  evacuation: string;
  /** Doomed pods (names in the workload's namespace) this surge replaces. */
  pods: string[];
  /** Replicas added. */
  by: number;
  issuedAt: number;
  /** When the same `by` was removed again, or the entry handed back; null while open. */
  retiredAt: number | null;
  /**
   * Set (with retiredAt) when the entry was closed without removing `by`: someone else scaled the workload
   * (or scaled it below the surge), so the count is theirs. Its pods may be surged again (a new entry).
   */
  handedBackAt?: number;
}

export type LedgerRead =
  | {
      kind: "ok";
      entries: LedgerEntry[];
      /** spec.replicas as lifeboat last wrote it with this ledger; null when not recorded. */
      replicas: number | null;
    }
  | { kind: "malformed"; reason: string };

export function surgeId(evacuation: string, pods: readonly string[]): string {
  return `${evacuation}/${pods[0] ?? ""}`;
}

/** Reads the annotation's value (undefined: no ledger yet, i.e. empty). */
export function parseLedger(value: string | undefined): LedgerRead {
  if (value === undefined || value.trim() === "") return { kind: "ok", entries: [], replicas: null };
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch (err) {
    return { kind: "malformed", reason: `not JSON: ${errorMessage(err)}` };
  }
  if (typeof raw !== "object" || raw === null || !("surges" in raw) || !Array.isArray(raw.surges))
    return { kind: "malformed", reason: 'expected {"v":1,"surges":[...]}' };
  const entries: LedgerEntry[] = [];
  for (const [i, e] of (raw.surges as unknown[]).entries()) {
    const entry = toEntry(e);
    if (entry === null) return { kind: "malformed", reason: `surges[${i}] is not a ledger entry` };
    entries.push(entry);
  }
  const replicas = "replicas" in raw ? raw.replicas : undefined;
  return {
    kind: "ok",
    entries,
    replicas: typeof replicas === "number" && Number.isInteger(replicas) && replicas >= 0 ? replicas : null,
  };
}

function toEntry(e: unknown): LedgerEntry | null {
  if (typeof e !== "object" || e === null) return null;
  const r = e as Record<string, unknown>;
  const issuedAt = typeof r["issuedAt"] === "string" ? Date.parse(r["issuedAt"]) : NaN;
  const retiredAt = typeof r["retiredAt"] === "string" ? Date.parse(r["retiredAt"]) : null;
  const handedBackAt = typeof r["handedBackAt"] === "string" ? Date.parse(r["handedBackAt"]) : undefined;
  if (
    typeof r["id"] !== "string" ||
    typeof r["evacuation"] !== "string" ||
    !Array.isArray(r["pods"]) ||
    !r["pods"].every((p) => typeof p === "string") ||
    typeof r["by"] !== "number" ||
    !Number.isInteger(r["by"]) ||
    r["by"] < 0 ||
    Number.isNaN(issuedAt) ||
    (retiredAt !== null && Number.isNaN(retiredAt)) ||
    (handedBackAt !== undefined && Number.isNaN(handedBackAt))
  )
    return null;
  return {
    id: r["id"],
    evacuation: r["evacuation"],
    pods: r["pods"],
    by: r["by"],
    issuedAt,
    retiredAt,
    ...(handedBackAt === undefined ? {} : { handedBackAt }),
  };
}

/**
 * The annotation's value for `entries` and the spec.replicas written with it (null: not recorded); null
 * when there are no entries (the annotation is removed).
 */
export function serializeLedger(
  entries: readonly LedgerEntry[],
  replicas: number | null = null,
): string | null {
  if (entries.length === 0) return null;
  return JSON.stringify({
    v: 1,
    ...(replicas === null ? {} : { replicas }),
    surges: entries.map((e) => ({
      id: e.id,
      evacuation: e.evacuation,
      pods: e.pods,
      by: e.by,
      issuedAt: new Date(e.issuedAt).toISOString(),
      ...(e.retiredAt === null ? {} : { retiredAt: new Date(e.retiredAt).toISOString() }),
      ...(e.handedBackAt === undefined ? {} : { handedBackAt: new Date(e.handedBackAt).toISOString() }),
    })),
  });
}

/** What one write does to a workload's ledger. */
export type LedgerChange =
  /** +k: one entry per evacuation, for the pods no entry names yet. */
  | { kind: "surge"; records: { evacuation: string; pods: string[] }[]; at: number }
  /**
   * -k: retire these surges. `legacy` marks a surge recorded only in an Evacuation status (written before
   * the ledger existed): absent from the ledger, it is retired once and recorded as retired.
   */
  | {
      kind: "retire";
      surges: { id: string; evacuation: string; pods: string[]; by: number; legacy: boolean }[];
      at: number;
    }
  /**
   * Close these open entries without a replica change (someone else scaled the workload, or below the
   * surge): they get retiredAt and handedBackAt, and their pods may be surged again by a new entry.
   */
  | { kind: "hand-back"; ids: string[]; at: number };

export interface LedgerPlan {
  /** The ledger after the change (retired entries past retention dropped). */
  entries: LedgerEntry[];
  /** Replica change to write with it (0: nothing to do, the change was already made). */
  delta: number;
  /** The entries this change concerns, as they stand after it (added or already there; retired). */
  touched: LedgerEntry[];
  /** Ids of a retire's surges found neither open nor retired (retired long ago and pruned): nothing done. */
  unknown: string[];
}

/** Pure: applies `change` to `entries` idempotently. */
export function planLedgerChange(entries: readonly LedgerEntry[], change: LedgerChange): LedgerPlan {
  const kept = entries.filter((e) => e.retiredAt === null || change.at - e.retiredAt < RETIRED_RETENTION_MS);
  if (change.kind === "hand-back") {
    const ids = new Set(change.ids);
    const next = kept.map((e) =>
      ids.has(e.id) && e.retiredAt === null ? { ...e, retiredAt: change.at, handedBackAt: change.at } : e,
    );
    return {
      entries: next,
      delta: 0,
      touched: next.filter((e) => ids.has(e.id)),
      unknown: change.ids.filter((id) => !entries.some((e) => e.id === id)),
    };
  }
  if (change.kind === "surge") {
    const named = new Map<string, LedgerEntry>();
    // A handed-back entry no longer covers its pods: they may be surged again on top of the new count.
    for (const e of entries) if (e.handedBackAt === undefined) for (const p of e.pods) named.set(p, e);
    const taken = new Set(entries.map((e) => e.id));
    const added: LedgerEntry[] = [];
    const touched = new Set<LedgerEntry>();
    for (const r of change.records) {
      for (const p of r.pods) {
        const had = named.get(p);
        if (had !== undefined) touched.add(had);
      }
      const fresh = r.pods.filter((p) => !named.has(p));
      if (fresh.length === 0) continue;
      let id = surgeId(r.evacuation, fresh);
      for (let n = 2; taken.has(id); n++) id = `${surgeId(r.evacuation, fresh)}#${n}`;
      taken.add(id);
      const entry: LedgerEntry = {
        id,
        evacuation: r.evacuation,
        pods: fresh,
        by: fresh.length,
        issuedAt: change.at,
        retiredAt: null,
      };
      for (const p of fresh) named.set(p, entry);
      added.push(entry);
      touched.add(entry);
    }
    return {
      entries: [...kept, ...added],
      delta: added.reduce((sum, e) => sum + e.by, 0),
      touched: [...touched],
      unknown: [],
    };
  }
  let delta = 0;
  const retiredIds = new Set<string>();
  const appended: LedgerEntry[] = [];
  const unknown: string[] = [];
  for (const s of change.surges) {
    const e = entries.find((x) => x.id === s.id);
    if (e === undefined) {
      if (s.legacy) {
        delta -= s.by;
        appended.push({
          id: s.id,
          evacuation: s.evacuation,
          pods: s.pods,
          by: s.by,
          issuedAt: change.at,
          retiredAt: change.at,
        });
      } else unknown.push(s.id);
      continue;
    }
    if (e.retiredAt !== null) continue;
    delta -= e.by;
    retiredIds.add(e.id);
  }
  const next = [...kept.map((e) => (retiredIds.has(e.id) ? { ...e, retiredAt: change.at } : e)), ...appended];
  const ids = new Set(change.surges.map((s) => s.id));
  return { entries: next, delta, touched: next.filter((e) => ids.has(e.id)), unknown };
}
