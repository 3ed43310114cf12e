/**
 * The lifecycle actuator against a loopback endpoint that records AWS Query calls (moto 5.2 lacks
 * RecordLifecycleActionHeartbeat and CompleteLifecycleAction).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { LifecycleHookRef } from "../../domain/notice.ts";
import { LifecycleActionError, LifecycleActuator } from "./lifecycle.ts";

const XMLNS = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

type Reply = { status: 200 } | { status: number; code: string; message: string };

/** Records each call's form parameters and answers with `reply(action)`. */
class RecordingAutoScaling implements AsyncDisposable {
  readonly calls: Record<string, string>[] = [];
  reply: (action: string) => Reply = () => ({ status: 200 });
  readonly #server: Server;

  private constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString("utf8")));
        this.calls.push(params);
        const action = params["Action"] ?? "";
        const r = this.reply(action);
        res.writeHead(r.status, { "content-type": "text/xml" });
        if ("code" in r) {
          res.end(
            `<ErrorResponse xmlns="${XMLNS}"><Error><Type>Sender</Type><Code>${r.code}</Code><Message>${r.message}</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`,
          );
          return;
        }
        res.end(
          `<${action}Response xmlns="${XMLNS}"><${action}Result/><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></${action}Response>`,
        );
      });
    });
  }

  static async start(): Promise<RecordingAutoScaling> {
    const aws = new RecordingAutoScaling();
    await new Promise<void>((resolve) => aws.#server.listen(0, "127.0.0.1", resolve));
    return aws;
  }

  get endpoint(): string {
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

const hook: LifecycleHookRef = {
  autoScalingGroupName: "eks-spot-a-1234",
  lifecycleHookName: "lifeboat-drain",
  lifecycleActionToken: "bcd2f1b8-9a78-44d3-8a7a-4dd07d7cf635",
  instanceId: "i-0123456789abcdef0",
};

function actuatorFor(endpoint: string): LifecycleActuator {
  return LifecycleActuator.create({
    region: "us-east-1",
    endpoint,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    maxAttempts: 1,
  });
}

describe("LifecycleActuator", () => {
  it("sends RecordLifecycleActionHeartbeat and CompleteLifecycleAction CONTINUE with the hook's identity", async () => {
    await using aws = await RecordingAutoScaling.start();
    const actuator = actuatorFor(aws.endpoint);
    assert.deepEqual(await actuator.heartbeat(hook), { kind: "done" });
    assert.deepEqual(await actuator.complete(hook, "CONTINUE"), { kind: "done" });
    actuator.destroy();
    const identity = {
      AutoScalingGroupName: hook.autoScalingGroupName,
      LifecycleHookName: hook.lifecycleHookName,
      LifecycleActionToken: hook.lifecycleActionToken,
      InstanceId: hook.instanceId,
      Version: "2011-01-01",
    };
    assert.deepEqual(aws.calls, [
      { Action: "RecordLifecycleActionHeartbeat", ...identity },
      { Action: "CompleteLifecycleAction", ...identity, LifecycleActionResult: "CONTINUE" },
    ]);
  });

  it("reports a finished or stale lifecycle action as gone, not as an error", async () => {
    await using aws = await RecordingAutoScaling.start();
    aws.reply = () => ({
      status: 400,
      code: "ValidationError",
      message: "No active Lifecycle Action found with token bcd2f1b8",
    });
    const actuator = actuatorFor(aws.endpoint);
    const outcome = await actuator.complete(hook, "CONTINUE");
    actuator.destroy();
    assert.equal(outcome.kind, "gone");
    assert.match(outcome.kind === "gone" ? outcome.reason : "", /No active Lifecycle Action/);
  });

  it("throws a typed error naming the hook for anything else", async () => {
    await using aws = await RecordingAutoScaling.start();
    aws.reply = () => ({
      status: 403,
      code: "AccessDenied",
      message: "not authorized to perform autoscaling:RecordLifecycleActionHeartbeat",
    });
    const actuator = actuatorFor(aws.endpoint);
    await assert.rejects(actuator.heartbeat(hook), (err: unknown) => {
      assert.ok(err instanceof LifecycleActionError);
      assert.equal(err.code, "AccessDenied");
      assert.equal(err.status, 403);
      assert.equal(err.action, "heartbeat");
      assert.match(err.message, /i-0123456789abcdef0.*lifeboat-drain.*eks-spot-a-1234.*AccessDenied/);
      return true;
    });
    actuator.destroy();
  });
});
