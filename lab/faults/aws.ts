/**
 * The fault proxy in front of moto (plain HTTP, like moto itself). Requests are told apart by their AWS
 * action (`ReceiveMessage`, `DeleteMessage`, `RecordLifecycleActionHeartbeat`, ...). Point the client's
 * endpoint at `proxy.url` and rewrite the queue URL with `proxy.rewrite(queueUrl)`.
 */
import { startFaultProxy, type FaultProxy } from "./proxy.ts";

export function startAwsFaultProxy(upstream: string): Promise<FaultProxy> {
  return startFaultProxy({ upstream, flavor: "aws" });
}
