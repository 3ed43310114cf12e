/**
 * Pure: the Evacuation status as a cache of the surge ledgers. The ledger on each workload
 * (src/domain/surge-ledger.ts) is written in the same update as the replica change, so it is the truth;
 * an Evacuation's surge records are brought in line with it before every plan (a status write that failed
 * after a surge or retire is recovered from the ledger) and after every ledger write.
 */
import type { Evacuation, SurgeRecord } from "../domain/evacuation.ts";
import { isActive } from "../domain/evacuation.ts";
import { workloadKey, type WorkloadRef } from "../domain/snapshot.ts";
import { surgeId, type LedgerEntry } from "../domain/surge-ledger.ts";

/** The ledger id of a surge record (records written before the ledger carry none: derived the same way). */
export function recordId(evacuation: string, record: SurgeRecord): string {
  return record.id ?? surgeId(evacuation, record.pods);
}

/**
 * `e` with its records of `workload` matching the ledger `entries` (other evacuations' entries ignored):
 * an entry without a record is appended (a surge whose status write was lost), a retired entry retires its
 * record. Records the ledger does not mention are left as they are (an informer may lag behind the
 * status). Returns null when nothing changed.
 */
export function syncWithLedger(
  e: Evacuation,
  workload: WorkloadRef,
  entries: readonly LedgerEntry[],
): Evacuation | null {
  const key = workloadKey(workload);
  let surges = e.surges;
  let next = e;
  let changed = false;
  for (const entry of entries) {
    if (entry.evacuation !== e.name) continue;
    const i = surges.findIndex((r) => workloadKey(r.workload) === key && recordId(e.name, r) === entry.id);
    if (i < 0) {
      surges = [
        ...surges,
        {
          id: entry.id,
          workload,
          pods: entry.pods,
          by: entry.by,
          issuedAt: entry.issuedAt,
          retiredAt: entry.retiredAt,
          ...(entry.handedBackAt === undefined ? {} : { handedBackAt: entry.handedBackAt }),
        },
      ];
      next = {
        ...next,
        phase: next.phase === "Pending" || next.phase === "Cordoned" ? "Surging" : next.phase,
        timeline: { ...next.timeline, surgeCreatedAt: next.timeline.surgeCreatedAt ?? entry.issuedAt },
      };
      changed = true;
    } else {
      const r = surges[i];
      if (r !== undefined && r.retiredAt === null && entry.retiredAt !== null) {
        const closed = { id: entry.id, retiredAt: entry.retiredAt };
        surges = surges.map((x, j) =>
          j === i
            ? {
                ...x,
                ...closed,
                ...(entry.handedBackAt === undefined ? {} : { handedBackAt: entry.handedBackAt }),
              }
            : x,
        );
        next = retiredAt(next, entry.retiredAt);
        changed = true;
      } else if (r !== undefined && r.id === undefined) {
        surges = surges.map((x, j) => (j === i ? { ...x, id: entry.id } : x));
        changed = true;
      }
    }
    if (entry.retiredAt !== null && i < 0) next = retiredAt(next, entry.retiredAt);
  }
  return changed ? { ...next, surges } : null;
}

/**
 * Marks records retired whose ledger entries are gone (retired and pruned long ago: a retire found nothing
 * left to do). Only called with ids a fresh read of the workload did not find.
 */
export function retireRecords(
  e: Evacuation,
  workload: WorkloadRef,
  ids: readonly string[],
  at: number,
): Evacuation | null {
  const key = workloadKey(workload);
  let changed = false;
  const surges = e.surges.map((r) => {
    if (r.retiredAt !== null || workloadKey(r.workload) !== key || !ids.includes(recordId(e.name, r)))
      return r;
    changed = true;
    return { ...r, retiredAt: at };
  });
  return changed ? retiredAt({ ...e, surges }, at) : null;
}

function retiredAt(e: Evacuation, at: number): Evacuation {
  return {
    ...e,
    phase: isActive(e) ? "Retiring" : e.phase,
    timeline: {
      ...e.timeline,
      replacementsReadyAt: e.timeline.replacementsReadyAt ?? at,
      retiredAt: Math.max(e.timeline.retiredAt ?? 0, at),
    },
  };
}
