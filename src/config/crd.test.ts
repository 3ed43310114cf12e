import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { EVACUATION_CRD, EVACUATION_CRD_PATH } from "./crd-path.ts";
import { toResource } from "../state/evacuation-resource.ts";
import type { Evacuation } from "../domain/evacuation.ts";

interface Schema {
  type?: string;
  enum?: unknown[];
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
}

interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; shortNames: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: Record<string, unknown>;
      additionalPrinterColumns: { name: string; jsonPath: string; priority?: number }[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}

const crd = parse(readFileSync(EVACUATION_CRD_PATH, "utf8")) as Crd;
const version = crd.spec.versions[0]!;

/** Every problem that would make the API server reject `value` or silently prune part of it. */
function check(value: unknown, schema: Schema, path: string): string[] {
  const problems: string[] = [];
  if (schema.enum !== undefined && !schema.enum.includes(value))
    problems.push(`${path}: ${JSON.stringify(value)} not in enum`);
  switch (schema.type) {
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value))
        return [`${path}: not an object`];
      const record = value as Record<string, unknown>;
      for (const key of schema.required ?? [])
        if (!(key in record)) problems.push(`${path}.${key}: required but missing`);
      if (schema.properties === undefined) break;
      for (const [key, child] of Object.entries(record)) {
        const childSchema = schema.properties[key];
        if (childSchema === undefined) {
          if (schema["x-kubernetes-preserve-unknown-fields"] !== true)
            problems.push(`${path}.${key}: would be pruned`);
          continue;
        }
        problems.push(...check(child, childSchema, `${path}.${key}`));
      }
      break;
    }
    case "array":
      if (!Array.isArray(value)) return [`${path}: not an array`];
      value.forEach((item, i) => problems.push(...check(item, schema.items ?? {}, `${path}[${i}]`)));
      break;
    case "string":
      if (typeof value !== "string") problems.push(`${path}: not a string`);
      break;
    case "integer":
      if (!Number.isInteger(value)) problems.push(`${path}: not an integer`);
      break;
    case "number":
      if (typeof value !== "number") problems.push(`${path}: not a number`);
      break;
    case "boolean":
      if (typeof value !== "boolean") problems.push(`${path}: not a boolean`);
      break;
  }
  return problems;
}

function evacuation(overrides: Partial<Evacuation> = {}): Evacuation {
  const t = Date.parse("2026-11-24T12:00:00Z");
  return {
    name: "ip-10-0-1-7-spot-abc",
    nodeName: "ip-10-0-1-7.ec2.internal",
    instanceId: "i-0123456789abcdef0",
    mode: "evacuate",
    noticeIds: ["e1", "e2"],
    noticeKind: "spot-interruption",
    deadline: t + 120_000,
    certainDeadline: t + 120_000,
    noticedAt: t,
    phase: "Retiring",
    surges: [
      {
        workload: { kind: "Deployment", namespace: "shop", name: "web" },
        pods: ["web-1", "web-2"],
        by: 2,
        issuedAt: t + 1500,
        retiredAt: t + 60_000,
      },
    ],
    evictions: [{ pod: { namespace: "db", name: "pg-0" }, at: t + 70_000, outcome: "blocked-by-pdb" }],
    timeline: {
      noticedAt: t,
      cordonedAt: t + 400,
      surgeCreatedAt: t + 1500,
      replacementsReadyAt: t + 50_000,
      retiredAt: t + 60_000,
      doneAt: t + 80_000,
    },
    instanceGone: false,
    instanceState: null,
    ...overrides,
  };
}

test("the CRD is lifeboat.dev/v1alpha1 Evacuation, cluster-scoped, with a status subresource", () => {
  assert.equal(crd.metadata.name, EVACUATION_CRD.name);
  assert.equal(crd.spec.group, EVACUATION_CRD.group);
  assert.equal(crd.spec.scope, "Cluster");
  assert.equal(crd.spec.names.kind, EVACUATION_CRD.kind);
  assert.equal(crd.spec.names.plural, EVACUATION_CRD.plural);
  assert.deepEqual(crd.spec.names.shortNames, ["evac"]);
  assert.equal(version.name, EVACUATION_CRD.version);
  assert.ok(version.served && version.storage);
  assert.deepEqual(version.subresources, { status: {} });
});

test("kubectl get shows Node, Phase, Deadline, Slack and Age by default", () => {
  const defaults = version.additionalPrinterColumns
    .filter((c) => c.priority === undefined)
    .map((c) => `${c.name}=${c.jsonPath}`);
  assert.deepEqual(defaults, [
    "Node=.spec.nodeName",
    "Phase=.status.phase",
    "Deadline=.spec.deadline",
    "Slack=.status.slackSeconds",
    "Age=.metadata.creationTimestamp",
  ]);
});

test("what the state module writes is accepted whole: nothing rejected, nothing pruned", () => {
  const schema = version.schema.openAPIV3Schema;
  const stored = { lifecycleHook: null, message: "retiring 2 pods", resourceVersion: undefined };
  const full = toResource({ evacuation: evacuation(), ...stored }, Date.parse("2026-11-24T12:01:30Z"));
  assert.deepEqual(check(JSON.parse(JSON.stringify(full)), schema, ""), []);
  const withHook = toResource(
    {
      ...stored,
      evacuation: evacuation({
        instanceId: null,
        deadline: null,
        mode: "prewarm",
        noticeKind: "asg-lifecycle-terminate",
        phase: "Pending",
        surges: [],
        evictions: [],
        timeline: { noticedAt: 0 },
      }),
      lifecycleHook: {
        autoScalingGroupName: "asg",
        lifecycleHookName: "hook",
        lifecycleActionToken: "tok",
        instanceId: "i-1",
      },
    },
    0,
  );
  assert.deepEqual(check(JSON.parse(JSON.stringify(withHook)), schema, ""), []);
});

test("the checker itself catches pruned fields and bad enums", () => {
  const schema = version.schema.openAPIV3Schema;
  const bad = {
    spec: { nodeName: "n", mode: "yolo", noticeKind: "manual", noticeIds: [], noticedAt: "x", extra: 1 },
  };
  assert.deepEqual(check(bad, schema, ""), [
    '.spec.mode: "yolo" not in enum',
    ".spec.extra: would be pruned",
  ]);
});
