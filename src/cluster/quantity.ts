/**
 * Kubernetes resource quantities ("250m", "1.5", "256Mi", "1G", "129e6") as plain numbers. Pure.
 * See k8s.io/apimachinery/pkg/api/resource (quantity.go) for the grammar.
 */

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};
const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/;

/** The quantity as a number of base units (cores, bytes, pods); null when it is not a valid quantity. */
export function parseQuantity(text: string | number | undefined | null): number | null {
  if (text == null) return null;
  if (typeof text === "number") return Number.isFinite(text) ? text : null;
  const m = QUANTITY.exec(text.trim());
  if (m === null) return null;
  const base = Number(m[1]);
  if (m[2] !== undefined) return Number(`${m[1]}${m[2]}`);
  const suffix = m[3] ?? "";
  const factor = BINARY[suffix] ?? DECIMAL[suffix];
  if (factor === undefined || !Number.isFinite(base)) return null;
  return base * factor;
}

/** CPU in millicores, rounded up like the scheduler does; 0 when absent or invalid. */
export function cpuMilli(text: string | number | undefined | null): number {
  const cores = parseQuantity(text);
  return cores === null ? 0 : Math.ceil(Math.round(cores * 1e6) / 1e3);
}

/** Memory (or any byte quantity) in bytes, rounded up; 0 when absent or invalid. */
export function bytes(text: string | number | undefined | null): number {
  const n = parseQuantity(text);
  return n === null ? 0 : Math.ceil(n);
}
