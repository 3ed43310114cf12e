/** The scenario runner's bounded wait: a check that throws ends it at once, as does running out of time. */
import { setTimeout as sleep } from "node:timers/promises";

export async function pollUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > timeoutMs)
      throw new Error(`${what}: not reached within ${Math.round(timeoutMs / 1000)} s`);
    await sleep(200);
  }
}
