/**
 * How the ALB simulator reaches a target. The pod runtime maps a pod IP (or node IP + NodePort) to the
 * loopback listener that plays it; nothing ever connects to a pod or node IP.
 */

/** Maps a target address to its loopback listener, or null when nothing plays that address. */
export type Resolver = (ip: string, port: number) => { host: string; port: number } | null;

/**
 * What a connection to an address with no listener does. `refuse`: RST at once (the kernel is up);
 * `blackhole`: silence until the connect timeout (the instance is gone).
 * GUESS (timings.md, "dead host"): default `refuse`; a function lets the lab answer per address.
 */
export type DeadHost = "refuse" | "blackhole";
export type DeadHostPolicy = DeadHost | ((ip: string, port: number) => DeadHost);

export type Resolution =
  { kind: "loopback"; host: string; port: number } | { kind: "dead"; behaviour: DeadHost };

export function resolveTarget(
  resolve: Resolver,
  deadHost: DeadHostPolicy,
  ip: string,
  port: number,
): Resolution {
  const found = resolve(ip, port);
  if (found !== null) {
    if (!isLoopback(found.host)) throw new NonLoopbackTargetError(ip, port, found.host);
    return { kind: "loopback", host: found.host, port: found.port };
  }
  return { kind: "dead", behaviour: typeof deadHost === "function" ? deadHost(ip, port) : deadHost };
}

/** The resolver answered with an address outside 127.0.0.0/8: the lab refuses to send traffic there. */
export class NonLoopbackTargetError extends Error {
  readonly ip: string;
  readonly port: number;
  readonly host: string;
  constructor(ip: string, port: number, host: string) {
    super(`resolver mapped ${ip}:${port} to ${host}, which is not a loopback address (127.0.0.0/8)`);
    this.name = "NonLoopbackTargetError";
    this.ip = ip;
    this.port = port;
    this.host = host;
  }
}

export function isLoopback(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
