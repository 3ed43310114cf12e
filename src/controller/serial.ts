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

  /**
   * Resolves once no section is running or waiting (sections added meanwhile are waited for too). The SQS
   * consumer waits for it before receiving, so it takes messages only when the intake can record them at once.
   */
  async idle(): Promise<void> {
    for (;;) {
      const tail = this.#tail;
      await tail;
      if (tail === this.#tail) return;
    }
  }
}
