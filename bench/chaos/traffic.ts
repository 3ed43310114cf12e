/** The chaos bench's traffic: open-loop requests through the ALB until stopped, every failure kept. */
import type { Alb } from "../../lab/alb/alb.ts";
import type { ScenarioClock } from "../../lab/harness/cloud.ts";
import { runLoad } from "../../lab/loadgen/loadgen.ts";

/** A failed request: scenario second it was sent, status, target. */
export interface Failure {
  t: number;
  status: string;
  target: string;
}

export class ChaosTraffic {
  requests = 0;
  errors5xx = 0;
  /** Failed requests by status (`503`, `error ECONNRESET`). */
  readonly statuses = new Map<string, number>();
  readonly failures: Failure[] = [];
  readonly #stop = new AbortController();
  readonly #load: Promise<unknown>;

  /** Starts `rps` requests a second to `app` (host `<app>.lab`). */
  constructor(alb: Alb, app: string, rps: number, clock: ScenarioClock, timeScale: number) {
    this.#load = runLoad({
      url: `${alb.url}/`,
      rps,
      durationSeconds: 100_000,
      timeScale,
      headers: { host: `${app}.lab` },
      connections: 2048,
      signal: this.#stop.signal,
      onRecord: (r) => {
        this.requests++;
        const status = r.status === 0 ? `error ${r.error ?? ""}` : String(r.status);
        if (r.status === 0 || r.status >= 500) {
          this.errors5xx++;
          this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
          this.failures.push({
            t: (r.at - clock.wall0) / 1000 / timeScale,
            status,
            target: r.target ?? "none",
          });
        }
      },
    });
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#load;
  }
}
