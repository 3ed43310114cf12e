import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ApiException } from "@kubernetes/client-node";
import { RecordingLogger } from "../cluster/logger.ts";
import type { KubeActuator } from "./kube-actuator.ts";
import { withDryRun } from "./dry-run.ts";
import { isConflict, isForbidden, isNotFound, isTooManyRequests, toKubeApiError } from "./kube/errors.ts";

/** An actuator that fails the test if anything reaches it. */
const untouchable: KubeActuator = new Proxy({} as KubeActuator, {
  get: (_t, prop) => () => Promise.reject(new Error(`dry run reached the real actuator: ${String(prop)}`)),
});

describe("withDryRun", () => {
  it("answers every write with its success outcome and logs what it would do, calling nothing", async () => {
    const log = new RecordingLogger();
    const dry = withDryRun(untouchable, log);
    const pod = { namespace: "shop", name: "web-1" };
    assert.deepEqual(await dry.cordon("n1", { taintKey: "lifeboat.dev/evacuating", excludeFromLb: true }), {
      kind: "done",
      changed: true,
    });
    assert.deepEqual(await dry.taintPreferNoSchedule("n1", "lifeboat.dev/evacuating"), {
      kind: "done",
      changed: true,
    });
    assert.deepEqual(await dry.taintOutOfService("n1"), { kind: "done", changed: true });
    assert.deepEqual(await dry.uncordon("n1", "lifeboat.dev/evacuating"), { kind: "done", changed: true });
    assert.deepEqual(await dry.setDeletionCost(pod, -100), { kind: "patched" });
    assert.deepEqual(await dry.evict(pod), { kind: "evicted" });
    assert.deepEqual(await dry.forceDelete(pod), { kind: "deleted" });
    assert.deepEqual(await dry.deletePod(pod), { kind: "deleted" });
    assert.deepEqual(log.messages("info"), [
      "dry run: would cordon node n1 (taint lifeboat.dev/evacuating:NoSchedule, exclude from load balancers)",
      "dry run: would taint node n1 with lifeboat.dev/evacuating:PreferNoSchedule",
      "dry run: would taint-out-of-service node n1 with node.kubernetes.io/out-of-service:NoExecute",
      "dry run: would uncordon node n1",
      "dry run: would set-deletion-cost pod shop/web-1 pod-deletion-cost=-100",
      "dry run: would evict pod shop/web-1",
      "dry run: would force-delete pod shop/web-1 (grace period 0)",
      "dry run: would delete pod shop/web-1",
    ]);
  });
});

describe("error predicates", () => {
  const status = (code: number, message: string): ApiException<string> =>
    new ApiException(code, "Unknown API Status Code!", JSON.stringify({ kind: "Status", message, code }), {
      "retry-after": "3",
    });

  it("classify client-node ApiExceptions and our wrapped errors alike", () => {
    assert.ok(isNotFound(status(404, 'pods "x" not found')));
    assert.ok(isConflict(status(409, "conflict")));
    assert.ok(isTooManyRequests(status(429, "throttled")));
    assert.ok(isForbidden(status(403, "forbidden")));
    assert.ok(!isNotFound(new Error("socket hang up")));
    const wrapped = toKubeApiError(
      status(403, 'nodes "n1" is forbidden: User "x" cannot patch resource "nodes"'),
      "cordon",
      "node/n1",
    );
    assert.ok(isForbidden(wrapped));
    assert.equal(wrapped.kind, "forbidden");
    assert.equal(wrapped.retryAfterSeconds, 3);
    assert.match(
      wrapped.message,
      /^forbidden: cannot cordon node\/n1 \(HTTP 403\): nodes "n1" is forbidden.*RBAC/,
    );
    const net = toKubeApiError(
      new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED 127.0.0.1:1") }),
      "get",
      "node/n1",
    );
    assert.equal(net.kind, "unreachable");
    assert.match(net.message, /ECONNREFUSED/);
  });
});
