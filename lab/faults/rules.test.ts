import assert from "node:assert/strict";
import { test } from "node:test";
import { awsRequestInfo, decide, kubeRequestInfo, type FaultRule, type RuleState } from "./rules.ts";

test("kubeRequestInfo reads verb, resource, subresource, namespace and name like the API server", () => {
  const cases: [string, string, Partial<ReturnType<typeof kubeRequestInfo>>][] = [
    ["GET", "/api/v1/nodes", { verb: "list", resource: "nodes", namespace: null, name: null }],
    ["GET", "/api/v1/nodes?watch=1&resourceVersion=5", { verb: "watch", resource: "nodes" }],
    ["PATCH", "/api/v1/nodes/n1", { verb: "patch", resource: "nodes", name: "n1" }],
    [
      "PUT",
      "/apis/apps/v1/namespaces/default/deployments/web/scale",
      { verb: "update", resource: "deployments/scale", namespace: "default", name: "web" },
    ],
    [
      "PUT",
      "/apis/lifeboat.dev/v1alpha1/evacuations/e1/status",
      { verb: "update", resource: "evacuations/status", namespace: null, name: "e1" },
    ],
    [
      "POST",
      "/api/v1/namespaces/default/pods/p1/eviction",
      { verb: "create", resource: "pods/eviction", namespace: "default", name: "p1" },
    ],
    ["GET", "/api/v1/namespaces/default", { verb: "get", resource: "namespaces", name: "default" }],
    ["DELETE", "/api/v1/namespaces/x/pods", { verb: "deletecollection", resource: "pods", namespace: "x" }],
    ["GET", "/readyz", { verb: "get", resource: "" }],
  ];
  for (const [method, url, want] of cases) {
    const got = kubeRequestInfo(method, url);
    for (const [k, v] of Object.entries(want))
      assert.equal(got[k as keyof typeof got], v, `${method} ${url}: ${k}`);
  }
});

test("awsRequestInfo reads the action from X-Amz-Target (JSON) or Action= (query protocol)", () => {
  assert.equal(
    awsRequestInfo("POST", "/", { "x-amz-target": "AmazonSQS.DeleteMessage" }, "{}").action,
    "DeleteMessage",
  );
  assert.equal(
    awsRequestInfo("POST", "/", {}, "Action=CompleteLifecycleAction&Version=2011-01-01").action,
    "CompleteLifecycleAction",
  );
  assert.equal(awsRequestInfo("GET", "/?Action=ListQueues", {}, "").action, "ListQueues");
});

test("a rule fails after N matching requests, at most `times`, and only within `forMs` of its first failure", () => {
  const info = kubeRequestInfo("PUT", "/apis/lifeboat.dev/v1alpha1/evacuations/e1/status");
  const other = kubeRequestInfo("GET", "/apis/lifeboat.dev/v1alpha1/evacuations/e1");
  const rule: FaultRule = {
    match: { verb: "update", resource: "evacuations/status" },
    fault: { kind: "status", status: 500 },
    after: 1,
    times: 2,
  };
  const state: RuleState = { matched: 0, failed: 0, firstFailureAt: null };
  assert.deepEqual(
    [info, other, info, info, info].map((i) => decide(rule, state, i, 0)),
    [false, false, true, true, false],
  );
  assert.equal(state.matched, 4);

  const windowed: FaultRule = { match: { resource: "*" }, fault: { kind: "reset" }, forMs: 1000 };
  const w: RuleState = { matched: 0, failed: 0, firstFailureAt: null };
  assert.deepEqual(
    [100, 600, 1099, 1100, 5000].map((t) => decide(windowed, w, other, t)),
    [true, true, true, false, false],
  );
});
