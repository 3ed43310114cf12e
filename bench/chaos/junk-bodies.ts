/**
 * The chaos bench's junk: SQS bodies a production queue receives besides real notices (duplicates, replays
 * out of order, malformed JSON, wrong types, 256 KiB bodies, unknown kinds, foreign instances), each drawn
 * from the run's seeded sequence.
 */
import {
  rebalanceRecommendation,
  spotInterruptionWarning,
  stateChange,
  type Ec2State,
} from "../../lab/cloud/messages.ts";
import { REGION } from "../../lab/harness/env.ts";
import type { Random } from "./random.ts";

export type JunkKind =
  | "duplicate warning (node already reclaimed)"
  | "state-change replayed before its warning"
  | "malformed JSON"
  | "wrong types"
  | "256 KiB body"
  | "unknown event kind"
  | "foreign instance: spot warning"
  | "foreign instance: rebalance"
  | "foreign instance: state change"
  | "live node: state change running/pending";

/** SQS's largest message body. */
export const SQS_MAX_BYTES = 262_144;

export function randomInstanceId(rng: Random): string {
  let id = "i-0f";
  for (let i = 0; i < 15; i++) id += Math.floor(rng.next() * 16).toString(16);
  return id;
}

/** One junk body of `kind`. `reclaimed` are the instances phase 1 reclaimed; `live` the ones still running. */
export function junkBody(
  rng: Random,
  kind: JunkKind,
  reclaimed: readonly string[],
  live: readonly string[],
  at: Date,
): string {
  const ref = (instanceId: string): { instanceId: string; region: string } => ({
    instanceId,
    region: REGION,
  });
  switch (kind) {
    case "duplicate warning (node already reclaimed)":
      return JSON.stringify(spotInterruptionWarning(ref(rng.pick(reclaimed)), at));
    case "state-change replayed before its warning": {
      const state: Ec2State = rng.pick(["terminated", "shutting-down", "stopping", "stopped"]);
      return JSON.stringify(stateChange(ref(rng.pick(reclaimed)), at, state));
    }
    case "malformed JSON":
      return rng.pick([
        '{"version":"0","detail-type":',
        "not json at all",
        "{}}",
        '{"detail":{"instance-id":"i-',
      ]);
    case "wrong types": {
      const event = spotInterruptionWarning(ref(rng.pick(live)), at) as unknown as Record<string, unknown>;
      const mangled = rng.pick([
        { ...event, detail: { "instance-id": 42, "instance-action": "terminate" } },
        { ...event, time: "yesterday" },
        { ...event, detail: null },
        { ...event, "detail-type": ["EC2 Spot Instance Interruption Warning"] },
        [event],
        '"a string"',
      ]);
      return typeof mangled === "string" ? mangled : JSON.stringify(mangled);
    }
    case "256 KiB body": {
      const event = spotInterruptionWarning(ref(randomInstanceId(rng)), at);
      const base = JSON.stringify({ ...event, padding: "" });
      return JSON.stringify({ ...event, padding: "x".repeat(SQS_MAX_BYTES - base.length) });
    }
    case "unknown event kind":
      return JSON.stringify({
        version: "0",
        id: `junk-${Math.floor(rng.next() * 1e9)}`,
        "detail-type": rng.pick(["EC2 AMI State Change", "Scheduled Event", "EBS Volume Notification"]),
        source: rng.pick(["aws.ec2", "aws.ebs", "aws.events"]),
        account: "123456789012",
        time: at.toISOString().replace(/\.\d{3}Z$/, "Z"),
        region: REGION,
        resources: [],
        detail: {},
      });
    case "foreign instance: spot warning":
      return JSON.stringify(spotInterruptionWarning(ref(randomInstanceId(rng)), at));
    case "foreign instance: rebalance":
      return JSON.stringify(rebalanceRecommendation(ref(randomInstanceId(rng)), at));
    case "foreign instance: state change":
      return JSON.stringify(
        stateChange(ref(randomInstanceId(rng)), at, rng.pick(["shutting-down", "terminated"])),
      );
    case "live node: state change running/pending":
      return JSON.stringify(stateChange(ref(rng.pick(live)), at, rng.pick(["running", "pending"])));
  }
}

/** The mix, by weight: 256 KiB bodies are 1 in 100 (each is a quarter megabyte through moto). */
const JUNK_MIX: readonly [JunkKind, number][] = [
  ["duplicate warning (node already reclaimed)", 12],
  ["state-change replayed before its warning", 12],
  ["malformed JSON", 12],
  ["wrong types", 12],
  ["256 KiB body", 1],
  ["unknown event kind", 11],
  ["foreign instance: spot warning", 10],
  ["foreign instance: rebalance", 10],
  ["foreign instance: state change", 10],
  ["live node: state change running/pending", 10],
];

export function pickJunk(rng: Random): JunkKind {
  const total = JUNK_MIX.reduce((n, [, w]) => n + w, 0);
  let r = rng.next() * total;
  for (const [kind, w] of JUNK_MIX) {
    r -= w;
    if (r < 0) return kind;
  }
  return "malformed JSON";
}
