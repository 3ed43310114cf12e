/**
 * The HTTP status carried by whatever a @kubernetes/client-node call threw: an ApiException (`code`) or a
 * watch error (`statusCode`); null when there is none (a network error). Shared by the product
 * (src/actuators/kube/errors.ts builds its typed errors on it) and the lab's own Kubernetes clients.
 */
import { ApiException } from "@kubernetes/client-node";

export function httpStatusOf(err: unknown): number | null {
  if (err instanceof ApiException) return err.code;
  if (typeof err === "object" && err !== null) {
    const o = err as { statusCode?: unknown; code?: unknown };
    if (typeof o.statusCode === "number") return o.statusCode;
    if (typeof o.code === "number") return o.code;
  }
  return null;
}
