/**
 * What the chaos bench reads off the cluster while it runs: every Evacuation and how it ended, the nodes ever
 * marked for evacuation, and where the app's pods ran (to say where a 5xx came from).
 */
import type { V1Node } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { NS } from "../../lab/harness/env.ts";
import { listEvacuations, type EvacuationObject } from "../../lab/harness/evacuations.ts";
import type { Lab } from "../../lab/lab.ts";

const isMarked = (node: V1Node): boolean =>
  node.spec?.unschedulable === true ||
  (node.spec?.taints ?? []).some((t) => t.key === "lifeboat.dev/evacuating");

export class Seen {
  /** Evacuation name -> node name, every Evacuation ever observed. */
  readonly evacuations = new Map<string, string>();
  /** Evacuations observed in phase Done or Failed. */
  readonly finished = new Map<string, "Done" | "Failed">();
  /** Nodes ever observed cordoned or tainted lifeboat.dev/evacuating. */
  readonly marked = new Set<string>();
  /** Pod IP -> node, for every pod of the app ever observed (to say where a 5xx came from). */
  readonly podNodes = new Map<string, string>();
  /** The latest copy of every Evacuation observed. */
  readonly latest = new Map<string, EvacuationObject>();
  readonly #lab: Lab;
  readonly #app: string;

  constructor(lab: Lab, app: string) {
    this.#lab = lab;
    this.#app = app;
  }

  /** One look at the cluster. */
  async observe(): Promise<void> {
    for (const e of await listEvacuations(this.#lab)) {
      this.evacuations.set(e.metadata.name, e.spec.nodeName);
      this.latest.set(e.metadata.name, e);
      const phase = e.status?.phase;
      if (phase === "Done" || phase === "Failed") this.finished.set(e.metadata.name, phase);
    }
    for (const n of (await this.#lab.core.listNode()).items)
      if (isMarked(n)) this.marked.add(n.metadata?.name ?? "");
    const pods = await this.#lab.core.listNamespacedPod({ namespace: NS, labelSelector: `app=${this.#app}` });
    for (const p of pods.items)
      if (p.status?.podIP !== undefined && p.spec?.nodeName !== undefined)
        this.podNodes.set(p.status.podIP, p.spec.nodeName);
  }

  /** Looks every 500 ms until the returned function is called (and resolves once the last look is over). */
  watch(): () => Promise<void> {
    const stop = new AbortController();
    const loop = (async () => {
      while (!stop.signal.aborted) {
        await this.observe().catch(() => undefined);
        await sleep(500);
      }
    })();
    return async () => {
      stop.abort();
      await loop;
    };
  }
}
