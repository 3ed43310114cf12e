/**
 * Runs async sections one after another. The notice intake and the reconciler share one, so a reconcile
 * never reads an Evacuation between the intake's two writes (create, then status) and the two never write
 * the same Evacuation at once.
 */
export class Serial {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(section);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
