/**
 * `lifeboat agent`: one per node (a DaemonSet). Polls IMDSv2 on its own node (spot instance-action, rebalance
 * recommendation, scheduled events, Auto Scaling target lifecycle state) and hands each notice to the controller
 * through the node annotation `lifeboat.dev/evacuate` (../signals/imds/handoff.ts). The agent never evacuates:
 * it needs only `get` and `patch` on nodes, and no AWS permissions; the controller (leader) does the rest.
 *
 * Decide, then act: `decideHandoff` (pure) says whether the notice replaces what the annotation holds; the write is
 * a merge patch with the resourceVersion that was read, so a concurrent writer makes it retry on the next poll.
 */
import { PatchStrategy, setHeaderOptions, type CoreV1Api } from "@kubernetes/client-node";
import type { Clock } from "../domain/clock.ts";
import type { Notice } from "../domain/notice.ts";
import type { HealthReport } from "../observability/server.ts";
import { ImdsAgent, type ImdsAgentOptions } from "../signals/imds/agent.ts";
import { decideHandoff, type HandoffDecision } from "../signals/imds/handoff.ts";
import type { SignalLogger } from "../signals/logger.ts";
import { EVACUATE_ANNOTATION } from "../signals/manual/manual.ts";

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

export type NodeClient = Pick<CoreV1Api, "readNode" | "patchNode">;

export interface NodeAgentOptions {
  nodeName: string;
  imds: Omit<ImdsAgentOptions, "onPoll">;
  core: NodeClient;
  clock: Clock;
  log: SignalLogger;
}

/** What one handoff did, for logs and tests. */
export type HandoffResult = HandoffDecision & { noticeId: string };

export class NodeAgent {
  readonly #o: NodeAgentOptions;
  readonly #imds: ImdsAgent;
  readonly #startedAt: number;
  #lastPollAt: number | null = null;
  #lastPollError: string | null = null;
  readonly #pollMs: number;
  /** Every handoff decision so far (newest last), for tests and the startup log. */
  readonly handoffs: HandoffResult[] = [];

  constructor(options: NodeAgentOptions) {
    this.#o = options;
    this.#startedAt = options.clock.now();
    this.#pollMs = options.imds.pollIntervalMs ?? 5000;
    this.#imds = new ImdsAgent(
      {
        ...options.imds,
        onPoll: (result) => {
          this.#lastPollAt = this.#o.clock.now();
          this.#lastPollError = "error" in result ? String(result.error) : null;
        },
      },
      options.clock,
      options.log,
    );
  }

  /** Polls and hands notices over until `signal` aborts. Never rejects. */
  run(signal: AbortSignal): Promise<void> {
    this.#o.log.info(
      { node: this.#o.nodeName, pollMs: this.#pollMs },
      "polling the instance metadata service; notices go to the node annotation",
    );
    return this.#imds.run(async (notice) => {
      await this.handOff(notice);
    }, signal);
  }

  /** Writes `notice` into the node's annotation unless it already holds it or something more urgent. */
  async handOff(notice: Notice): Promise<HandoffResult> {
    const { core, nodeName, log } = this.#o;
    const node = await core.readNode({ name: nodeName });
    const current = node.metadata?.annotations?.[EVACUATE_ANNOTATION];
    const decision = decideHandoff(current, notice);
    const result: HandoffResult = { ...decision, noticeId: notice.id };
    if (decision.kind === "write") {
      await core.patchNode(
        {
          name: nodeName,
          body: {
            metadata: {
              resourceVersion: node.metadata?.resourceVersion,
              annotations: { [EVACUATE_ANNOTATION]: decision.value },
            },
          },
        },
        mergePatch,
      );
      log.info(
        { node: nodeName, notice: notice.id, kind: notice.kind, deadline: notice.deadline },
        `handed over to the controller: ${notice.summary} (${decision.reason})`,
      );
    } else {
      log.info({ node: nodeName, notice: notice.id }, `not handed over: ${decision.reason}`);
    }
    this.handoffs.push(result);
    return result;
  }

  /** Liveness: a poll finished recently. Readiness: the latest poll reached IMDS. */
  health(): HealthReport {
    const now = this.#o.clock.now();
    const maxAgeMs = Math.max(30_000, this.#pollMs * 6);
    const since = this.#lastPollAt ?? this.#startedAt;
    const age = now - since;
    const what = this.#lastPollAt === null ? "no poll yet, started" : "last poll";
    return {
      live:
        age <= maxAgeMs
          ? { ok: true, reason: `${what} ${(age / 1000).toFixed(1)}s ago` }
          : { ok: false, reason: `${what} ${(age / 1000).toFixed(1)}s ago: the poll loop is stuck` },
      ready:
        this.#lastPollAt === null
          ? { ok: false, reason: "IMDS not polled yet" }
          : this.#lastPollError === null
            ? { ok: true, reason: "IMDS answered the latest poll" }
            : { ok: false, reason: `latest IMDS poll failed: ${this.#lastPollError}` },
    };
  }
}
