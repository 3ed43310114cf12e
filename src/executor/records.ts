/**
 * The evacuations as one reconcile knows them. A step's change to a record is applied in memory at once and
 * kept; the changed records are written to the Evacuation status later (after each replica change, and at
 * the end of the reconcile). A write that conflicts (someone wrote the resource since it was read) must not
 * lose what was done, since the step already happened in the cluster: the fresh copy is read and every change
 * of this reconcile re-applied to it, then written again.
 */
import type { ExecutorLogger } from "../actuators/ports.ts";
import type { Evacuation, StoredEvacuation } from "../domain/evacuation.ts";
import { workloadKey, type WorkloadRef } from "../domain/snapshot.ts";
import type { LedgerEntry } from "../domain/surge-ledger.ts";
import { EvacuationStoreError, type EvacuationStore } from "../state/evacuation-store.ts";
import { forEachConcurrently } from "./concurrency.ts";
import { syncWithLedger } from "./ledger-sync.ts";

/** One change to an evacuation's record, kept so it can be re-applied after a conflicting write. */
interface Change {
  apply: (e: Evacuation) => Evacuation;
  message: string;
}

export interface RecordsDeps {
  store: Pick<EvacuationStore, "get" | "updateStatus" | "delete">;
  log: ExecutorLogger;
  /** Status writes run this many at a time (a group of surges touches up to every evacuation). */
  writeConcurrency: number;
}

export class EvacuationRecords {
  readonly #deps: RecordsDeps;
  readonly #byName: Map<string, StoredEvacuation>;
  /** What this reconcile changed per evacuation, to re-apply on a fresh copy if a status write conflicts. */
  readonly #changes = new Map<string, Change[]>();
  /** Evacuations changed and not written yet. */
  readonly #dirty = new Set<string>();
  /** Evacuations deleted by this reconcile (their time to live ran out). */
  readonly #forgotten = new Set<string>();

  constructor(stored: readonly StoredEvacuation[], deps: RecordsDeps) {
    this.#deps = deps;
    this.#byName = new Map(stored.map((s) => [s.evacuation.name, s]));
  }

  /** Every evacuation as it stands, this reconcile's changes applied, the forgotten left out. */
  evacuations(): Evacuation[] {
    return [...this.#byName.values()]
      .filter((s) => !this.#forgotten.has(s.evacuation.name))
      .map((s) => s.evacuation);
  }

  /** The evacuation `name`; throws when the plan names an unknown one. */
  stored(name: string): StoredEvacuation {
    const s = this.#byName.get(name);
    if (s === undefined) throw new Error(`plan names unknown evacuation ${name}`);
    return s;
  }

  /** Records a change to an evacuation (in memory now, written by `persist`, re-applied after a conflict). */
  update(name: string, fn: (e: Evacuation) => Evacuation, message: string): void {
    const s = this.stored(name);
    this.#byName.set(name, { ...s, evacuation: fn(s.evacuation), message });
    this.#changes.set(name, [...(this.#changes.get(name) ?? []), { apply: fn, message }]);
  }

  /** Marks evacuations changed, to be written by the next `persist` that names them. */
  touch(names: Iterable<string>): void {
    for (const name of names) this.#dirty.add(name);
  }

  /**
   * Brings the surge records of every evacuation named in `entries` in line with them; returns those changed.
   * `reason`: the status message; null for a recovery (the status lost a ledger change), logged as such.
   */
  syncWithLedger(workload: WorkloadRef, entries: readonly LedgerEntry[], reason: string | null): string[] {
    const touched: string[] = [];
    for (const name of new Set(entries.map((x) => x.evacuation))) {
      const s = this.#byName.get(name);
      if (s === undefined || syncWithLedger(s.evacuation, workload, entries) === null) continue;
      const message =
        reason ??
        `surge records of ${workloadKey(workload)} recovered from its surge ledger (a status write after the scale was lost)`;
      this.update(name, (e) => syncWithLedger(e, workload, entries) ?? e, message);
      if (reason === null)
        this.#deps.log.info({ evacuation: name, workload: workloadKey(workload) }, message);
      touched.push(name);
    }
    return touched;
  }

  /** Deletes the Evacuation resource `name`. */
  async forget(name: string): Promise<void> {
    await this.#deps.store.delete(name);
    this.#forgotten.add(name);
  }

  /** Writes the status of those of `names` changed since their last write (default: every one changed). */
  async persist(names: Iterable<string> = [...this.#dirty]): Promise<void> {
    const pending = [...new Set(names)].filter((name) => this.#dirty.has(name) && this.#byName.has(name));
    await forEachConcurrently(pending, this.#deps.writeConcurrency, async (name) => {
      const s = this.#byName.get(name);
      if (s === undefined) return;
      this.#byName.set(name, await this.#write(name, s));
      this.#changes.delete(name);
      this.#dirty.delete(name);
    });
  }

  /** One status write, retried on a conflict with this reconcile's changes re-applied to the fresh copy. */
  async #write(name: string, stored: StoredEvacuation): Promise<StoredEvacuation> {
    const { store, log } = this.#deps;
    let s = stored;
    for (let attempt = 1; ; attempt++) {
      try {
        return await store.updateStatus(s);
      } catch (err) {
        if (!(err instanceof EvacuationStoreError && err.isConflict) || attempt >= 5) throw err;
        const fresh = await store.get(name);
        if (fresh === null) throw err;
        const replay = this.#changes.get(name) ?? [];
        log.info(
          { evacuation: name, attempt, changes: replay.length },
          "status write conflicted; re-applying this reconcile's changes to the fresh copy",
        );
        s = {
          ...fresh,
          evacuation: replay.reduce((e, c) => c.apply(e), fresh.evacuation),
          message: replay.at(-1)?.message ?? fresh.message,
        };
      }
    }
  }
}
