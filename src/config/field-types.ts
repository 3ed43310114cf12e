/**
 * The value types of the configuration table (src/config/schema.ts): the coercion of the strings that flags
 * and environment variables carry, and the zod builders the table's fields are made of.
 */
import { z } from "zod";
import { parseNodeGroupPolicies } from "./node-groups.ts";
import { parseQuantity } from "../cluster/quantity.ts";
import type { NodeGroupPolicies } from "./node-groups.ts";

/** What the SQS consumer does with a message it will not act on: delete it, or leave it for redrive/DLQ. */
export const MESSAGE_POLICIES = ["keep", "delete"] as const;
export type MessagePolicy = (typeof MESSAGE_POLICIES)[number];

/** A host and port to listen on, parsed from "host:port", ":port" or "[v6]:port". */
export interface ListenAddress {
  host: string;
  port: number;
}

export const FLAG_GROUPS = {
  cluster: "Cluster and identity:",
  sqs: "Signals: SQS (EventBridge) queue:",
  otherSignals: "Signals: node annotation (and lifeboat agent), ASG lifecycle hooks:",
  rebalance: "Rebalance recommendations:",
  budgets: "Evacuation budgets and actions:",
  headroom: "Capacity: headroom, early node, pool steering:",
  leader: "Leader election:",
  endpoints: "Endpoints and logging:",
} as const;

// ---- coercion from the strings that flags and env vars carry -------------------------------------------

export function toNumber(raw: unknown): unknown {
  if (typeof raw !== "string") return raw;
  const text = raw.trim();
  return text === "" ? Number.NaN : Number(text);
}

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);

export function toBoolean(raw: unknown): unknown {
  if (typeof raw !== "string") return raw;
  const word = raw.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return raw;
}

/** "0.0.0.0:8080", ":8080" (all interfaces), "[::1]:8080", "localhost:0" (any free port). */
export function parseListenAddress(text: string): ListenAddress | null {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (match === null) return null;
  const port = Number(match[3]);
  if (!Number.isInteger(port) || port > 65535) return null;
  const host = match[1] ?? match[2] ?? "";
  return { host: host === "" ? "0.0.0.0" : host, port };
}

// ---- schema builders -----------------------------------------------------------------------------------

export const seconds = (opts: { min: number; exclusive?: boolean; max?: number; default: number }) => {
  let inner = opts.exclusive === true ? z.number().gt(opts.min) : z.number().min(opts.min);
  if (opts.max !== undefined) inner = inner.max(opts.max);
  return z.preprocess(toNumber, inner).default(opts.default);
};

export const integer = (opts: { min: number; max: number; default: number }) =>
  z.preprocess(toNumber, z.number().int().min(opts.min).max(opts.max)).default(opts.default);

export const boolean = (defaultValue: boolean) => z.preprocess(toBoolean, z.boolean()).default(defaultValue);

export const httpUrl = () => z.url({ protocol: /^https?$/ });

export const listenAddress = (defaultText: string) =>
  z
    .string()
    .transform((text, ctx): ListenAddress => {
      const parsed = parseListenAddress(text);
      if (parsed === null) {
        ctx.addIssue({ code: "custom", message: "expected host:port with a port from 0 to 65535" });
        return z.NEVER;
      }
      return parsed;
    })
    .prefault(defaultText);

/** A Kubernetes quantity ("500m", "1", "2Gi") as a number of base units; "" (the default) means computed. */
export const quantityOrComputed = () =>
  z
    .string()
    .transform((text, ctx): number | null => {
      if (text.trim() === "") return null;
      const value = parseQuantity(text);
      if (value === null || value <= 0) {
        ctx.addIssue({ code: "custom", message: "not a quantity > 0" });
        return z.NEVER;
      }
      return value;
    })
    .prefault("");

export const nodeGroupMap = () =>
  z
    .string()
    .transform((text, ctx): NodeGroupPolicies => {
      const parsed = parseNodeGroupPolicies(text);
      if (!parsed.ok) {
        for (const problem of parsed.problems) ctx.addIssue({ code: "custom", message: problem });
        return z.NEVER;
      }
      return parsed.value;
    })
    .prefault("");

/** DNS-1123 label (namespaces) and subdomain (lease names). */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A label or taint key: optional DNS-subdomain prefix and "/", then a name of at most 63 characters. */
export const QUALIFIED_NAME =
  /^(?:(?=.{1,253}\/)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export interface FieldDoc {
  group: (typeof FLAG_GROUPS)[keyof typeof FLAG_GROUPS];
  /** Placeholder in `--help`, e.g. "<seconds>". Booleans take an optional value: `--dry-run[=true|false]`. */
  value: string;
  /** Completes "--flag must be ...", e.g. "a number >= 0". */
  expect: string;
  /** The default as a user would write it, or what happens when unset. */
  defaultText: string;
  /** What the field means. One or two sentences. */
  help: string;
}

export const field = <S extends z.ZodType>(schema: S, doc: FieldDoc) => ({ schema, doc });
