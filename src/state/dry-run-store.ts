/**
 * The Evacuation store of a dry run: reads the cluster's Evacuations, keeps its own in memory. Nothing is
 * written to the cluster, so a later real controller never trusts a record (a surge, a retire) that a dry run
 * only imagined. In-memory records shadow stored ones of the same name; a deletion (the TTL) only hides the
 * record from this process.
 */
import type { StoredEvacuation } from "./evacuation-resource.ts";
import type { EvacuationStore } from "./evacuation-store.ts";

export class DryRunEvacuationStore {
  readonly #real: Pick<EvacuationStore, "list" | "get">;
  readonly #memory = new Map<string, StoredEvacuation>();
  /** Names this dry run deleted: hidden from its own reads, left alone in the cluster. */
  readonly #deleted = new Set<string>();
  #version = 0;

  constructor(real: Pick<EvacuationStore, "list" | "get">) {
    this.#real = real;
  }

  async list(options: { fresh?: boolean } = {}): Promise<StoredEvacuation[]> {
    const real = await this.#real.list(options);
    const names = new Set(real.map((s) => s.evacuation.name));
    return [
      ...real.map((s) => this.#memory.get(s.evacuation.name) ?? s),
      ...[...this.#memory.values()].filter((s) => !names.has(s.evacuation.name)),
    ].filter((s) => !this.#deleted.has(s.evacuation.name));
  }

  async get(name: string): Promise<StoredEvacuation | null> {
    if (this.#deleted.has(name)) return null;
    return this.#memory.get(name) ?? (await this.#real.get(name));
  }

  delete(name: string): Promise<void> {
    this.#memory.delete(name);
    this.#deleted.add(name);
    return Promise.resolve();
  }

  create(s: StoredEvacuation): Promise<StoredEvacuation> {
    return Promise.resolve(this.#keep(s));
  }

  updateSpec(s: StoredEvacuation): Promise<StoredEvacuation> {
    return Promise.resolve(this.#keep(s));
  }

  updateStatus(s: StoredEvacuation): Promise<StoredEvacuation> {
    return Promise.resolve(this.#keep(s));
  }

  #keep(s: StoredEvacuation): StoredEvacuation {
    const kept = { ...s, resourceVersion: `dry-run-${++this.#version}` };
    this.#memory.set(s.evacuation.name, kept);
    this.#deleted.delete(s.evacuation.name);
    return kept;
  }
}
