/**
 * Bounded concurrency for independent writes: the reconciler's groups of steps and status writes, the pods of
 * one mark-doomed step, and the intake's notices.
 */

/**
 * Runs `fn` over `items`, at most `limit` at once; rejects with the first error after all have settled.
 * `stopWhen`: once `limit` items have started, no further item starts while it holds; returns how many ran.
 */
export async function forEachConcurrently<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
  stopWhen?: () => boolean,
): Promise<number> {
  let next = 0;
  let firstError: { err: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      if (next >= limit && stopWhen?.() === true) return;
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        firstError ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (firstError !== null) throw (firstError as { err: unknown }).err;
  return Math.min(next, items.length);
}
