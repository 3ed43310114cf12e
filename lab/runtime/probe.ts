import { request } from "node:http";
import { connect } from "node:net";
import type { V1Probe } from "@kubernetes/client-node";
import type { Clock } from "../../common/clock.ts";

/** A readiness probe's timing, already multiplied by the lab's time scale. */
export interface ProbeSettings {
  /** From the container's start; probes before it are skipped (kubelet: initialDelaySeconds, default 0). */
  initialDelayMs: number;
  /** Between probes (kubelet: periodSeconds, default 10). */
  periodMs: number;
  /** A probe that takes longer fails (kubelet: timeoutSeconds, default 1). */
  timeoutMs: number;
  /** Consecutive successes to become ready (default 1). */
  successThreshold: number;
  /** Consecutive failures to become unready (default 3). */
  failureThreshold: number;
}

/** Kubernetes' defaults for probe fields (k8s.io/api core/v1 Probe). */
export const PROBE_DEFAULTS = {
  initialDelaySeconds: 0,
  periodSeconds: 10,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
} as const;

export function probeSettings(probe: V1Probe, timeScale: number): ProbeSettings {
  const seconds = (value: number | undefined, fallback: number, min: number): number =>
    Math.max(min, value ?? fallback);
  return {
    initialDelayMs:
      seconds(probe.initialDelaySeconds, PROBE_DEFAULTS.initialDelaySeconds, 0) * 1000 * timeScale,
    periodMs: seconds(probe.periodSeconds, PROBE_DEFAULTS.periodSeconds, 1) * 1000 * timeScale,
    timeoutMs: seconds(probe.timeoutSeconds, PROBE_DEFAULTS.timeoutSeconds, 1) * 1000 * timeScale,
    successThreshold: seconds(probe.successThreshold, PROBE_DEFAULTS.successThreshold, 1),
    failureThreshold: seconds(probe.failureThreshold, PROBE_DEFAULTS.failureThreshold, 1),
  };
}

/**
 * The kubelet's readiness result for one container (pkg/kubelet/prober/worker.go): it starts as not ready and
 * flips only after `successThreshold` consecutive successes or `failureThreshold` consecutive failures.
 */
export class ProbeStateMachine {
  readonly #settings: Pick<ProbeSettings, "successThreshold" | "failureThreshold">;
  #ready = false;
  #last: boolean | undefined;
  #run = 0;

  constructor(settings: Pick<ProbeSettings, "successThreshold" | "failureThreshold">) {
    this.#settings = settings;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Records one probe result; true when readiness changed. */
  observe(success: boolean): boolean {
    if (this.#last === success) this.#run++;
    else {
      this.#last = success;
      this.#run = 1;
    }
    const threshold = success ? this.#settings.successThreshold : this.#settings.failureThreshold;
    if (this.#run < threshold || this.#ready === success) return false;
    this.#ready = success;
    return true;
  }
}

export interface ProberOptions {
  clock: Clock;
  settings: ProbeSettings;
  /** Whether a probe is due now (the container runs and its initial delay has passed); otherwise the tick is skipped. */
  due: () => boolean;
  /** Runs one probe; resolves true on success. */
  check: (timeoutMs: number) => Promise<boolean>;
  onChange: (ready: boolean) => void;
  signal: AbortSignal;
}

/**
 * The kubelet's probe worker: a tick every period from the moment the pod is picked up, probing only when due,
 * feeding a ProbeStateMachine. Ends when `signal` aborts.
 */
export async function runProber(options: ProberOptions): Promise<void> {
  const machine = new ProbeStateMachine(options.settings);
  while (!options.signal.aborted) {
    if (options.due()) {
      const ok = await options.check(options.settings.timeoutMs).catch(() => false);
      if (options.signal.aborted) return;
      if (machine.observe(ok)) options.onChange(machine.ready);
    }
    try {
      await options.clock.sleep(options.settings.periodMs, options.signal);
    } catch {
      return;
    }
  }
}

/** An HTTP GET to 127.0.0.1:port on a fresh connection: success on 200..399, like the kubelet's httpGet probe. */
export function httpCheck(port: number, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { host: "127.0.0.1", port, path, method: "GET", agent: false, timeout: timeoutMs },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        resolve(status >= 200 && status < 400);
      },
    );
    req.on("timeout", () => {
      req.destroy();
      resolve(false);
    });
    req.on("error", () => {
      resolve(false);
    });
    req.end();
  });
}

/** A TCP connect to 127.0.0.1:port: success when it is accepted, like the kubelet's tcpSocket probe. */
export function tcpCheck(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, timeout: timeoutMs }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.on("error", () => {
      resolve(false);
    });
  });
}
