/**
 * The Controller's wiring, with nothing started and no cluster: which loops run on the leader, what a dry run
 * swaps, what the lease fence holds back, and that src/controller has no import circle. The writers are
 * driven against a loopback server that records every API server and AWS call it receives.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it, test } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { loadConfig } from "../config/load.ts";
import { FakeClock } from "../domain/clock.ts";
import { NotLeaderError } from "../leader/fence.ts";
import { silentLogger } from "../observability/logger.ts";
import { Metrics } from "../observability/metrics.ts";
import { Controller } from "./controller.ts";
import type { ControllerDeps } from "./deps.ts";
import { sqsConsumerOptions } from "./leader-work.ts";
import { wire } from "./wiring.ts";

/** One call the loopback server received: `PATCH /api/v1/nodes/n1`, or `aws RecordLifecycleActionHeartbeat`. */
interface Call {
  what: string;
  /** A Kubernetes request's JSON body. */
  body: Record<string, unknown> | null;
}

/**
 * Answers like an API server that knows no object (404) but takes Events (201), and like Auto Scaling (every
 * Query action succeeds), recording each call.
 */
class RecordingEndpoint implements AsyncDisposable {
  readonly calls: Call[] = [];
  readonly #server: Server;

  private constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const path = new URL(req.url ?? "/", "http://x").pathname;
        if (!path.startsWith("/api")) {
          const action = new URLSearchParams(text).get("Action") ?? "";
          this.calls.push({ what: `aws ${action}`, body: null });
          res.writeHead(200, { "content-type": "text/xml" });
          res.end(`<${action}Response><${action}Result/></${action}Response>`);
          return;
        }
        const body = text === "" ? null : (JSON.parse(text) as Record<string, unknown>);
        this.calls.push({ what: `${req.method ?? ""} ${path}`, body });
        const isEvent = req.method === "POST" && path.endsWith("/events");
        res.writeHead(isEvent ? 201 : 404, { "content-type": "application/json" });
        res.end(
          isEvent
            ? text
            : JSON.stringify({
                kind: "Status",
                apiVersion: "v1",
                status: "Failure",
                code: 404,
                reason: "NotFound",
              }),
        );
      });
    });
  }

  static async start(): Promise<RecordingEndpoint> {
    const endpoint = new RecordingEndpoint();
    await new Promise<void>((resolve) => endpoint.#server.listen(0, "127.0.0.1", resolve));
    return endpoint;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }
}

