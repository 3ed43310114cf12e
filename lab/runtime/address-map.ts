/** How a dead node's addresses behave: RST on connect while its kernel is up, silence once it is gone. */
export type DeadHostMode = "refuse" | "blackhole";

/** Where a connection to a pod IP and port ends up, with the reason. */
export type Resolution =
  | { kind: "listener"; port: number; reason: string }
  | { kind: "refused"; reason: string }
  | { kind: "blackhole"; reason: string };

type EntryState =
  | { kind: "starting" }
  | { kind: "listening"; port: number }
  | { kind: "closed" }
  | { kind: "dead"; mode: DeadHostMode };

interface Entry {
  node: string;
  pod: string;
  ports: ReadonlySet<number>;
  state: EntryState;
}

/**
 * The lab's "network": pod IP and container port -> what answers there. Pure bookkeeping; the runtime turns
 * `refused` and `blackhole` into loopback listeners that reset or never answer.
 *
 * - An IP the lab never handed out resolves to null (the caller decides; nothing in the lab routes there).
 * - A pod whose app is not listening yet, or no longer (after SIGTERM, after deletion), and a port the pod does
 *   not declare, are refused: the host is up and nothing listens there.
 * - Every address of a dead node is refused or silent, by the mode it died with.
 */
export class AddressMap {
  readonly #entries = new Map<string, Entry>();

  /** A pod got this IP: it exists on the host but nothing listens yet. Replaces whatever held the IP before. */
  assign(ip: string, owner: { node: string; pod: string; ports: Iterable<number> }): void {
    this.#entries.set(ip, {
      node: owner.node,
      pod: owner.pod,
      ports: new Set(owner.ports),
      state: { kind: "starting" },
    });
  }

  /** The pod's app listens on this loopback port. Ignored once the node is dead. */
  listen(ip: string, loopbackPort: number): void {
    const entry = this.#entries.get(ip);
    if (entry === undefined || entry.state.kind === "dead") return;
    entry.state = { kind: "listening", port: loopbackPort };
  }

  /** The pod's listener stopped accepting (SIGTERM or gone). Ignored once the node is dead. */
  close(ip: string): void {
    const entry = this.#entries.get(ip);
    if (entry === undefined || entry.state.kind === "dead") return;
    entry.state = { kind: "closed" };
  }

  /** Every address on the node now behaves as `mode`. Returns the IPs affected. */
  killNode(node: string, mode: DeadHostMode): string[] {
    const ips: string[] = [];
    for (const [ip, entry] of this.#entries) {
      if (entry.node !== node) continue;
      entry.state = { kind: "dead", mode };
      ips.push(ip);
    }
    return ips;
  }

  /** The pod that holds (or last held) the IP, as "namespace/name". */
  ownerOf(ip: string): string | undefined {
    return this.#entries.get(ip)?.pod;
  }

  resolve(ip: string, port: number): Resolution | null {
    const entry = this.#entries.get(ip);
    if (entry === undefined) return null;
    const state = entry.state;
    switch (state.kind) {
      case "dead":
        return state.mode === "refuse"
          ? { kind: "refused", reason: `node ${entry.node} of ${entry.pod} is dead (refuse)` }
          : { kind: "blackhole", reason: `node ${entry.node} of ${entry.pod} is gone (blackhole)` };
      case "starting":
        return { kind: "refused", reason: `${entry.pod} is not listening yet` };
      case "closed":
        return { kind: "refused", reason: `${entry.pod} no longer accepts connections` };
      case "listening":
        if (!entry.ports.has(port))
          return { kind: "refused", reason: `${entry.pod} does not listen on port ${port}` };
        return { kind: "listener", port: state.port, reason: `${entry.pod} listens` };
    }
  }
}
