import type { DeadHostMode } from "./address-map.ts";

/** Which pod an event is about. */
export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  podIP: string;
}

/**
 * What the runtime reports for the lab's timeline. `at` is the runtime clock's time (ms since the epoch).
 * - pod-running: the image is pulled, containers started (phase Running); the app is not listening yet.
 * - pod-serving: the app listens; connections to podIP:containerPort now reach it.
 * - pod-ready / pod-not-ready: the pod's Ready condition was written True / False.
 * - pod-terminating: the pod got a deletionTimestamp; preStop starts.
 * - pod-sigterm: preStop is over; the app stops accepting connections and drains.
 * - pod-killed: the grace period ran out with requests in flight; their connections were reset.
 * - pod-terminated: the runtime deleted the pod object (grace 0), as the kubelet does.
 * - node-killed: every listener of the node died (`refuse`) or went silent (`blackhole`).
 */
export type RuntimeEvent =
  | ({
      kind: "pod-running" | "pod-serving" | "pod-terminating" | "pod-terminated";
      at: number;
      reason: string;
    } & PodRef)
  | ({ kind: "pod-ready" | "pod-not-ready"; at: number; reason: string } & PodRef)
  | ({ kind: "pod-sigterm"; at: number; reason: string; inFlight: number } & PodRef)
  | ({ kind: "pod-killed"; at: number; reason: string; inFlight: number } & PodRef)
  | { kind: "node-killed"; at: number; node: string; mode: DeadHostMode; pods: number; reason: string };

export type RuntimeEventKind = RuntimeEvent["kind"];

/** Structured logging in pino's call shape (a pino Logger fits). */
export interface RuntimeLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export const silentLogger: RuntimeLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
};
