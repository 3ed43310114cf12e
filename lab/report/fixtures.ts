/**
 * A report built from made-up observations shaped like a `seed` run (notice at 30 s, deadline at 150 s), for tests
 * and for looking at the HTML without running the lab: `node -e` it through writeReport.
 */
import type { HandlerObservations, ResponseSample } from "./summary.ts";
import { handlerReport } from "./summary.ts";
import type { LaneMark, NodeLane, ReadySample, Report } from "./types.ts";

export const SAMPLE_NODES = [
  "ip-10-0-1-11.us-east-1.compute.internal",
  "ip-10-0-2-12.us-east-1.compute.internal",
  "ip-10-0-3-13.us-east-1.compute.internal",
  "ip-10-0-4-14.us-east-1.compute.internal",
  "ip-10-0-5-15.us-east-1.compute.internal",
  "ip-10-0-6-16.us-east-1.compute.internal",
] as const;
const VICTIM = SAMPLE_NODES[0];
const REPLACEMENT = "ip-10-0-1-77.us-east-1.compute.internal";
const DURATION = 330;
const RPS = 40;

/** `RPS` responses per second; `status(t, i)` decides each one. */
function responses(status: (t: number, i: number) => number | "error"): ResponseSample[] {
  const out: ResponseSample[] = [];
  for (let t = 0; t < DURATION; t++)
    for (let i = 0; i < RPS; i++) out.push({ at: t + i / RPS, status: status(t, i) });
  return out;
}

function ready(at: (t: number) => number, desired = 4): ReadySample[] {
  return Array.from({ length: DURATION }, (_, t) => ({ t, ready: at(t), desired }));
}

function lanes(victimMarks: LaneMark[], victimTo: number): NodeLane[] {
  const groups = ["spot-a", "spot-a", "spot-b", "spot-b", "spot-c", "spot-c"];
  const zones = ["us-east-1a", "us-east-1a", "us-east-1b", "us-east-1b", "us-east-1c", "us-east-1c"];
  return [
    ...SAMPLE_NODES.map((node, i) => ({
      node,
      group: groups[i] ?? null,
      zone: zones[i] ?? null,
      from: 0,
      to: node === VICTIM ? victimTo : null,
      marks: node === VICTIM ? victimMarks : [],
    })),
    {
      node: REPLACEMENT,
      group: "spot-a",
      zone: "us-east-1a",
      from: 220,
      to: null,
      marks: [{ at: 220, kind: "joined" as const, detail: "asg-replacement" }],
    },
  ];
}

const base = { notice: { at: 30, kind: "notice" as const }, death: { at: 150, kind: "death" as const } };

export function sampleObservations(): HandlerObservations[] {
  return [
    {
      handler: "none",
      version: null,
      durationSeconds: DURATION,
      // One pod in four is on the dead node: its share fails until the health checks take it out.
      responses: responses((t, i) =>
        t >= 150 && t < 156 && i % 4 === 0 ? 502 : t >= 156 && t < 182 && i % 4 === 0 ? 504 : 200,
      ),
      ready: ready((t) => (t >= 190 && t < 300 ? 3 : 4)),
      evacuations: [
        {
          node: VICTIM,
          noticeAt: 30,
          deadline: 150,
          cordonedAt: null,
          replacementsReadyAt: 300,
          retiredAt: null,
          nodeDiedAt: 150,
        },
      ],
      nodes: lanes([base.notice, base.death, { at: 196, kind: "deleted" }], 196),
    },
    {
      handler: "nth",
      version: "aws-node-termination-handler v1.25.6",
      durationSeconds: DURATION,
      responses: responses((t, i) => (t >= 33 && t < 35 && i % 8 === 0 ? 502 : 200)),
      ready: ready((t) => (t >= 33 && t < 104 ? 3 : 4)),
      evacuations: [
        {
          node: VICTIM,
          noticeAt: 30,
          deadline: 150,
          cordonedAt: 33,
          replacementsReadyAt: 104,
          retiredAt: 54,
          nodeDiedAt: 150,
        },
      ],
      nodes: lanes(
        [
          base.notice,
          { at: 33, kind: "cordon" },
          { at: 34, kind: "surge", detail: "ReplicaSet replaced the evicted pod" },
          { at: 54, kind: "retired" },
          { at: 104, kind: "replacements-ready" },
          base.death,
        ],
        150,
      ),
    },
    {
      handler: "lifeboat",
      version: "lifeboat 0.1.0",
      durationSeconds: DURATION,
      responses: responses(() => 200),
      ready: ready((t) => (t >= 104 && t < 128 ? 5 : 4)),
      // A headroom placeholder of 1 CPU until the surge preempts it at 33 s, again once a node joined at 112 s.
      placeholders: [
        { t: 0, cpuMilli: 1000 },
        { t: 33, cpuMilli: 0 },
        { t: 112, cpuMilli: 1000 },
      ],
      evacuations: [
        {
          node: VICTIM,
          noticeAt: 30,
          deadline: 150,
          cordonedAt: 33,
          replacementsReadyAt: 104,
          retiredAt: 128,
          nodeDiedAt: 150,
        },
      ],
      nodes: lanes(
        [
          base.notice,
          { at: 33, kind: "cordon" },
          { at: 33, kind: "surge" },
          { at: 104, kind: "replacements-ready" },
          { at: 128, kind: "retired" },
          base.death,
        ],
        150,
      ),
    },
  ];
}

export function sampleReport(): Report {
  return { scenario: "seed", timeScale: 1, handlers: sampleObservations().map(handlerReport) };
}
