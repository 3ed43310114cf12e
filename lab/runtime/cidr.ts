/** Raised when a node's pod CIDR has no free address left. */
export class CidrExhaustedError extends Error {
  readonly cidr: string;
  constructor(cidr: string) {
    super(`no free pod IP left in ${cidr}`);
    this.name = "CidrExhaustedError";
    this.cidr = cidr;
  }
}

/** Raised for a CIDR the lab cannot allocate from (not IPv4, or smaller than a /30). */
export class InvalidCidrError extends Error {
  readonly cidr: string;
  constructor(cidr: string, why: string) {
    super(`invalid pod CIDR ${JSON.stringify(cidr)}: ${why}`);
    this.name = "InvalidCidrError";
    this.cidr = cidr;
  }
}

export function ipToNumber(ip: string): number | null {
  const parts = ip.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

export function numberToIp(value: number): string {
  return [24, 16, 8, 0].map((shift) => String(Math.floor(value / 2 ** shift) % 256)).join(".");
}

/**
 * Pod IPs of one node, allocated from its `spec.podCIDR` the way a CNI does: the network address, the first
 * address (the gateway) and the broadcast address are never handed out. Allocation is next-fit (it continues
 * after the last address handed out), so an IP that was just released is not reused at once, like the VPC
 * CNI's cool-down: a load balancer that still targets an old pod IP does not reach a new pod by accident.
 */
export class CidrAllocator {
  readonly cidr: string;
  readonly #first: number;
  readonly #last: number;
  readonly #used = new Set<number>();
  #next: number;

  constructor(cidr: string) {
    this.cidr = cidr;
    const [address, prefixText] = cidr.split("/");
    const base = address === undefined ? null : ipToNumber(address);
    const prefix = Number(prefixText);
    if (base === null) throw new InvalidCidrError(cidr, "not an IPv4 address");
    if (!Number.isInteger(prefix) || prefix < 8 || prefix > 30)
      throw new InvalidCidrError(cidr, "prefix must be /8 to /30");
    const size = 2 ** (32 - prefix);
    const network = base - (base % size);
    this.#first = network + 2;
    this.#last = network + size - 2;
    this.#next = this.#first;
  }

  /** How many addresses can be handed out in total. */
  get capacity(): number {
    return this.#last - this.#first + 1;
  }

  get inUse(): number {
    return this.#used.size;
  }

  contains(ip: string): boolean {
    const value = ipToNumber(ip);
    return value !== null && value >= this.#first && value <= this.#last;
  }

  /** The next free address; throws CidrExhaustedError when none is left. */
  allocate(): string {
    const capacity = this.capacity;
    for (let i = 0; i < capacity; i++) {
      const candidate = this.#next;
      this.#next = candidate >= this.#last ? this.#first : candidate + 1;
      if (!this.#used.has(candidate)) {
        this.#used.add(candidate);
        return numberToIp(candidate);
      }
    }
    throw new CidrExhaustedError(this.cidr);
  }

  /** Marks an address found on an existing pod as taken. False when it is outside the range or already taken. */
  reserve(ip: string): boolean {
    const value = ipToNumber(ip);
    if (value === null || value < this.#first || value > this.#last || this.#used.has(value)) return false;
    this.#used.add(value);
    return true;
  }

  release(ip: string): void {
    const value = ipToNumber(ip);
    if (value !== null) this.#used.delete(value);
  }
}