/** A controller's dependencies against `server` (API server and AWS endpoint), with `flags` set. */
function depsFor(server: string, flags: Record<string, unknown>): ControllerDeps {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    // Plain HTTP to the loopback server: the client allows it only with skipTLSVerify.
    clusters: [{ name: "c", server, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  const config = loadConfig(flags, {}, { hostname: () => "host-a", randomSuffix: () => "abc" });
  return { config, kubeConfig, clock: new FakeClock(), log: silentLogger(), metrics: new Metrics() };
}

const NO_CLUSTER = "https://127.0.0.1:1";

async function leaderGauge(flags: Record<string, unknown>): Promise<string | undefined> {
  const deps = depsFor(NO_CLUSTER, flags);
  new Controller(deps);
  return (await deps.metrics.render()).split("\n").find((l) => l.startsWith("lifeboat_leader "));
}

test("lifeboat_leader: 1 without leader election (the replica acts) and in a dry run; 0 until elected", async () => {
  assert.equal(await leaderGauge({ leaderElect: false }), "lifeboat_leader 1");
  assert.equal(await leaderGauge({ leaderElect: true }), "lifeboat_leader 0");
  assert.equal(await leaderGauge({ leaderElect: true, dryRun: true }), "lifeboat_leader 1");
});

describe("what runs on the leader", () => {
  const names = (flags: Record<string, unknown>): string[] =>
    new Controller(depsFor(NO_CLUSTER, flags)).leaderTasks().map((t) => t.name);

  it("the reconcile loop and the capacity keepers, then the annotation read and the SQS consumer", () => {
    assert.deepEqual(names({ queueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/q" }), [
      "reconcile",
      "headroom",
      "steering",
      "annotations",
      "sqs",
    ]);
  });

  it("no SQS consumer without --queue-url, no annotation read with --watch-node-annotation=false", () => {
    assert.deepEqual(names({ watchNodeAnnotation: false }), ["reconcile", "headroom", "steering"]);
  });

  it("a dry run consumes the queue but deletes no message", () => {
    const options = (dryRun: boolean): boolean | undefined =>
      sqsConsumerOptions(depsFor(NO_CLUSTER, { dryRun }).config, () => Promise.resolve()).deleteMessages;
    assert.equal(options(false), true);
    assert.equal(options(true), false);
  });
});

describe("what reaches the API server and AWS", () => {
  let endpoint: RecordingEndpoint;
  before(async () => {
    // The AWS SDK signs every call: loopback credentials, never looked up anywhere else.
    process.env["AWS_ACCESS_KEY_ID"] = "testing";
    process.env["AWS_SECRET_ACCESS_KEY"] = "testing";
    endpoint = await RecordingEndpoint.start();
  });
  after(async () => {
    await endpoint[Symbol.asyncDispose]();
  });

  const hook = {
    autoScalingGroupName: "asg-a",
    lifecycleHookName: "drain",
    lifecycleActionToken: "token-1",
    instanceId: "i-0123456789abcdef0",
  };

  /** Every writer of a controller built with `flags` writes once; returns the calls received, and the reasons of the Events. */
  async function writeOnce(flags: Record<string, unknown>): Promise<{ calls: string[]; reasons: unknown[] }> {
    endpoint.calls.length = 0;
    const { writers, elector } = wire(depsFor(endpoint.url, { awsEndpoint: endpoint.url, ...flags }));
    assert.ok(writers.lifecycle !== null, "an AWS endpoint is configured: lifecycle hooks are served");
    const settle = async (write: () => Promise<unknown>): Promise<void> => {
      try {
        await write();
      } catch (err) {
        // A 404 from the loopback server is an answer; only the fence may refuse otherwise.
        if (elector !== null) assert.ok(err instanceof NotLeaderError, String(err));
      }
    };
    await settle(() =>
      writers.actuator.cordon("n1", { taintKey: "lifeboat.dev/evacuating", excludeFromLb: true }),
    );
    await settle(() => writers.store.delete("evac-1"));
    await settle(() => writers.lifecycle?.heartbeat(hook) ?? Promise.resolve());
    writers.events.emit({
      object: { kind: "Node", name: "n1" },
      type: "Normal",
      reason: "Cordoned",
      message: "m",
    });
    await writers.events.flush();
    return {
      calls: [...new Set(endpoint.calls.map((c) => c.what))].sort(),
      reasons: endpoint.calls.filter((c) => c.what.endsWith("/events")).map((c) => c.body?.["reason"]),
    };
  }

  it("a real run cordons, deletes, heartbeats and records Events through the API server and AWS", async () => {
    assert.deepEqual(await writeOnce({ leaderElect: false }), {
      calls: [
        "DELETE /apis/lifeboat.dev/v1alpha1/evacuations/evac-1",
        "GET /api/v1/nodes/n1",
        "POST /api/v1/namespaces/default/events",
        "aws RecordLifecycleActionHeartbeat",
      ],
      reasons: ["Cordoned"],
    });
  });

  it("a dry run writes nothing but DryRun Events, and runs without a Lease even when asked for one", async () => {
    assert.deepEqual(await writeOnce({ leaderElect: true, dryRun: true }), {
      calls: ["POST /api/v1/namespaces/default/events"],
      reasons: ["DryRun"],
    });
  });

  it("with leader election, a replica not elected writes nothing through the fence (Events are not fenced)", async () => {
    assert.deepEqual(await writeOnce({ leaderElect: true }), {
      calls: ["POST /api/v1/namespaces/default/events"],
      reasons: ["Cordoned"],
    });
  });
});

test("src/controller has no import circle", () => {
  const dir = import.meta.dirname;
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"));
  const imports = new Map(
    files.map((f) => [
      f,
      [...readFileSync(join(dir, f), "utf8").matchAll(/(?:from|import) "\.\/([^"]+\.ts)"/g)].map(
        (m) => m[1] ?? "",
      ),
    ]),
  );
  const path: string[] = [];
  const done = new Set<string>();
  const visit = (file: string): void => {
    assert.ok(
      !path.includes(file),
      `import circle: ${[...path.slice(path.indexOf(file)), file].join(" -> ")}`,
    );
    if (done.has(file)) return;
    path.push(file);
    for (const next of imports.get(file) ?? []) visit(next);
    path.pop();
    done.add(file);
  };
  for (const file of files) visit(file);
  assert.ok(imports.get("capacity.ts")?.includes("deps.ts"), "the scan reads the imports");
});
