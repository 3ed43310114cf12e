/**
 * Reading a running `lifeboat run` through its /metrics, so that tests assert on what it counted and wait
 * for it to look again instead of sleeping. A check that something did NOT happen first waits for N more
 * passes of the reconcile loop (lifeboat_reconciles_total): a slow controller makes the wait longer, never
 * the check weaker.
 *
 *   await waitForReconciles(controller, 3);
 *   assert.deepEqual(await env.evacuationsOf(node), []);
 */
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { waitFor, waitUntil, type WaitOptions } from "./wait.ts";

/** What these helpers need of a controller process: where it logs, and (optionally) whether it still runs. */
export interface ControllerLike {
  logPath: string;
  assertRunning?: () => void;
}

/** A metric's samples by label set: `{ labels: { outcome: "ok" }, value: 3 }`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Where the controller serves /metrics: the address its observability server logged with `metrics: true`
 * (the lab runs it on port 0; the latest such line when a log holds several runs). Waits for the line, so it
 * may be called before the controller has started.
 */
export async function metricsUrl(controller: ControllerLike, options: WaitOptions = {}): Promise<string> {
  return waitFor(
    `the /metrics address in ${controller.logPath}`,
    () => loggedMetricsUrl(controller.logPath),
    {
      timeoutMs: 30_000,
      intervalMs: 100,
      ...withAlive(controller, options),
    },
  );
}

/** The /metrics address logged so far in `logPath`, if any (see metricsUrl). */
export async function loggedMetricsUrl(logPath: string): Promise<string | undefined> {
  const text = await readFile(logPath, "utf8").catch(() => "");
  let address: string | undefined;
  for (const line of text.split("\n")) {
    if (!line.startsWith("{") || !line.endsWith("}")) continue;
    const fields = JSON.parse(line) as Record<string, unknown>;
    if (fields["metrics"] === true && typeof fields["address"] === "string") address = fields["address"];
  }
  return address === undefined ? undefined : `http://${address}`;
}

/** One scrape of /metrics, parsed (Prometheus text format; comments skipped). */
export async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(`${url}/metrics`);
  if (!response.ok) throw new Error(`GET ${url}/metrics: ${response.status}`);
  const samples: Sample[] = [];
  for (const line of (await response.text()).split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] ?? ""] = l[2] ?? "";
    samples.push({ name: m[1] ?? "", labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of `name` over every series whose labels include `labels` (0 when there is none). */
export function total(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** The controller's current `name` total (see `total`). */
export async function counter(
  controller: ControllerLike,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return total(await scrape(await metricsUrl(controller)), name, labels);
}

/** Waits until the controller's `name` total is at least `atLeast`; returns it. */
export async function waitForCount(
  controller: ControllerLike,
  name: string,
  labels: Record<string, string>,
  atLeast: number,
  options: WaitOptions = {},
): Promise<number> {
  const url = await metricsUrl(controller, options);
  let last = 0;
  await waitUntil(
    `${name}${JSON.stringify(labels)} >= ${atLeast}`,
    async () => {
      last = total(await scrape(url), name, labels);
      return last >= atLeast;
    },
    { timeoutMs: 60_000, ...withAlive(controller, options) },
  );
  return last;
}

/** Waits until the controller's `name` total has risen by `more` from now; returns it. */
export async function waitForMore(
  controller: ControllerLike,
  name: string,
  labels: Record<string, string>,
  more: number,
  options: WaitOptions = {},
): Promise<number> {
  const start = await counter(controller, name, labels);
  return waitForCount(controller, name, labels, start + more, options);
}

/**
 * Waits for `n` more passes of the controller's reconcile loop (lifeboat_reconciles_total), counted from
 * now. A pass in progress now counts as the first, so n >= 2 means at least one whole pass began afterwards.
 */
export async function waitForReconciles(
  controller: ControllerLike,
  n: number,
  options: WaitOptions = {},
): Promise<void> {
  await waitForMore(controller, "lifeboat_reconciles_total", {}, n, options);
}

/**
 * A controller's /metrics scraped every 250 ms, from when its log names the address until stopped; the last
 * scrape is kept. For a controller that something else starts and stops (the lab's scenario runs), whose
 * counts are wanted at the end.
 */
export class MetricsTail {
  last: Sample[] = [];
  readonly #stop = new AbortController();
  readonly #loop: Promise<void>;

  constructor(logPath: string) {
    this.#loop = (async () => {
      let url: string | undefined;
      while (!this.#stop.signal.aborted) {
        try {
          url ??= await loggedMetricsUrl(logPath);
          if (url !== undefined) this.last = await scrape(url);
        } catch {
          // Not up yet, or already gone: keep the last scrape.
        }
        await sleep(250, undefined, { signal: this.#stop.signal }).catch(() => undefined);
      }
    })();
  }

  /** Stops scraping; returns the last scrape. */
  async stop(): Promise<Sample[]> {
    this.#stop.abort();
    await this.#loop;
    return this.last;
  }
}

function withAlive(controller: ControllerLike, options: WaitOptions): WaitOptions {
  return controller.assertRunning === undefined ? options : { alive: controller.assertRunning, ...options };
}
