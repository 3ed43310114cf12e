/**
 * The `nth` handlers' configuration against NTH's own Helm chart at the pinned version, read from the Go module
 * cache that lab/setup/build-nth.sh fills (the module zip carries config/helm): the environment is the chart's
 * queue-processor Deployment with its defaults, the ClusterRole is the chart's, and the lab's changes are the
 * listed ones only.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import {
  chartEnv,
  LAB_OVERRIDES,
  nthClusterRoleRules,
  nthEnv,
  nthVersion,
  TUNED_VALUES,
  type NthAws,
} from "./nth.ts";

const AWS: NthAws = {
  queueUrl: "http://127.0.0.1:5000/123456789012/lab-spot-events",
  region: "us-east-1",
  endpoint: "http://127.0.0.1:5000",
  accessKeyId: "testing",
  secretAccessKey: "testing",
};

function chartDir(): string {
  const modcache = execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).trim();
  const dir = join(
    modcache,
    `github.com/aws/aws-node-termination-handler@${nthVersion()}`,
    "config/helm/aws-node-termination-handler",
  );
  assert.ok(existsSync(dir), `NTH's chart not in the Go module cache at ${dir}: run lab/setup/build-nth.sh`);
  return dir;
}

function valueAt(values: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], values);
}

/**
 * The unconditional `- name: X` / `value: {{ .Values.a.b | quote }}` or `value: "literal"` pairs of the
 * Deployment template: those inside the file's own `if enableSqsTerminationDraining` and no other if/with.
 */
function templateEnv(template: string): { name: string; value: { values: string } | { literal: string } }[] {
  const out: { name: string; value: { values: string } | { literal: string } }[] = [];
  const lines = template.split("\n");
  let depth = 0;
  for (const [i, line] of lines.entries()) {
    depth += (line.match(/\{\{-? (if|with|range) /g) ?? []).length;
    depth -= (line.match(/\{\{-? end -?\}\}/g) ?? []).length;
    const name = /^\s*- name: ([A-Z_]+)\s*$/.exec(line)?.[1];
    const next = lines[i + 1] ?? "";
    if (name === undefined || depth !== 1) continue;
    const fromValues = /^\s*value: \{\{ \.Values\.([\w.]+) \| quote \}\}\s*$/.exec(next)?.[1];
    const literal = /^\s*value: "([^"]*)"\s*$/.exec(next)?.[1];
    if (fromValues !== undefined) out.push({ name, value: { values: fromValues } });
    else if (literal !== undefined) out.push({ name, value: { literal } });
  }
  return out;
}

test("nth's environment is the chart's queue-processor Deployment with its defaults", () => {
  const dir = chartDir();
  const chart = parseYaml(readFileSync(join(dir, "Chart.yaml"), "utf8")) as { appVersion: string };
  assert.equal(`v${chart.appVersion}`, nthVersion());
  const values = parseYaml(readFileSync(join(dir, "values.yaml"), "utf8")) as unknown;
  const entries = templateEnv(readFileSync(join(dir, "templates/deployment.yaml"), "utf8"));
  const env = chartEnv(AWS);
  // Every unconditional variable of the template, with the default it renders.
  assert.ok(entries.length >= 25, `parsed ${entries.length} variables from the template`);
  for (const e of entries) {
    if (e.name === "QUEUE_URL") {
      assert.equal(env[e.name], AWS.queueUrl, "queueURL: the one value a user must set");
      continue;
    }
    const want = "values" in e.value ? String(valueAt(values, e.value.values)) : e.value.literal;
    assert.equal(env[e.name], want, `${e.name}: chart renders ${want}`);
  }
  // And nothing the template does not set, except the values a user must give (region, queue, endpoint).
  const template = readFileSync(join(dir, "templates/deployment.yaml"), "utf8");
  for (const name of Object.keys(env)) assert.match(template, new RegExp(`- name: ${name}\\b`), name);
});

test("the lab changes only its listed overrides; nth-tuned only its listed values", () => {
  const api = new URL("https://127.0.0.1:6443");
  const chart = chartEnv(AWS);
  const plain = nthEnv("nth", AWS, api);
  const tuned = nthEnv("nth-tuned", AWS, api);
  const changed = (env: Record<string, string>): string[] =>
    Object.keys(env)
      .filter((k) => env[k] !== chart[k])
      .sort();
  const lab = ["KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "PATH", ...Object.keys(LAB_OVERRIDES)];
  assert.deepEqual(changed(plain), [...lab].sort());
  assert.deepEqual(changed(tuned), [...lab, ...Object.keys(TUNED_VALUES)].sort());
  assert.equal(plain["KUBERNETES_SERVICE_HOST"], "127.0.0.1");
  assert.equal(plain["KUBERNETES_SERVICE_PORT"], "6443");
  assert.equal(plain["ENABLE_PROBES_SERVER"], "false");
  assert.equal(plain["ENABLE_PROMETHEUS_SERVER"], "false");
  assert.equal(tuned["TAINT_NODE"], "true");
  assert.equal(tuned["EXCLUDE_FROM_LOAD_BALANCERS"], "true");
});

test("nth's ClusterRole is the chart's (the events rule only with emitKubernetesEvents)", () => {
  const template = readFileSync(join(chartDir(), "templates/clusterrole.yaml"), "utf8");
  const withoutDirectives = template
    .split("\n")
    .filter((l) => !l.includes("{{"))
    .join("\n");
  const role = parseYaml(withoutDirectives) as { rules: unknown[] };
  assert.deepEqual(nthClusterRoleRules(true), role.rules);
  assert.deepEqual(
    nthClusterRoleRules(false),
    role.rules.filter((r) => !(r as { resources: string[] }).resources.includes("events")),
  );
});
