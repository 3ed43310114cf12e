/**
 * Auto Scaling lifecycle hooks: keep the terminate hook alive while an evacuation runs (heartbeat), and let
 * the instance go (complete with CONTINUE) when it is done.
 *
 * moto (the lab's AWS emulator, 5.2.x) implements PutLifecycleHook/DescribeLifecycleHooks but not
 * RecordLifecycleActionHeartbeat nor CompleteLifecycleAction; the tests point the client at a loopback
 * endpoint that records the calls instead.
 */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeLifecycleHooksCommand,
  RecordLifecycleActionHeartbeatCommand,
  type AutoScalingClientConfig,
} from "@aws-sdk/client-auto-scaling";
import type { LifecycleHookRef } from "../../domain/notice.ts";

export type LifecycleResult = "CONTINUE" | "ABANDON";

/**
 * `done`: AWS accepted the call. `gone`: the lifecycle action no longer exists (completed already, timed out,
 * or the token is stale): nothing left to heartbeat or complete, which the caller treats as done.
 */
export type LifecycleOutcome = { kind: "done" } | { kind: "gone"; reason: string };

/** A lifecycle call AWS refused for another reason (throttling, permissions, endpoint unreachable). */
export class LifecycleActionError extends Error {
  override readonly name = "LifecycleActionError";
  readonly action: "heartbeat" | "complete";
  readonly hook: LifecycleHookRef;
  /** AWS error code (e.g. `AccessDenied`, `Throttling`); null when AWS was not reached. */
  readonly code: string | null;
  readonly status: number | null;

  constructor(
    action: "heartbeat" | "complete",
    hook: LifecycleHookRef,
    code: string | null,
    status: number | null,
    detail: string,
    cause: unknown,
  ) {
    super(
      `cannot ${action} lifecycle action of ${hook.instanceId} (hook ${hook.lifecycleHookName} on ${hook.autoScalingGroupName}): ` +
        `${code ?? "unreachable"}${status === null ? "" : ` (HTTP ${status})`}: ${detail}`,
      { cause },
    );
    this.action = action;
    this.hook = hook;
    this.code = code;
    this.status = status;
  }
}

export interface LifecycleActuatorLike {
  heartbeat(hook: LifecycleHookRef): Promise<LifecycleOutcome>;
  complete(hook: LifecycleHookRef, result: LifecycleResult): Promise<LifecycleOutcome>;
}

export class LifecycleActuator implements LifecycleActuatorLike {
  readonly #client: AutoScalingClient;

  constructor(client: AutoScalingClient) {
    this.#client = client;
  }

  /** A client for `region`, pointed at `endpoint` when given (moto, or a test's recording server). */
  static create(
    config: Pick<AutoScalingClientConfig, "region" | "endpoint" | "credentials" | "maxAttempts">,
  ): LifecycleActuator {
    return new LifecycleActuator(new AutoScalingClient(config));
  }

  async heartbeat(hook: LifecycleHookRef): Promise<LifecycleOutcome> {
    try {
      await this.#client.send(
        new RecordLifecycleActionHeartbeatCommand({
          AutoScalingGroupName: hook.autoScalingGroupName,
          LifecycleHookName: hook.lifecycleHookName,
          LifecycleActionToken: hook.lifecycleActionToken,
          InstanceId: hook.instanceId,
        }),
      );
      return { kind: "done" };
    } catch (err) {
      return gone(err) ?? raise("heartbeat", hook, err);
    }
  }

  async complete(hook: LifecycleHookRef, result: LifecycleResult): Promise<LifecycleOutcome> {
    try {
      await this.#client.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: hook.autoScalingGroupName,
          LifecycleHookName: hook.lifecycleHookName,
          LifecycleActionToken: hook.lifecycleActionToken,
          InstanceId: hook.instanceId,
          LifecycleActionResult: result,
        }),
      );
      return { kind: "done" };
    } catch (err) {
      return gone(err) ?? raise("complete", hook, err);
    }
  }

  destroy(): void {
    this.#client.destroy();
  }
}

interface AwsErrorShape {
  name?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** AWS answers a stale or finished lifecycle action with ValidationError "No active Lifecycle Action found ...". */
function gone(err: unknown): LifecycleOutcome | null {
  const e = err as AwsErrorShape;
  const message = typeof e.message === "string" ? e.message : "";
  if (e.name === "ValidationError" && /no active lifecycle action/i.test(message))
    return { kind: "gone", reason: message };
  return null;
}

function raise(action: "heartbeat" | "complete", hook: LifecycleHookRef, err: unknown): never {
  const e = err as AwsErrorShape;
  const status = typeof e.$metadata?.httpStatusCode === "number" ? e.$metadata.httpStatusCode : null;
  const code = status === null ? null : typeof e.name === "string" ? e.name : "Unknown";
  const message = typeof e.message === "string" ? e.message : String(err);
  throw new LifecycleActionError(action, hook, code, status, message, err);
}

/**
 * The heartbeat timeout of a lifecycle hook (DescribeLifecycleHooks, cached per group and hook): the
 * lifecycle message carries none, and it is when the ASG goes on with the hook's default result if nobody
 * heartbeats or completes. Read-only (allowed in a dry run, not fenced). Null when it cannot be read
 * (missing autoscaling:DescribeLifecycleHooks, hook gone, AWS unreachable): the caller falls back.
 */
export class LifecycleHookTimeouts {
  readonly #client: AutoScalingClient;
  readonly #cache = new Map<string, number>();

  constructor(client: AutoScalingClient) {
    this.#client = client;
  }

  async heartbeatTimeoutSeconds(
    hook: Pick<LifecycleHookRef, "autoScalingGroupName" | "lifecycleHookName">,
  ): Promise<{ kind: "found"; seconds: number } | { kind: "unknown"; reason: string }> {
    const key = `${hook.autoScalingGroupName}/${hook.lifecycleHookName}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined) return { kind: "found", seconds: cached };
    try {
      const out = await this.#client.send(
        new DescribeLifecycleHooksCommand({
          AutoScalingGroupName: hook.autoScalingGroupName,
          LifecycleHookNames: [hook.lifecycleHookName],
        }),
      );
      const seconds = out.LifecycleHooks?.find(
        (h) => h.LifecycleHookName === hook.lifecycleHookName,
      )?.HeartbeatTimeout;
      if (seconds === undefined || seconds <= 0)
        return { kind: "unknown", reason: `DescribeLifecycleHooks found no hook ${key}` };
      this.#cache.set(key, seconds);
      return { kind: "found", seconds };
    } catch (err) {
      const e = err as AwsErrorShape;
      return {
        kind: "unknown",
        reason: `DescribeLifecycleHooks ${key} failed: ${typeof e.name === "string" ? `${e.name}: ` : ""}${typeof e.message === "string" ? e.message : String(err)}`,
      };
    }
  }
}
