/** The HTTP health check an ALB node sends to a target, over a fresh loopback connection. */
import http from "node:http";
import type { HealthProbe, ProbeResult } from "./target-group.ts";
import { resolveTarget, type DeadHostPolicy, type Resolver } from "./resolve.ts";

export interface HttpProbeOptions {
  resolve: Resolver;
  /** Default "refuse" (GUESS, see resolve.ts). */
  deadHost?: DeadHostPolicy;
  /** Which status codes pass. Default: 200 only (the LBC default success code "200"). */
  isSuccess?: (status: number) => boolean;
}

export function httpHealthProbe(options: HttpProbeOptions): HealthProbe {
  const isSuccess = options.isSuccess ?? ((status: number) => status === 200);
  const deadHost = options.deadHost ?? "refuse";
  return (target, path, timeoutMs) => {
    const where = resolveTarget(options.resolve, deadHost, target.ip, target.port);
    if (where.kind === "dead") {
      const result: ProbeResult =
        where.behaviour === "refuse"
          ? { ok: false, reason: "Target.FailedHealthChecks", detail: "connection refused (no listener)" }
          : { ok: false, reason: "Target.Timeout", detail: "no answer (host gone)" };
      if (where.behaviour === "refuse") return Promise.resolve(result);
      return new Promise((resolve) =>
        setTimeout(() => {
          resolve(result);
        }, timeoutMs).unref(),
      );
    }
    return new Promise<ProbeResult>((resolve) => {
      let settled = false;
      const settle = (result: ProbeResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        resolve(result);
      };
      const req = http.request(
        {
          host: where.host,
          port: where.port,
          path,
          method: "GET",
          agent: false,
          headers: { "user-agent": "ELB-HealthChecker/2.0" },
        },
        (res) => {
          res.resume();
          const status = res.statusCode ?? 0;
          settle(
            isSuccess(status)
              ? { ok: true }
              : {
                  ok: false,
                  reason: "Target.ResponseCodeMismatch",
                  detail: `health check answered ${status}`,
                },
          );
        },
      );
      const timer = setTimeout(() => {
        settle({ ok: false, reason: "Target.Timeout", detail: `no response within ${timeoutMs} ms` });
      }, timeoutMs);
      req.on("error", (error: NodeJS.ErrnoException) => {
        settle({ ok: false, reason: "Target.FailedHealthChecks", detail: error.code ?? error.message });
      });
      req.end();
    });
  };
}
